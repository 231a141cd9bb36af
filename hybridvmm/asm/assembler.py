"""A spec-driven two-pass assembler: any ISA described in ``isa_specs/`` assembles.

Operand syntax comes from each instruction's asm template (see :mod:`.syntax`); operand
meaning from its field kind (register file, CSR name, fence set, immediate, absolute or
PC-relative target).  Aliases from the spec expand textually.

Pass 1 reads every line, checks its syntax, sizes it and assigns section offsets (sizes
depend on operand values only for the spec's value-dependent pseudo-instructions, whose
operand must be known when the line is read, as GNU as requires for ``li``); the sections
are then laid out; pass 2 evaluates expressions and encodes.  Every error of the file is
collected — a line that fails is skipped and assembly goes on — and raised together as
one :class:`AsmErrors` (an :class:`~hybridvmm.errors.AsmError` for the first, carrying
them all, in source order).  A constant whose definition failed is not reported again
where it is used.

``.include "FILE"`` reads another source in place of the line, as GNU as does (see
:func:`include_search_path` for where FILE is looked for).  Errors in it are reported at
its own ``file:line``; an include cycle, or includes nested deeper than
:data:`MAX_INCLUDE_DEPTH`, is an error at the ``.include`` line.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from hybridvmm.asm.expr import IDENT, Expr, ExprError, UndefinedSymbol
from hybridvmm.asm.rules import Pseudo, asm_rules
from hybridvmm.asm.syntax import Template, parse_string, source_lines, split_top, strip_comment
from hybridvmm.errors import AsmError, UnknownISAError, UserError, read_input
from hybridvmm.image import FLAG_CODE, FLAG_DATA, FLAG_WRITE, MAX_SECTION_BYTES, Image, Section
from hybridvmm.isa.decoder import Decoder
from hybridvmm.isa.loader import load_isa
from hybridvmm.isa.spec import FENCE_BITS, ISA, TEMPLATE_OPERAND, AliasSpec, InstructionSpec

TEXT = "text"
DATA = "data"
FLOATING_ALIGN = 4
"""Sections without ``.org`` (other than ``.text``) start on this boundary after the previous one."""

"""Fence-set letters (RISC-V ``pred``/``succ``): device input/output, memory read/write."""

_LABEL = re.compile(rf"\s*({IDENT}|[0-9]+)\s*:(?!=)")
_ASSIGN = re.compile(rf"\s*({IDENT})\s*=(?!=)(.*)$")
_STATEMENT = re.compile(r"\s*([A-Za-z_.][A-Za-z0-9_.]*)(?:\s+(.*))?$")
_ISA_LINE = re.compile(r"\s*\.isa\s+(\S+)\s*$", re.IGNORECASE)
_MAX_ALIAS_DEPTH = 8
MAX_INCLUDE_DEPTH = 16
"""How deeply ``.include`` may nest (the main file is depth 0): deeper is surely a mistake."""
GUEST_DIR = Path(__file__).resolve().parent.parent / "guests"
"""The bundled guests' sources (``klib.s`` ...): the last place ``.include`` looks."""
BUNDLED_PREFIX = "guest:"
"""The name a bundled guest's source is assembled under (``guest:NAME``): its includes
are found in :data:`GUEST_DIR`."""


LOCAL_MARK = "\x02"
"""Inside the names given to numeric local labels (``1:`` → ``.L1\x021``): no source
symbol can collide with them, and they stay out of the image's symbol table."""


def _short(text: str, limit: int = 60) -> str:
    """Source text quoted in a message, cut to a readable length."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


class AsmErrors(AsmError):
    """Every error of one assembly, in line order; ``str`` gives one ``file:line: message``
    per line.  It is an :class:`AsmError` for the first of them."""

    def __init__(self, errors: list[AsmError]):
        self.errors = sorted(errors, key=lambda e: getattr(e, "order", e.line))
        first = self.errors[0]
        super().__init__(first.filename, first.line, first.message)
        self.args = ("\n".join(f"{e.filename}:{e.line}: {e.message}" for e in self.errors),)

    def __str__(self) -> str:
        return self.args[0]


class _Poisoned(ExprError):
    """A symbol whose definition already failed (and was reported)."""


class _PoisonedError(Exception):
    """A pass-2 step that used a symbol whose definition was already reported."""


class _Mismatch(Exception):
    """This candidate (instruction or alias) does not fit the operand text."""


@dataclass
class _Section:
    name: str
    first_line: int
    origin: int | None = None
    size: int = 0
    align: int = 1
    flags: int | None = None  # from `.section NAME, "FLAGS"`; None: the default for its name


def _base(sec: _Section) -> int:
    """A laid-out section's address."""
    assert sec.origin is not None
    return sec.origin


@dataclass
class _Item:
    section: _Section
    offset: int
    line: int
    size: int
    kind: str  # "bytes" | "fill" | "data" | "ins"
    payload: object


@dataclass
class _Symbol:
    line: int
    section: _Section | None = None  # a label
    offset: int = 0
    expr: Expr | None = None  # a constant (.equ / NAME = EXPR)
    dot_section: _Section | None = None
    dot_offset: int = 0


@dataclass
class _Candidate:
    template: Template
    spec: InstructionSpec | None = None
    alias: AliasSpec | None = None
    pseudo: Pseudo | None = None


