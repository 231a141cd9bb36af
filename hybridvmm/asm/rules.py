"""What an ISA's ``[system.asm]`` table tells the assembler (documented in FORMAT.md).

Three things GNU-style sources need that the instruction templates and ``[aliases]``
cannot say, kept as data so that the assembler core names no ISA:

- ``operators``: relocation operators ``%name(expr)`` (RISC-V ``%hi``, ``%lo``,
  ``%pcrel_hi``, ``%pcrel_lo``) as expressions over ``x`` (the argument) and ``pc`` (the
  address of the instruction they appear in).  One that ``pairs_with`` another takes a
  label naming the instruction that holds that other operator, and is computed from
  *its* argument and address (``%pcrel_lo(1b)`` completes the ``%pcrel_hi`` at ``1b``).
- ``pseudo``: pseudo-instructions whose expansion depends on an operand's value (GNU's
  ``li``): named values (``let``), an allowed ``range``, and ``rules`` tried in order,
  each a condition and an expansion.
- ``align = "power-of-two"``: ``.align N`` means 2**N bytes, as GNU as has it on RISC-V
  (otherwise N bytes); ``code_fill``: the units (hex bytes, smallest first) that pad a
  code section — each used as often as it takes to make the rest a multiple of the
  next one's size, the last repeated; ``code_align_min``: in a code section an
  alignment (without a fill value) to at most this many bytes does nothing, as in GNU as
  on RISC-V, which takes code to stay aligned by itself; ``options``: the ``.option``
  words that leave the bytes alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hybridvmm.asm.expr import Expr, ExprError
from hybridvmm.errors import SpecError
from hybridvmm.isa.spec import ISA, TEMPLATE_OPERAND

_CLAUSE = re.compile(r"^(.*?)(==|!=)(.*)$")


@dataclass(frozen=True)
class Operator:
    """``%name(x)``: its value as an expression over ``x`` and ``pc``."""

    name: str
    value: Expr
    pairs_with: str | None = None


@dataclass(frozen=True)
class Condition:
    """``EXPR == EXPR && EXPR != EXPR ...`` ("" holds always)."""

    clauses: tuple[tuple[Expr, str, Expr], ...] = ()

    @classmethod
    def parse(cls, text: str) -> "Condition":
        clauses = []
        for part in text.split("&&") if text.strip() else []:
            m = _CLAUSE.match(part.strip())
            if m is None:
                raise ExprError(f"condition '{part.strip()}' is not 'EXPR == EXPR' or 'EXPR != EXPR'")
            clauses.append((Expr.parse(m.group(1)), m.group(2), Expr.parse(m.group(3))))
        return cls(tuple(clauses))

    def holds(self, values: dict[str, int]) -> bool:
        look = values.__getitem__
        for left, op, right in self.clauses:
            equal = left.evaluate(look, 0) == right.evaluate(look, 0)
            if equal != (op == "=="):
                return False
        return True


@dataclass(frozen=True)
class Pseudo:
    """A value-dependent pseudo-instruction (``li``)."""

    name: str
    asm: str
    lets: tuple[tuple[str, Expr], ...]
    ranges: dict[str, tuple[int, int]]
    rules: tuple[tuple[Condition, str], ...]
    values: frozenset[str]  # operands whose value (not text) the rules use

    def expand(self, values: dict[str, int], texts: dict[str, str]) -> str:
        """The expansion for these operand values (``ValueError`` when out of range)."""
        for name, (lo, hi) in self.ranges.items():
            if not lo <= values[name] <= hi:
                raise ValueError(f"value {values[name]} out of range for '{self.name}' ({_hex(lo)}..{_hex(hi)})")
        env = dict(values)
        for name, expr in self.lets:
            env[name] = expr.evaluate(env.__getitem__, 0)
        computed = self.values | {n for n, _ in self.lets}

        def fill(m: re.Match) -> str:
            name = m.group(1)
            return str(env[name]) if name in computed else texts[name]

        for condition, expansion in self.rules:
            if condition.holds(env):
                return TEMPLATE_OPERAND.sub(fill, expansion)
        raise ValueError(f"no rule of '{self.name}' applies to {values}")


@dataclass(frozen=True)
class AsmRules:
    operators: dict[str, Operator] = field(default_factory=dict)
    pseudo: dict[str, Pseudo] = field(default_factory=dict)
    align_power_of_two: bool = False
    code_fill: tuple[bytes, ...] = ()
    code_align_min: int = 0
    options: frozenset[str] = frozenset()

    def fill(self, count: int) -> bytes | None:
        """``count`` bytes of code padding (``None``: this ISA pads code like data)."""
        if not self.code_fill:
            return None
        out = bytearray()
        units = list(self.code_fill)
        for unit, following in zip(units, units[1:]):
            while (count - len(out)) % len(following) and count - len(out) >= len(unit):
                out += unit
        last = units[-1]
        while count - len(out) >= len(last):
            out += last
        out += bytes(count - len(out))  # a remainder no unit fits (cannot happen with a 1-byte unit)
        return bytes(out)


def _hex(value: int) -> str:
    return f"-0x{-value:x}" if value < 0 else f"0x{value:x}"


def _number(value: object) -> int:
    if isinstance(value, int):
        return value
    return Expr.parse(str(value)).evaluate(lambda n: (_ for _ in ()).throw(ExprError(f"'{n}' is not a number")), 0)


def asm_rules(isa: ISA) -> AsmRules:
    """The ISA's ``[system.asm]``, checked: a malformed table is a :class:`SpecError`."""
    table = dict(isa.system.get("asm", {}))
    where = f"{isa.name}: [system.asm]"
    problems: list[str] = []
    operators: dict[str, Operator] = {}
    for name, spec in dict(table.get("operators", {})).items():
        try:
            if isinstance(spec, dict):
                operators[name] = Operator(name, Expr.parse(str(spec["value"])), str(spec["pairs_with"]) if "pairs_with" in spec else None)
            else:
                operators[name] = Operator(name, Expr.parse(str(spec)))
            bad = operators[name].value.symbols() - {"x", "pc"}
            if bad:
                problems.append(f"{where}.operators.{name}: names {sorted(bad)}; only x and pc are known")
        except (KeyError, ExprError) as exc:
            problems.append(f"{where}.operators.{name}: {exc}")
    for op in operators.values():
        if op.pairs_with is not None and op.pairs_with not in operators:
            problems.append(f"{where}.operators.{op.name}: pairs with unknown operator '{op.pairs_with}'")
    pseudo: dict[str, Pseudo] = {}
    for name, spec in dict(table.get("pseudo", {})).items():
        try:
            asm = " ".join(str(spec["asm"]).split())
            operands = set(TEMPLATE_OPERAND.findall(asm))
            lets = tuple((str(n), Expr.parse(str(e))) for n, e in spec.get("let", []))
            ranges = {str(k): (_number(v[0]), _number(v[1])) for k, v in dict(spec.get("range", {})).items()}
            rules = tuple((Condition.parse(str(c)), str(x)) for c, x in spec["rules"])
            used: set[str] = set(ranges)
            for _, expr in lets:
                used |= expr.symbols()
            for condition, _ in rules:
                for left, _, right in condition.clauses:
                    used |= left.symbols() | right.symbols()
            known = operands | {n for n, _ in lets}
            unknown = sorted(used - known)
            for _, expansion in rules:
                unknown += [n for n in TEMPLATE_OPERAND.findall(expansion) if n not in known]
            if unknown:
                problems.append(f"{where}.pseudo.{name}: unknown name '{unknown[0]}'")
            if not rules:
                problems.append(f"{where}.pseudo.{name}: no rules")
            pseudo[name] = Pseudo(name, asm, lets, ranges, rules, frozenset(used & operands))
        except (KeyError, TypeError, ValueError, ExprError) as exc:
            problems.append(f"{where}.pseudo.{name}: malformed ({exc})")
    align = table.get("align", "bytes")
    if align not in ("bytes", "power-of-two"):
        problems.append(f"{where}: align is '{align}', not 'bytes' or 'power-of-two'")
    try:
        fill = tuple(bytes.fromhex(str(u)) for u in table.get("code_fill", []))
        if any(not u for u in fill) or [len(u) for u in fill] != sorted(len(u) for u in fill):
            problems.append(f"{where}: code_fill units must be non-empty and smallest first")
    except ValueError as exc:
        problems.append(f"{where}: code_fill: {exc}")
        fill = ()
    code_align_min = table.get("code_align_min", 0)
    if not isinstance(code_align_min, int) or code_align_min < 0:
        problems.append(f"{where}: code_align_min must be a byte count")
        code_align_min = 0
    if problems:
        raise SpecError(problems)
    return AsmRules(operators, pseudo, align == "power-of-two", fill, code_align_min, frozenset(str(o) for o in table.get("options", [])))
