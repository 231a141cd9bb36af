"""Abstract evaluation of instructions for the resolvers: constants, table indexing, stores.

The per-ISA table (a spec's ``[system.dataflow]``, documented in ``isa_specs/FORMAT.md``) says what an instruction computes
in a tiny expression language over field names; this module compiles it against the spec
and evaluates it over an abstract register state.  Values are

* an ``int`` — a known constant (masked to the word size);
* :class:`Indexed` — a known address plus an unknown index (``table + 4*i``);
* :class:`Entry` — a word loaded from an ``Indexed`` address (a jump-table entry);
* ``None`` — unknown.

``load32(addr)`` yields an ``Entry`` only for an indexed address: a word loaded from a
fixed address is a variable whose value the program may have changed, so it stays
unknown.  ``store32(addr, value)`` records stores of known values to known addresses (how
a kernel installs its trap vectors in storage), ``sysreg_write(number, value)`` writes to
a numbered system register (how it installs them in a vector register, or sets the pc a
trap return goes to), and ``sysreg_read(number)`` is a system register's value: unknown.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Callable, Union

from hybridvmm.isa import ISA, Instruction


@dataclass(frozen=True)
class Indexed:
    """``base`` plus an unknown offset."""

    base: int


@dataclass(frozen=True)
class Entry:
    """The word at ``Indexed(base)``: one entry of a table starting at ``base``."""

    base: int


Value = Union[int, Indexed, Entry, None]
Plausible = Callable[[int], bool]


class EvalContext:
    """One evaluation run: what counts as an address, and the stores seen (if wanted)."""

    __slots__ = ("plausible", "stores", "sysregs", "mask")

    def __init__(self, plausible: Plausible, mask: int, stores: list | None = None, sysregs: list | None = None):
        self.plausible = plausible
        self.stores = stores
        self.sysregs = sysregs
        """(register number, value) of every system-register write seen, when wanted."""
        self.mask = mask


_Ctx = EvalContext
Getter = Callable[[Instruction, dict], Value]


def _add(a: Value, b: Value, ctx: _Ctx) -> Value:
    if isinstance(a, int) and isinstance(b, int):
        return (a + b) & ctx.mask
    if isinstance(b, Indexed) or (b is None and isinstance(a, int)):
        a, b = b, a
    if isinstance(a, Indexed):
        return Indexed((a.base + b) & ctx.mask) if isinstance(b, int) else (a if b is None else None)
    if a is None and isinstance(b, int):
        return Indexed(b) if ctx.plausible(b) else None
    if isinstance(a, Entry) and b == 0:
        return a
    if isinstance(b, Entry) and a == 0:
        return b
    return None


def _and(a: Value, b: Value, ctx: _Ctx) -> Value:
    if isinstance(a, int) and isinstance(b, int):
        return a & b & ctx.mask
    # Masking a table entry's low bits (RISC-V jalr clears bit 0) keeps it an entry.
    if isinstance(a, Entry) and isinstance(b, int):
        return a
    return None


_INT_OPS: dict[type, Callable[[int, int], int]] = {
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.BitOr: lambda a, b: a | b,
    ast.BitXor: lambda a, b: a ^ b,
    ast.LShift: lambda a, b: a << b,
    ast.RShift: lambda a, b: a >> b,
}
_UNOPS: dict[type, Callable[[int], int]] = {ast.USub: lambda a: -a, ast.Invert: lambda a: ~a}

Compiled = Callable[[Instruction, dict, EvalContext], Value]


def _unknown_name(name: str) -> Getter:
    raise ValueError(f"unknown name '{name}'")


def compile_expr(text: str, getter: Callable[[str], Getter] = _unknown_name) -> tuple[Compiled, set[str]]:
    """``text`` as a function of (instruction, registers, context), and the names it uses.

    ``getter(name)`` gives, at compile time, how to read a name from an instruction and
    the register state (the spec decides: see :meth:`Evaluator.getter`).
    """
    names: set[str] = set()

    def build(node: ast.AST) -> Compiled:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            value = node.value
            return lambda i, r, c: value
        if isinstance(node, ast.Name):
            names.add(node.id)
            try:
                get = getter(node.id)
            except ValueError:
                return lambda i, r, c: None
            return lambda i, r, c: get(i, r)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.BitAnd)):
            fn = _add if isinstance(node.op, ast.Add) else _and
            left, right = build(node.left), build(node.right)
            return lambda i, r, c: fn(left(i, r, c), right(i, r, c), c)
        if isinstance(node, ast.BinOp) and type(node.op) in _INT_OPS:
            op, left, right = _INT_OPS[type(node.op)], build(node.left), build(node.right)
            sub = isinstance(node.op, ast.Sub)

            def binop(i: Instruction, r: dict, c: EvalContext) -> Value:
                a, b = left(i, r, c), right(i, r, c)
                if sub and isinstance(a, Indexed) and isinstance(b, int):
                    return Indexed((a.base - b) & c.mask)
                return op(a, b) & c.mask if isinstance(a, int) and isinstance(b, int) else None

            return binop
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNOPS:
            op1, inner = _UNOPS[type(node.op)], build(node.operand)

            def unop(i: Instruction, r: dict, c: EvalContext) -> Value:
                a = inner(i, r, c)
                return op1(a) & c.mask if isinstance(a, int) else None

            return unop
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            if node.func.id == "load32" and len(node.args) == 1:
                addr = build(node.args[0])

                def load(i: Instruction, r: dict, c: EvalContext) -> Value:
                    a = addr(i, r, c)
                    return Entry(a.base) if isinstance(a, Indexed) else None

                return load
            if node.func.id == "store32" and len(node.args) == 2:
                addr, value = build(node.args[0]), build(node.args[1])

                def store(i: Instruction, r: dict, c: EvalContext) -> Value:
                    if c.stores is not None:
                        c.stores.append((addr(i, r, c), value(i, r, c)))
                    return None

                return store
            if node.func.id == "sysreg_write" and len(node.args) == 2:
                number, value = build(node.args[0]), build(node.args[1])

                def sysreg_write(i: Instruction, r: dict, c: EvalContext) -> Value:
                    if c.sysregs is not None:
                        c.sysregs.append((number(i, r, c), value(i, r, c)))
                    return None

                return sysreg_write
            if node.func.id == "sysreg_read" and len(node.args) == 1:
                build(node.args[0])
                return lambda i, r, c: None
        raise ValueError(f"unsupported expression {ast.unparse(node)!r}")

    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise ValueError(f"bad expression {text!r}") from None
    return build(tree.body), names


@dataclass(frozen=True)
class _Statement:
    dst: str | None  # a register field, "pc", or None for a bare store32(...)
    expr: Compiled


class Evaluator:
    """One ISA's data-flow table compiled against its spec (see the module docstring)."""

    def __init__(self, isa: ISA, facts: dict):
        self.isa = isa
        self.mask = (1 << isa.word_bits) - 1
        gpr = isa.registers["gpr"]
        zero = facts.get("zero_register")
        self.zero = gpr.lookup(zero) if zero is not None else None
        problems: list[str] = []
        self.effects: dict[str, tuple[_Statement, ...]] = {}
        self.storing: set[str] = set()
        self.sysreg_writing: set[str] = set()
        """Instructions with a ``sysreg_write`` statement."""
        for name, statements in facts.get("effects", {}).items():
            spec = isa.instructions.get(name)
            if spec is None:
                problems.append(f"effects name unknown instruction '{name}'")
                continue
            compiled = []
            fields = set(spec.format.fields)
            for text in statements:
                dst, sep, rhs = text.partition("=")
                if not sep or "(" in dst:
                    dst, rhs = None, text
                else:
                    dst = dst.strip()
                try:
                    fn, used = compile_expr(rhs, lambda n, f=fields: self.getter(n, f))
                except ValueError as exc:
                    problems.append(f"{name}: {exc}")
                    continue
                for n in sorted(used - fields - {"pc", "next"}):
                    problems.append(f"{name}: '{n}' is not a field of format {spec.format.name}")
                if dst is None:
                    if "sysreg_write(" in rhs:
                        self.sysreg_writing.add(name)
                    elif "store32(" not in rhs:
                        problems.append(f"{name}: statement {text!r} is neither 'dst = expr', store32(...) "
                                        "nor sysreg_write(...)")
                    else:
                        self.storing.add(name)
                elif dst != "pc" and (dst not in fields or isa.fields[dst].kind != "reg"):
                    problems.append(f"{name}: destination '{dst}' is neither pc nor a register field")
                compiled.append(_Statement(dst, fn))
            self.effects[name] = tuple(compiled)
        self.clobbers: dict[str, tuple[int, ...]] = {}
        for name, regs in facts.get("clobbers", {}).items():
            numbers = []
            for r in regs:
                n = gpr.lookup(r)
                if n is None:
                    problems.append(f"clobbers of '{name}' name unknown register '{r}'")
                else:
                    numbers.append(n)
            self.clobbers[name] = tuple(numbers)
        if problems:
            raise ValueError(f"data-flow table for {isa.name}: " + "; ".join(problems))
        self._reg_fields = {
            s.name: tuple(f for f in s.format.fields if isa.fields[f].kind == "reg") for s in isa.instructions.values()
        }

    def getter(self, name: str, fields: set[str]) -> Getter:
        """How a name reads, from its field's kind: a register, a pc-relative target, a value."""
        mask, zero = self.mask, self.zero
        if name == "pc":
            return lambda i, r: i.address
        if name == "next":
            return lambda i, r: i.address + len(i.raw)
        if name not in fields:
            raise ValueError(f"unknown name '{name}'")
        kind = self.isa.fields[name].kind
        if kind == "reg":
            return lambda i, r: 0 if i.operands[name] == zero else r.get(i.operands[name])
        if kind == "pcrel":
            return lambda i, r: (i.address + i.operands[name]) & mask
        return lambda i, r: i.operands[name] & mask

    def context(self, plausible: Plausible, stores: list | None = None, sysregs: list | None = None) -> EvalContext:
        return EvalContext(plausible, self.mask, stores, sysregs)

    def step(self, ins: Instruction, regs: dict[int, Value], ctx: EvalContext) -> Value:
        """Apply ``ins`` to ``regs``; return its ``pc`` value (None if it has none/unknown)."""
        statements = self.effects.get(ins.spec.name)
        target: Value = None
        if statements is None:
            ops = ins.operands
            for f in self._reg_fields[ins.spec.name]:
                regs.pop(ops[f], None)
        else:
            values = [(s.dst, s.expr(ins, regs, ctx)) for s in statements]
            for dst, value in values:
                if dst is None:
                    continue
                if dst == "pc":
                    target = value
                    continue
                reg = ins.operands[dst]
                if reg == self.zero:
                    continue
                if value is None:
                    regs.pop(reg, None)
                else:
                    regs[reg] = value
        clobbered = self.clobbers.get(ins.spec.name)
        if clobbered:
            for reg in clobbered:
                regs.pop(reg, None)
        return target