@dataclass
class _Parsed:
    spec: InstructionSpec
    operands: dict[str, object] = field(default_factory=dict)  # int or Expr


class Assembler:
    """One assembly run for one ISA (build a new one per source).

    ``self.line`` is a *position*: the number of source lines read so far, counting the
    lines of included files where they are included; ``places[position]`` is the
    (file, line) it stands for, which is what messages show."""

    def __init__(self, isa: ISA, filename: str = "<string>", include_dirs: tuple[str | Path, ...] = ()):
        self.isa = isa
        self.filename = filename
        self.include_dirs = tuple(Path(d) for d in include_dirs)
        self.places: list[tuple[str, int]] = [(filename, 0)]
        self.including: list[Path] = []
        """The files being read, outermost first (an include cycle shows here)."""
        self.depth = 0
        """How many ``.include`` lines the line being read is nested in."""
        self.decoder = Decoder(isa)
        self.little = isa.endian == "little"
        self.addr_bits = isa.word_bits
        self.default_origin = int(isa.system.get("load_address", 0))
        self.rules = asm_rules(isa)
        self.candidates: dict[str, list[_Candidate]] = {}
        for spec in isa.instructions.values():
            t = Template.compile(spec.asm)
            self.candidates.setdefault(t.mnemonic, []).append(_Candidate(t, spec=spec))
        for alias in isa.aliases.values():
            t = Template.compile(alias.asm)
            self.candidates.setdefault(t.mnemonic, []).append(_Candidate(t, alias=alias))
        for pseudo in self.rules.pseudo.values():
            t = Template.compile(pseudo.asm)
            self.candidates.setdefault(t.mnemonic, []).append(_Candidate(t, pseudo=pseudo))
        self.errors: list[AsmError] = []
        self.poisoned: set[str] = set()
        self.local_counts: dict[int, int] = {}
        self.hi_sites: dict[int, tuple[Expr, _Item]] = {}
        self.sections: dict[str, _Section] = {}
        self.items: list[_Item] = []
        self.symbols: dict[str, _Symbol] = {}
        self.entry: tuple[Expr, int, _Section, int] | None = None
        self.line = 0
        self.started = False
        self.cur = self._section(TEXT)

    # --- errors ---------------------------------------------------------------------
    def error(self, message: str, line: int | None = None) -> AsmError:
        """An error at a position (default: the statement being read), as ``file:line``."""
        position = self.line if line is None else line
        exc = AsmError(*self.place(position), message)
        exc.order = position  # type: ignore[attr-defined]
        return exc

    def place(self, position: int) -> tuple[str, int]:
        """The (file, line) of a position (position 1 of an empty source: its line 1)."""
        if 0 < position < len(self.places):
            return self.places[position]
        return self.filename, max(position, 1)

    def where(self, position: int) -> str:
        """A position as a message names it: ``line N`` in the file being read, else ``FILE:N``."""
        file, line = self.place(position)
        return f"line {line}" if file == self.place(self.line)[0] else f"{file}:{line}"

    # --- sections ---------------------------------------------------------------------
    def _section(self, name: str) -> _Section:
        sec = self.sections.get(name)
        if sec is None:
            sec = self.sections[name] = _Section(name, self.line or 1)
        return sec

    @staticmethod
    def _is_code(sec: _Section) -> bool:
        return bool(sec.flags & FLAG_CODE) if sec.flags is not None else sec.name == TEXT

    def _fix_text_origin(self, sec: _Section) -> None:
        if sec.origin is None and sec.name == TEXT:
            sec.origin = self.default_origin

    def _room(self, size: int) -> None:
        """Refuse a runaway ``.org``/``.space``/``.align`` before it costs gigabytes."""
        sec = self.cur
        if sec.size + size > MAX_SECTION_BYTES:
            raise self.error(f"section '{sec.name}' would grow to {sec.size + size:#x} bytes; "
                             f"a section holds at most {MAX_SECTION_BYTES:#x} ({MAX_SECTION_BYTES >> 20} MiB)")

    def _emit(self, size: int, kind: str, payload: object) -> None:
        sec = self.cur
        self._room(size)
        self._fix_text_origin(sec)
        self.items.append(_Item(sec, sec.size, self.line, size, kind, payload))
        sec.size += size
        self.started = True

    # --- symbols ----------------------------------------------------------------------
    def _define(self, name: str, sym: _Symbol) -> None:
        old = self.symbols.get(name)
        if old is not None:
            raise self.error(f"duplicate symbol '{name}' (first defined at {self.where(old.line)})")
        if self._is_register(name):
            raise self.error(f"'{name}' is a register name and cannot be a symbol")
        self.symbols[name] = sym

    def _is_register(self, name: str) -> bool:
        return any(rf.lookup(name) is not None for rf in self.isa.registers.values())

    def _resolver(self, final: bool) -> Callable[[str], int]:
        active: set[str] = set()

        def resolve(name: str) -> int:
            if name in self.poisoned:
                raise _Poisoned(name)
            sym = self.symbols.get(name)
            if sym is None:
                if LOCAL_MARK in name:
                    number = name[2:].split(LOCAL_MARK)[0]
                    raise ExprError(f"local label '{number}' is not defined in that direction (no matching '{number}:')")
                if final:
                    close = difflib.get_close_matches(name, list(self.symbols), n=3)
                    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
                    raise ExprError(f"undefined symbol '{name}'{hint}")
                raise UndefinedSymbol(name)
            if sym.section is not None:
                if sym.section.origin is None:
                    raise ExprError(f"the address of '{name}' is not known yet (its section has no .org)")
                return sym.section.origin + sym.offset
            if name in active:
                raise ExprError(f"symbol '{name}' is defined in terms of itself")
            active.add(name)
            try:
                assert sym.expr is not None and sym.dot_section is not None
                dot = self._dot_fn(sym.dot_section, sym.dot_offset)
                return sym.expr.evaluate(resolve, dot, self._reloc)
            except ExprError:
                if final:
                    self.poisoned.add(name)
                raise
            finally:
                active.discard(name)

        return resolve

    def _dot_fn(self, sec: _Section, offset: int) -> Callable[[], int]:
        def dot() -> int:
            self._fix_text_origin(sec)
            if sec.origin is None:
                raise ExprError("'.' is not known yet here (this section has no .org)")
            return sec.origin + offset

        return dot

    def _value_now(self, expr: Expr, what: str) -> int:
        """Evaluate in pass 1 (sizes and addresses): only what is already defined counts."""
        try:
            return expr.evaluate(self._resolver(final=False), self._dot_fn(self.cur, self.cur.size), self._reloc)
        except UndefinedSymbol as exc:
            raise self.error(f"{what} needs a value known at this point; '{exc.name}' is not defined yet") from None
        except ExprError as exc:
            raise self.error(f"{what}: {exc}") from None

    def _parse_expr(self, text: str) -> Expr:
        try:
            return self._localize(Expr.parse(text))
        except ExprError as exc:
            raise self.error(f"bad expression '{_short(text.strip())}': {exc}") from None

    def _localize(self, expr: Expr) -> Expr:
        """``1b``/``1f`` as the names of the nearest ``1:`` before / after this line."""

        def name_of(number: int, direction: str) -> str:
            count = self.local_counts.get(number, 0) + (1 if direction == "f" else 0)
            return f".L{number}{LOCAL_MARK}{count}"

        return expr.map_locals(name_of)

    # --- relocation operators (%hi, %lo, ... from the spec) ----------------------------------
    def _reloc(self, name: str, argument: int, dot) -> int:
        op = self.rules.operators.get(name)
        if op is None:
            known = ", ".join(f"%{n}" for n in self.rules.operators) or "none"
            raise ExprError(f"unknown operator '%{name}' (this ISA has: {known})")
        pc = dot() if callable(dot) else dot
        x = argument
        if op.pairs_with is not None:
            site = self.hi_sites.get(argument)
            if site is None:
                raise ExprError(f"%{name} names 0x{argument:x}, where no instruction has a %{op.pairs_with}(...) operand")
            hi_expr, item = site
            pc = argument
            x = hi_expr.evaluate(self._resolver(final=True), self._dot_fn(item.section, item.offset), self._reloc)
        return op.value.evaluate({"x": x, "pc": pc}.__getitem__, pc)

    # --- pass 1 -----------------------------------------------------------------------
    def pass1(self, source: str) -> None:
        main = Path(self.filename)
        self.including = [main.resolve()] if main.is_file() else []
        self._read(source, self.filename, skip=None)

    def _read(self, source: str, filename: str, skip: int | None) -> None:
        """Read the lines of one file (``skip``: the line of an included file's own ``.isa``)."""
        for number, raw in enumerate(source_lines(source), 1):
            self.places.append((filename, number))
            self.line = len(self.places) - 1
            if number == skip:
                continue
            try:
                self._line(strip_comment(raw))
            except AsmError as exc:
                self.errors.append(exc)

    # --- .include -----------------------------------------------------------------------
    def d_include(self, rest: str) -> None:
        """``.include "FILE"``: the lines of FILE, read here (see :func:`include_search_path`)."""
        (arg,) = self._args(rest, ".include", 1, 1)
        try:
            name = parse_string(arg).decode("utf-8")
        except (ExprError, UnicodeDecodeError) as exc:
            raise self.error(f".include: {exc}") from None
        if not name:
            raise self.error(".include needs a file name")
        here = self.place(self.line)[0]
        path = self._find_include(name, here)
        if path is None:
            looked = ", ".join("the bundled guests" if d == GUEST_DIR else str(d)
                               for d in include_search_path(here, self.include_dirs))
            raise self.error(f".include: cannot find '{name}' (looked in {looked})")
        real = path.resolve()
        if real in self.including:
            chain = [p.name for p in self.including[self.including.index(real):]] + [real.name]
            raise self.error(f".include '{name}': include cycle ({' -> '.join(chain)})")
        if self.depth >= MAX_INCLUDE_DEPTH:
            raise self.error(f".include '{name}': includes nested more than {MAX_INCLUDE_DEPTH} deep")
        try:
            text = read_input(path).decode("utf-8")
        except UnicodeDecodeError:
            raise self.error(f".include '{name}': {path} is not a UTF-8 text file") from None
        except UserError as exc:
            raise self.error(f".include: {exc}") from None
        skip = self._included_isa(text, str(path))
        if skip is False:
            return
        at = self.line
        self.including.append(real)
        self.depth += 1
        try:
            self._read(text, str(path), skip)
        finally:
            self.including.pop()
            self.depth -= 1
            self.line = at

    def _find_include(self, name: str, including: str) -> Path | None:
        for directory in include_search_path(including, self.include_dirs):
            candidate = directory / name
            if candidate.is_file():
                return candidate
        return None

    def _included_isa(self, text: str, filename: str) -> int | None | bool:
        """The line of an included file's first-statement ``.isa`` (accepted there, and
        skipped, when it names this assembly's ISA family), None if it has none, False if
        it is written for another ISA (an error: the file is not read)."""
        found = isa_directive(text)
        if found is None:
            return None
        name, number = found
        try:
            theirs = load_isa(name)
        except UnknownISAError as exc:
            self.errors.append(self._at(filename, number, str(exc)))
            return False
        if theirs.lineage[-1] != self.isa.lineage[-1]:
            self.errors.append(self._at(filename, number, f"this file is written for {name}; the assembly is for "
                                                          f"{self.isa.name} (another ISA family)"))
            return False
        return number

    def _at(self, filename: str, number: int, message: str) -> AsmError:
        """An error at line ``number`` of the file about to be read."""
        exc = AsmError(filename, number, message)
        exc.order = len(self.places) + number - 1  # type: ignore[attr-defined]  # (its position once read)
        return exc

    def _line(self, text: str) -> None:
        while True:
            m = _LABEL.match(text)
            if not m:
                break
            name = m.group(1)
            if name == ".":
                raise self.error("'.' cannot be a label")
            if name.isdigit():
                number = int(name)
                self.local_counts[number] = self.local_counts.get(number, 0) + 1
                name = f".L{number}{LOCAL_MARK}{self.local_counts[number]}"
            self._define(name, _Symbol(self.line, section=self.cur, offset=self.cur.size))
            self.started = True
            text = text[m.end():]
        if not text.strip():
            return
        m = _ASSIGN.match(text)
        if m:
            self._constant(m.group(1), m.group(2))
            return
        m = _STATEMENT.match(text)
        if not m:
            raise self.error(f"cannot read '{text.strip()}'")
        word, rest = m.group(1), (m.group(2) or "").strip()
        if word.startswith("."):
            handler = _DIRECTIVES.get(word.lower())
            if handler is None:
                close = difflib.get_close_matches(word.lower(), list(_DIRECTIVES), n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise self.error(f"unknown directive '{word}'{hint}")
            handler(self, rest)
            return
        for parsed in self._instruction(word, rest, 0):
            self._emit(parsed.spec.length, "ins", parsed)

    def _constant(self, name: str, text: str) -> None:
        if name == ".":
            raise self.error("'. = EXPR' is not supported; use .org")
        expr = self._parse_expr(text)
        self._define(name, _Symbol(self.line, expr=expr, dot_section=self.cur, dot_offset=self.cur.size))

    # --- instructions -----------------------------------------------------------------
    def _instruction(self, word: str, rest: str, depth: int) -> list[_Parsed]:
        mnemonic = word.lower()
        candidates = self.candidates.get(mnemonic)
        if not candidates:
            close = difflib.get_close_matches(mnemonic, list(self.candidates), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise self.error(f"unknown mnemonic '{word}'{hint}")
        problems: list[str] = []
        for cand in candidates:
            operands = cand.template.match(rest)
            if operands is None:
                continue
            try:
                if cand.spec is not None:
                    return [self._operands(cand, operands)]
                if cand.pseudo is not None:
                    return self._pseudo(cand.pseudo, operands, depth)
                return self._expand(cand, operands, depth)
            except _Mismatch as exc:
                problems.append(str(exc))
        expected = " or ".join(f"'{c.template.display()}'" for c in candidates)
        if problems:
            raise self.error(f"{problems[0]} (expected {expected})")
        got = f"'{word} {rest}'" if rest else f"'{word}' with no operands"
        raise self.error(f"wrong operands for '{mnemonic}': got {got}, expected {expected}")

    def _operands(self, cand: _Candidate, texts: dict[str, str]) -> _Parsed:
        spec = cand.spec
        assert spec is not None
        parsed = _Parsed(spec)
        for name, text in texts.items():
            fs = self.isa.fields[name]
            if not text:
                if fs.kind != "imm":
                    raise _Mismatch(f"missing operand '{name}'")
                parsed.operands[name] = 0
            elif fs.kind == "reg":
                number = self.isa.registers[fs.regfile].lookup(text)
                if number is None:
                    raise _Mismatch(f"'{text}' is not a register")
                parsed.operands[name] = number
            elif fs.kind == "csr" and text.lower() in self.isa.csrs:
                parsed.operands[name] = self.isa.csrs[text.lower()]
            elif fs.kind == "fence" and re.fullmatch(r"[iorwIORW]+", text):
                letters = text.lower()
                if len(set(letters)) != len(letters):
                    raise _Mismatch(f"fence set '{text}' repeats a letter")
                parsed.operands[name] = sum(FENCE_BITS[c] for c in letters)
            else:
                if self._is_register(text) and text.lower() not in self.symbols:
                    raise _Mismatch(f"register '{text}' where '{name}' needs a value")
                try:
                    parsed.operands[name] = self._localize(Expr.parse(text))
                except ExprError as exc:
                    raise _Mismatch(f"bad expression '{_short(text)}' for '{name}': {exc}") from None
        return parsed

    def _pseudo(self, pseudo: Pseudo, texts: dict[str, str], depth: int) -> list[_Parsed]:
        """A value-dependent pseudo-instruction: its value operands now, then its rule."""
        values = {}
        for name in sorted(pseudo.values):
            if self._is_register(texts[name]) and texts[name].lower() not in self.symbols:
                raise _Mismatch(f"register '{texts[name]}' where '{name}' needs a value")
            try:
                expr = self._localize(Expr.parse(texts[name]))
            except ExprError as exc:
                raise _Mismatch(f"bad expression '{_short(texts[name])}' for '{name}': {exc}") from None
            try:
                values[name] = self._value_now(expr, f"'{pseudo.name}'")
            except AsmError as exc:
                raise _Mismatch(exc.message) from None
        try:
            expanded = pseudo.expand(values, texts)
        except (ValueError, ExprError) as exc:
            raise _Mismatch(str(exc)) from None
        return self._pieces(expanded, f"'{pseudo.name}'", depth)

    def _pieces(self, expanded: str, origin: str, depth: int) -> list[_Parsed]:
        """Assemble an expansion's ``;``-separated instructions."""
        if depth >= _MAX_ALIAS_DEPTH:
            raise _Mismatch(f"{origin} expands too deeply (a cycle?)")
        out: list[_Parsed] = []
        for piece in expanded.split(";"):
            m = _STATEMENT.match(piece)
            if not m:
                raise _Mismatch(f"{origin} expands to unreadable '{piece.strip()}'")
            try:
                out.extend(self._instruction(m.group(1), (m.group(2) or "").strip(), depth + 1))
            except AsmError as exc:
                raise _Mismatch(f"in '{piece.strip()}' (from {origin}): {exc.message}") from None
        return out

    def _expand(self, cand: _Candidate, texts: dict[str, str], depth: int) -> list[_Parsed]:
        alias = cand.alias
        assert alias is not None
        if depth >= _MAX_ALIAS_DEPTH:
            raise self.error(f"alias '{alias.name}' expands too deeply (a cycle?)")
        expanded = TEMPLATE_OPERAND.sub(lambda m: texts[m.group(1)], alias.expands)
        return self._pieces(expanded, f"alias '{alias.mnemonic}'", depth)

    # --- layout -----------------------------------------------------------------------
    def layout(self) -> None:
        """Give every section without ``.org`` an address, then check the address map.

        Unlike GNU as, a section's end is not padded to its alignment: the image holds
        what the source put there, nothing after it."""
        text = self.sections[TEXT]
        self._fix_text_origin(text)
        order = [text] + [s for s in self.sections.values() if s is not text]
        cursor = _base(text) + text.size
        for sec in order[1:]:
            if sec.origin is None:
                align = max(FLOATING_ALIGN, sec.align)
                sec.origin = (cursor + align - 1) // align * align
            cursor = _base(sec) + sec.size
        placed = sorted((s for s in order if s.size), key=_base)
        for sec in placed:
            if _base(sec) + sec.size > 1 << self.addr_bits:
                self.errors.append(self.error(
                    f"section '{sec.name}' ends at 0x{_base(sec) + sec.size:x}, beyond the {self.addr_bits}-bit address space",
                    sec.first_line,
                ))
        for a, b in zip(placed, placed[1:]):
            if _base(b) < _base(a) + a.size:
                self.errors.append(self.error(
                    f"section '{b.name}' (0x{_base(b):x}-0x{_base(b) + b.size:x}) overlaps section "
                    f"'{a.name}' (0x{_base(a):x}-0x{_base(a) + a.size:x})",
                    b.first_line,
                ))

    # --- pass 2 -----------------------------------------------------------------------
    def pass2(self) -> Image:
        resolve = self._resolver(final=True)
        self._find_hi_sites()
        for name, sym in self.symbols.items():
            if sym.expr is not None and name not in self.poisoned:
                self.line = sym.line
                self._collect(lambda: self._evaluate(sym.expr, resolve, sym.dot_section, sym.dot_offset))  # type: ignore[arg-type]
        blobs = {name: bytearray(sec.size) for name, sec in self.sections.items()}
        for item in self.items:
            self.line = item.line
            data = self._collect(lambda: self._encode_item(item, resolve))
            if data is not None:
                assert len(data) == item.size
                blobs[item.section.name][item.offset:item.offset + item.size] = data
        entry = self._collect(lambda: self._entry(resolve)) or 0
        sections = []
        for name, sec in self.sections.items():
            if not sec.size:
                continue
            flags = sec.flags if sec.flags is not None else FLAG_CODE if name == TEXT else FLAG_DATA | FLAG_WRITE
            sections.append(Section(name, _base(sec), blobs[name], flags))
        symbols = {name: resolve(name) for name, sym in self.symbols.items() if sym.section is not None and LOCAL_MARK not in name}
        return Image(self.isa.name, entry, sections, symbols, source=self.filename)

    def _collect(self, step: Callable[[], object]):
        """Run one pass-2 step; its error is recorded (once) instead of ending assembly."""
        try:
            return step()
        except _PoisonedError:
            return None
        except AsmError as exc:
            self.errors.append(exc)
            return None

    def _find_hi_sites(self) -> None:
        """Where each operator that another pairs with (``%pcrel_hi``) is used, by address."""
        paired = {op.pairs_with for op in self.rules.operators.values() if op.pairs_with}
        if not paired:
            return
        for item in self.items:
            if item.kind != "ins":
                continue
            parsed: _Parsed = item.payload  # type: ignore[assignment]
            for operand in parsed.operands.values():
                if isinstance(operand, Expr):
                    for name, argument in operand.relocations():
                        if name in paired:
                            self.hi_sites[_base(item.section) + item.offset] = (argument, item)

    def _entry(self, resolve: Callable[[str], int]) -> int:
        if self.entry is not None:
            expr, line, sec, offset = self.entry
            self.line = line
            return self._evaluate(expr, resolve, sec, offset) & ((1 << self.addr_bits) - 1)
        for name in ("_start", "start"):
            sym = self.symbols.get(name)
            if sym is not None and sym.section is not None:
                return resolve(name)
        return _base(self.sections[TEXT])

    def _evaluate(self, expr: Expr, resolve: Callable[[str], int], sec: _Section, offset: int) -> int:
        try:
            return expr.evaluate(resolve, self._dot_fn(sec, offset), self._reloc)
        except _Poisoned:
            raise _PoisonedError() from None
        except ExprError as exc:
            raise self.error(str(exc)) from None

    def _encode_item(self, item: _Item, resolve: Callable[[str], int]) -> bytes:
        if item.kind == "bytes":
            return item.payload  # type: ignore[return-value]
        if item.kind == "fill":
            fill = item.payload
            if isinstance(fill, Expr):
                fill = self._evaluate(fill, resolve, item.section, item.offset)
                if not -128 <= fill <= 255:
                    raise self.error(f"fill value {fill} does not fit in a byte (range -128..255)")
            return bytes([fill & 0xFF]) * item.size
        if item.kind == "data":
            width, exprs = item.payload  # type: ignore[misc]
            out = bytearray()
            for i, expr in enumerate(exprs):
                value = self._evaluate(expr, resolve, item.section, item.offset + i * width)
                bits = width * 8
                if not -(1 << (bits - 1)) <= value < (1 << bits):
                    raise self.error(f"value {value} does not fit in {width} byte(s) (range {-(1 << (bits - 1))}..{(1 << bits) - 1})")
                out += (value & ((1 << bits) - 1)).to_bytes(width, "little" if self.little else "big")
            return bytes(out)
        return self._encode_instruction(item, resolve)

    def _encode_instruction(self, item: _Item, resolve: Callable[[str], int]) -> bytes:
        parsed: _Parsed = item.payload  # type: ignore[assignment]
        spec = parsed.spec
        address = _base(item.section) + item.offset
        values: dict[str, int] = {}
        for name, operand in parsed.operands.items():
            fs = self.isa.fields[name]
            if isinstance(operand, int):
                values[name] = operand
                continue
            value = self._evaluate(operand, resolve, item.section, item.offset)
            lo, hi = fs.value_range()
            step = 1 << fs.shift
            if fs.kind == "pcrel":
                half = 1 << (self.addr_bits - 1)
                offset = ((value - address + half) % (1 << self.addr_bits)) - half
                if not lo <= offset <= hi or offset % step:
                    raise self.error(
                        f"target 0x{value & ((1 << self.addr_bits) - 1):x} of '{spec.mnemonic}' is {offset} bytes away; "
                        f"the offset must be in {lo}..{hi}" + (f" and a multiple of {step}" if step > 1 else "")
                    )
                value = offset
            elif not lo <= value <= hi or value % step:
                raise self.error(
                    f"value {value} out of range for '{name}' of '{spec.mnemonic}' (range {lo}..{hi}"
                    + (f", multiple of {step}" if step > 1 else "") + ")"
                )
            values[name] = value
        return self.decoder.encode(spec, values)

    # --- directives ---------------------------------------------------------------------
    def _args(self, rest: str, what: str, lo: int, hi: int) -> list[str]:
        args = split_top(rest) if rest.strip() else []
        if not lo <= len(args) <= hi or any(not a for a in args):
            want = f"{lo}" if lo == hi else f"{lo} to {hi}"
            raise self.error(f"{what} takes {want} argument(s), got '{rest.strip()}'")
        return args

    def d_equ(self, rest: str) -> None:
        name, value = self._args(rest, ".equ", 2, 2)
        if not re.fullmatch(IDENT, name) or name == ".":
            raise self.error(f"bad symbol name '{name}' in .equ")
        self._constant(name, value)

    def d_org(self, rest: str) -> None:
        (arg,) = self._args(rest, ".org", 1, 1)
        target = self._value_now(self._parse_expr(arg), ".org")
        sec = self.cur
        if target < 0 or target >= 1 << self.addr_bits:
            raise self.error(f".org {target:#x} is outside the address space")
        if sec.origin is None and sec.size == 0:
            sec.origin = target
            self.started = True
            return
        if sec.origin is None:
            raise self.error(f".org after content in section '{sec.name}', whose address is not fixed: put .org first")
        here = sec.origin + sec.size
        if target < here:
            raise self.error(f".org 0x{target:x} moves backwards (already at 0x{here:x})")
        self._emit(target - here, "fill", 0)

    def _align_to(self, boundary: int, rest_fill: list[str]) -> None:
        fill: object = self._parse_expr(rest_fill[0]) if rest_fill else 0
        sec = self.cur
        self._fix_text_origin(sec)
        if not rest_fill and self._is_code(sec) and boundary <= self.rules.code_align_min:
            return
        sec.align = max(sec.align, boundary)
        here = (sec.origin or 0) + sec.size
        pad = -here % boundary
        if not pad:
            return
        self._room(pad)
        code = self.rules.fill(pad) if not rest_fill and self._is_code(sec) else None
        if code is not None:
            self._emit(pad, "bytes", code)
        else:
            self._emit(pad, "fill", fill)

    def d_align(self, rest: str) -> None:
        """``.align N``: an N-byte boundary, or 2**N where the ISA says so (GNU on RISC-V)."""
        args = self._args(rest, ".align", 1, 2)
        n = self._value_now(self._parse_expr(args[0]), ".align")
        if self.rules.align_power_of_two:
            if not 0 <= n <= 30:
                raise self.error(f".align {n}: the power must be in 0..30 (.align N means 2**N bytes here)")
            n = 1 << n
        elif n <= 0 or n & (n - 1):
            raise self.error(f".align {n}: the boundary must be a power of two (bytes)")
        self._align_to(n, args[1:])

    def d_balign(self, rest: str) -> None:
        args = self._args(rest, ".balign", 1, 2)
        n = self._value_now(self._parse_expr(args[0]), ".balign")
        if n <= 0 or n & (n - 1):
            raise self.error(f".balign {n}: the boundary must be a power of two (bytes)")
        self._align_to(n, args[1:])

    def d_p2align(self, rest: str) -> None:
        args = self._args(rest, ".p2align", 1, 2)
        n = self._value_now(self._parse_expr(args[0]), ".p2align")
        if not 0 <= n <= 30:
            raise self.error(f".p2align {n}: the power must be in 0..30")
        self._align_to(1 << n, args[1:])

    def _data(self, rest: str, width: int, what: str) -> None:
        args = self._args(rest, what, 1, 1 << 20)
        self._emit(width * len(args), "data", (width, [self._parse_expr(a) for a in args]))

    def d_byte(self, rest: str) -> None:
        self._data(rest, 1, ".byte")

    def d_half(self, rest: str) -> None:
        self._data(rest, 2, ".half")

    def d_word(self, rest: str) -> None:
        self._data(rest, 4, ".word")

    def d_dword(self, rest: str) -> None:
        self._data(rest, 8, ".dword")

    def d_ignored(self, rest: str) -> None:
        """Symbol-table and file bookkeeping GNU as keeps (``.type``, ``.size``, ``.file``,
        ``.ident``, ``.attribute``, ``.weak``, ``.local``): no effect on the image."""

    def d_option(self, rest: str) -> None:
        (word,) = self._args(rest, ".option", 1, 1)
        if word.strip().lower() not in self.rules.options:
            allowed = ", ".join(sorted(self.rules.options)) or "none"
            raise self.error(f".option {word.strip()} changes what GNU as emits and is not supported (accepted: {allowed})")

    def _strings(self, rest: str, what: str, terminator: bytes) -> None:
        args = self._args(rest, what, 1, 1 << 20)
        blob = bytearray()
        for a in args:
            try:
                blob += parse_string(a) + terminator
            except ExprError as exc:
                raise self.error(f"{what}: {exc}") from None
        self._emit(len(blob), "bytes", bytes(blob))

    def d_ascii(self, rest: str) -> None:
        self._strings(rest, ".ascii", b"")

    def d_asciz(self, rest: str) -> None:
        self._strings(rest, ".asciz", b"\0")

    def d_space(self, rest: str) -> None:
        args = self._args(rest, ".space", 1, 2)
        n = self._value_now(self._parse_expr(args[0]), ".space")
        if n < 0:
            raise self.error(f".space {n}: the size cannot be negative")
        fill: object = self._parse_expr(args[1]) if len(args) > 1 else 0
        if n:
            self._emit(n, "fill", fill)

    def _switch(self, name: str) -> None:
        self.cur = self._section(name)

    def d_text(self, rest: str) -> None:
        self._args(rest, ".text", 0, 0)
        self._switch(TEXT)

    def d_data(self, rest: str) -> None:
        self._args(rest, ".data", 0, 0)
        self._switch(DATA)

    def d_section(self, rest: str) -> None:
        """``.section NAME[, "FLAGS"[, ...]]`` as GNU writes it: ``x`` marks the section as
        code, ``w`` as writable (``a`` is accepted); further arguments are ignored."""
        args = self._args(rest, ".section", 1, 4)
        name = args[0].strip('"').lstrip(".")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.$]*", name):
            raise self.error(f"bad section name '{args[0]}'")
        self._switch(name)
        if len(args) > 1:
            letters = args[1].strip()
            if not re.fullmatch(r'"[awx]*"', letters):
                raise self.error(f"bad section flags {letters} (want a string of a, w, x)")
            flags = FLAG_DATA | (FLAG_CODE if "x" in letters else 0) | (FLAG_WRITE if "w" in letters else 0)
            if self.cur.flags is not None and self.cur.flags != flags:
                raise self.error(f"section '{name}' was given other flags before ({self.where(self.cur.first_line)})")
            self.cur.flags = flags

    def d_entry(self, rest: str) -> None:
        (arg,) = self._args(rest, ".entry", 1, 1)
        if self.entry is not None:
            raise self.error(f"second .entry (the first is at {self.where(self.entry[1])})")
        self.entry = (self._parse_expr(arg), self.line, self.cur, self.cur.size)

    def d_global(self, rest: str) -> None:
        for name in self._args(rest, ".global", 1, 1 << 10):
            if not re.fullmatch(IDENT, name):
                raise self.error(f"bad symbol name '{name}' in .global")

    def d_isa(self, rest: str) -> None:
        (name,) = self._args(rest, ".isa", 1, 1)
        if self.started or self.symbols:
            raise self.error(".isa must come before any code, data or symbol")


_DIRECTIVES: dict[str, Callable[[Assembler, str], None]] = {
    ".equ": Assembler.d_equ,
    ".set": Assembler.d_equ,
    ".org": Assembler.d_org,
    ".align": Assembler.d_align,
    ".balign": Assembler.d_balign,
    ".p2align": Assembler.d_p2align,
    ".byte": Assembler.d_byte,
    ".half": Assembler.d_half,
    ".2byte": Assembler.d_half,
    ".short": Assembler.d_half,
    ".word": Assembler.d_word,
    ".4byte": Assembler.d_word,
    ".long": Assembler.d_word,
    ".dword": Assembler.d_dword,
    ".8byte": Assembler.d_dword,
    ".quad": Assembler.d_dword,
    ".zero": Assembler.d_space,
    ".type": Assembler.d_ignored,
    ".size": Assembler.d_ignored,
    ".file": Assembler.d_ignored,
    ".ident": Assembler.d_ignored,
    ".attribute": Assembler.d_ignored,
    ".weak": Assembler.d_global,
    ".local": Assembler.d_global,
    ".option": Assembler.d_option,
    ".ascii": Assembler.d_ascii,
    ".asciz": Assembler.d_asciz,
    ".string": Assembler.d_asciz,
    ".space": Assembler.d_space,
    ".skip": Assembler.d_space,
    ".text": Assembler.d_text,
    ".data": Assembler.d_data,
    ".section": Assembler.d_section,
    ".entry": Assembler.d_entry,
    ".global": Assembler.d_global,
    ".globl": Assembler.d_global,
    ".isa": Assembler.d_isa,
    ".include": Assembler.d_include,
}


def include_search_path(including: str, include_dirs: tuple[Path, ...] = ()) -> list[Path]:
    """Where ``.include "FILE"`` looks for a relative FILE, in order (the first that has it
    wins; an absolute FILE is itself):

    1. the directory of the file that says ``.include`` (a bundled guest's source: the
       bundled guests' directory; a source given as text: the current directory);
    2. each ``include_dirs`` directory (``asm --include-dir DIR``, as ``as -I DIR``);
    3. the bundled guests' directory, so that ``.include "klib.s"`` finds the library the
       bundled micro-guests share, unless a ``klib.s`` of your own comes first.
    """
    if including.startswith(BUNDLED_PREFIX):
        first = GUEST_DIR
    elif os.path.isfile(including):
        first = Path(including).parent
    else:
        first = Path(".")
    out: list[Path] = []
    for d in (first, *include_dirs, GUEST_DIR):
        if d not in out:
            out.append(d)
    return out


def assemble(source: str, isa: str | ISA, filename: str = "<string>",
             include_dirs: tuple[str | Path, ...] = ()) -> Image:
    """Assemble ``source`` for ``isa`` (a name, spec path or loaded ISA) into an Image.

    A ``.isa`` line in the source is checked for placement only: the ``isa`` argument
    wins, so one source builds for every variant of an ISA family.  ``filename`` names the
    source in messages and is where its ``.include`` files are looked for first;
    ``include_dirs`` are searched next (:func:`include_search_path`).
    """
    isa_obj = load_isa(isa) if isinstance(isa, str) else isa
    asm = Assembler(isa_obj, filename, include_dirs)
    asm.pass1(source)
    asm.layout()
    image = asm.pass2()
    if asm.errors:
        raise AsmErrors(asm.errors)
    return image


def isa_directive(source: str) -> tuple[str, int] | None:
    """The ``.isa NAME`` of the first statement line (name, line number), if there is one."""
    for number, raw in enumerate(source_lines(source), 1):
        text = strip_comment(raw).strip()
        if not text:
            continue
        m = _ISA_LINE.match(text)
        return (m.group(1), number) if m else None
    return None


def uses_directives(source: str) -> bool:
    """Does some statement of ``source`` start with one of this assembler's directives?
    (How a program loader tells an assembly source from a raw binary it was handed.)"""
    for raw in source_lines(source):
        words = strip_comment(raw).split(None, 1)
        if words and words[0].lower() in _DIRECTIVES:
            return True
    return False


def assemble_file(path: str | Path, isa: str | None = None, include_dirs: tuple[str | Path, ...] = ()) -> Image:
    """Assemble a file; without ``isa``, its first line must say ``.isa NAME``."""
    path = Path(path)
    try:
        source = read_input(path).decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a UTF-8 text file") from None
    if isa is None:
        found = isa_directive(source)
        if found is None:
            raise AsmError(str(path), 1, "no ISA given: start the file with '.isa NAME' or pass --isa NAME")
        isa, line = found
        try:
            load_isa(isa)
        except UnknownISAError as exc:
            raise AsmError(str(path), line, str(exc)) from None
    return assemble(source, isa, str(path), include_dirs)
