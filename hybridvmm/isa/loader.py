"""Read ``isa_specs/*.toml`` into an :class:`~hybridvmm.isa.spec.ISA`, validating everything.

Validation collects *all* problems (each as ``file:line: message``) before raising one
:class:`~hybridvmm.errors.SpecError`, in the manner of riscv-opcodes' load-time overlap and
coverage checks: overlapping encodings, bits covered twice or not at all, unknown fields,
operands, flow kinds and classes.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path
from typing import Any

from hybridvmm.errors import SpecError, UnknownISAError, UserError, note_input, parse_toml
from hybridvmm.isa.spec import (
    CLASS_TAGS,
    FIELD_KINDS,
    FLOW_KINDS,
    ISA,
    USER_MODES,
    AliasSpec,
    FieldSpec,
    FlowRule,
    FormatSpec,
    InstructionSpec,
    LengthRule,
    RegisterFile,
    Segment,
    TEMPLATE_OPERAND,
)

MAX_INSTRUCTION_BYTES = 16
"""The longest instruction a spec may describe (bit numbers run 0..127): a bound that keeps
a typo such as ``bits = "1000000:0"`` a spec error rather than a million-bit codec."""


def _show(value: Any) -> str:
    """A TOML value in an error message, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_HEADER_RE = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*(#.*)?$")
_KEY_RE = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|[A-Za-z0-9_.-]+)\s*=')


def specs_dir() -> Path:
    """Where the bundled specs live: the source tree's ``isa_specs/`` or the installed copy."""
    here = Path(__file__).resolve().parent.parent.parent / "isa_specs"
    if here.is_dir() and any(here.glob("*.toml")):
        return here
    return installed_specs_dir()


def installed_specs_dir() -> Path:
    """The specs shipped as package data ``hybridvmm.isa_specs`` (a regular package, so
    ``resources.files`` gives a real directory, not a namespace ``MultiplexedPath``)."""
    return Path(str(resources.files("hybridvmm.isa_specs").joinpath("FORMAT.md"))).parent


def available_isas() -> list[str]:
    """Names of the bundled ISAs (the stem of each spec file)."""
    return sorted(p.stem for p in specs_dir().glob("*.toml"))


def _split_key(text: str) -> list[str]:
    parts, cur, quoted = [], "", False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == "." and not quoted:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return parts


def line_index(text: str) -> dict[tuple[str, ...], int]:
    """Map each table header and key path to its (1-based) line, for error messages."""
    index: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.split("\n"), 1):  # TOML lines end at LF (or CRLF), nowhere else
        m = _HEADER_RE.match(line)
        if m and not line.lstrip().startswith("[["):
            table = tuple(_split_key(m.group(1)))
            index.setdefault(table, number)
            continue
        m = _KEY_RE.match(line)
        if m:
            key = tuple(_split_key(m.group(1)))
            index.setdefault(table + key, number)
    return index


class _Source:
    """A parsed spec file with a way to name the line of a key path."""

    def __init__(self, path: Path):
        self.path = path
        try:
            raw = path.read_bytes()
            note_input(path)
        except OSError as exc:
            raise SpecError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
        try:
            self.text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:  # TOML is UTF-8 by definition; say where it is not
            raise SpecError([f"{path}: not a UTF-8 text file (byte 0x{raw[exc.start]:02x} at offset {exc.start})"]) from None
        try:
            self.data = parse_toml(self.text, str(path))
        except UserError as exc:
            raise SpecError([str(exc)]) from None
        self.lines = line_index(self.text)

    def where(self, *path: str) -> str:
        for n in range(len(path), 0, -1):
            if path[:n] in self.lines:
                return f"{self.path.name}:{self.lines[path[:n]]}"
        return f"{self.path.name}:1"


def _is_file(path: Path) -> bool:
    """``path.is_file()``, False where the name cannot be a file at all (too long, say)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _resolve_path(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml" and _is_file(p):
        return p
    candidate = specs_dir() / f"{name_or_path}.toml"
    if _is_file(candidate):
        return candidate
    raise UnknownISAError(
        f"unknown ISA '{name_or_path}' (available: {', '.join(available_isas())}; or give a path to a .toml spec)"
    )


def _merge(base: dict[str, Any], over: dict[str, Any], depth: int) -> dict[str, Any]:
    """Variant merge: tables merge key by key down to one instruction's keys."""
    out = dict(base)
    for k, v in over.items():
        if depth > 0 and isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v, depth - 1)
        else:
            out[k] = v
    return out


def _parse_segment(text: Any) -> Segment:
    top = MAX_INSTRUCTION_BYTES * 8 - 1
    if isinstance(text, int) and not isinstance(text, bool):
        hi = lo = text
    else:
        m = re.fullmatch(r"\s*(\d+)\s*(?::\s*(\d+)\s*)?", text) if isinstance(text, str) else None
        if not m:
            raise ValueError(f"bad bit range {_show(text)} (want 'hi:lo' or 'n')")
        hi = int(m.group(1))
        lo = int(m.group(2)) if m.group(2) is not None else hi
    if not 0 <= lo <= hi <= top:
        raise ValueError(f"bad bit range {_show(text)}: bits are numbered 0..{top}, the low one first after the colon")
    return Segment(hi, lo)


def _parse_condition(text: str) -> tuple[tuple[str, str, int], ...]:
    conds = []
    for clause in filter(None, (c.strip() for c in text.split("&&"))):
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=)\s*(-?(?:0x[0-9a-fA-F]+|\d+))", clause)
        if not m:
            raise ValueError(f"bad flow condition '{clause}' (want 'field == N' or 'field != N')")
        conds.append((m.group(1), m.group(2), int(m.group(3), 0)))
    return tuple(conds)


def pattern_bits(pattern: str) -> str:
    """A pattern without its spacing: one character per bit, MSB first."""
    return "".join(ch for ch in pattern if ch not in " _\t")


@functools.lru_cache(maxsize=None)
def _load_cached(path: str) -> ISA:
    return _build(Path(path))


def load_isa(name_or_path: str) -> ISA:
    """Load a bundled ISA by name, or a spec file by path; raise UserError subclasses."""
    return _load_cached(str(_resolve_path(name_or_path).resolve()))


def _own_isa(name: str, kind: str, own: str) -> ISA:
    try:
        return load_isa(own)
    except UnknownISAError:
        raise UserError(f"{name}: {kind} for ISA '{own}', which is not a known ISA") from None


def check_family(name: str, kind: str, own: str, isa: str) -> None:
    """``--isa`` for a program with an ISA of its own may name that ISA or a variant of
    its family (the base ISA at the end of ``extends``) with the same word size, nothing
    else: rv64 extends rv32, but 64-bit code run on a 32-bit hart (or the reverse) would
    run wrongly without a word of warning (a 32-bit machine "passes" every rv64 p test)."""
    mine = _own_isa(name, kind, own)
    family = mine.lineage[-1]
    chosen = load_isa(isa)
    what = "an ELF" if kind == "an ELF file" else kind
    if chosen.lineage[-1] != family:
        raise UserError(f"{name}: {what} for {own}; --isa {isa} is not {family} or a variant of it "
                        f"(it is of the {chosen.lineage[-1]} family)")
    if chosen.word_bits != mine.word_bits:
        raise UserError(f"{name}: {what} for {own} ({mine.word_bits}-bit); --isa {isa} is a {chosen.word_bits}-bit ISA "
                        f"and would run it wrongly")


def _chain(path: Path) -> list[_Source]:
    """The spec file and the bases it extends, base first."""
    chain: list[_Source] = []
    seen: set[Path] = set()
    current: Path | None = path
    while current is not None:
        if current.resolve() in seen:
            raise SpecError([f"{current.name}:1: 'extends' forms a cycle"])
        seen.add(current.resolve())
        src = _Source(current)
        chain.insert(0, src)
        parent = _isa_table(src.data).get("extends")
        if parent is None:
            current = None
            continue
        if not isinstance(parent, str):
            kind = {int: "a number", float: "a number", bool: "a boolean", list: "an array", dict: "a table"}.get(
                type(parent), f"a {type(parent).__name__}")
            raise SpecError([f"{src.where('isa', 'extends')}: extends must name one ISA (a string), not {kind}"])
        sibling = current.parent / f"{parent}.toml"
        try:
            current = sibling if _is_file(sibling) else _resolve_path(parent)
        except UnknownISAError:
            raise SpecError([f"{src.where('isa', 'extends')}: extends unknown ISA '{parent}'"]) from None
    return chain


def _drop(base: dict[str, Any], src: _Source) -> dict[str, Any]:
    """``base`` without the entries ``src``'s ``[isa] drop`` removes, ``{ TABLE = [KEY, ...] }``:
    what a variant's base has and the variant lacks (TOML cannot delete by overriding).
    Dropping an entry the base does not have is an error, so a typo cannot pass unseen."""
    drop = _isa_table(src.data).get("drop")
    if drop is None:
        return base
    where = src.where("isa", "drop")
    if not isinstance(drop, dict) or not all(isinstance(v, list) and all(isinstance(k, str) for k in v) for v in drop.values()):
        raise SpecError([f"{where}: drop must be a table of lists of names, e.g. {{ aliases = [\"rdcycleh\"] }}"])
    out = dict(base)
    problems = []
    for table, keys in drop.items():
        entries = out.get(table)
        if not isinstance(entries, dict):
            problems.append(f"{where}: drop names table [{table}], which the base spec does not have")
            continue
        entries = dict(entries)
        for key in keys:
            if entries.pop(key, None) is None:
                problems.append(f"{where}: drop names {table}.{key}, which the base spec does not have")
        out[table] = entries
    if problems:
        raise SpecError(problems)
    return out


def _isa_table(data: dict[str, Any]) -> dict[str, Any]:
    """A file's ``[isa]`` table (empty if it is missing or not a table: the validator says so)."""
    table = data.get("isa", {})
    return table if isinstance(table, dict) else {}


def _build(path: Path) -> ISA:
    chain = _chain(path)
    data: dict[str, Any] = {}
    origin: dict[tuple[str, ...], _Source] = {}
    for src in chain:
        data = _drop(data, src)
        data = _merge(data, src.data, depth=2)
        for top, table in src.data.items():
            origin[(top,)] = src
            if isinstance(table, dict):
                for key in table:
                    origin[(top, key)] = src
    lineage = tuple(str(_isa_table(src.data).get("name", src.path.stem)) for src in reversed(chain))
    return _Validator(data, origin, chain[-1]).build(lineage)


class _Validator:
    """Turns merged TOML data into an ISA, collecting every problem with its location."""

    def __init__(self, data: dict[str, Any], origin: dict[tuple[str, ...], _Source], main: _Source):
        self.data = data
        self.origin = origin
        self.main = main
        self.problems: list[str] = []

    def where(self, *path: str) -> str:
        for n in range(len(path), 0, -1):
            src = self.origin.get(path[:n])
            if src is not None:
                return src.where(*path)
        return self.main.where(*path)

    def problem(self, path: tuple[str, ...], message: str) -> None:
        self.problems.append(f"{self.where(*path)}: {message}")

    def table(self, name: str) -> dict[str, Any]:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            self.problem((name,), f"[{name}] must be a table")
            return {}
        return value

    # Every value read from a spec goes through one of these: a wrong type or an out-of-range
    # number is a problem with its line, never an exception further on.
    def integer(self, where: tuple[str, ...], value: Any, what: str, lo: int, hi: int, default: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            self.problem(where, f"{what} must be an integer in {lo}..{hi}, not {_show(value)}")
            return default
        return value

    def string(self, where: tuple[str, ...], value: Any, what: str, default: str = "") -> str:
        if not isinstance(value, str):
            self.problem(where, f"{what} must be a string, not {_show(value)}")
            return default
        return value

    def boolean(self, where: tuple[str, ...], value: Any, what: str) -> bool:
        if not isinstance(value, bool):
            self.problem(where, f"{what} must be true or false, not {_show(value)}")
            return False
        return value

    def mapping(self, where: tuple[str, ...], value: Any, what: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.problem(where, f"{what} must be a table, not {_show(value)}")
            return {}
        return value

    def strings(self, where: tuple[str, ...], value: Any, what: str) -> list[str]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(where, f"{what} must be a list of strings, not {_show(value)}")
            return []
        return value

    # --- header -----------------------------------------------------------------
    def header(self) -> dict[str, Any]:
        isa = self.table("isa")
        out: dict[str, Any] = {}
        name = isa.get("name")
        if not isinstance(name, str) or not name:
            self.problem(("isa", "name"), "[isa] needs a 'name'")
            name = "?"
        out["name"] = name
        out["description"] = self.string(("isa", "description"), isa.get("description", ""), "description")
        out["word_bits"] = self.integer(("isa", "word_bits"), isa.get("word_bits", 32), "word_bits", 8, 64, 32)
        out["parcel_bytes"] = self.integer(("isa", "parcel_bytes"), isa.get("parcel_bytes", 4), "parcel_bytes",
                                           1, MAX_INSTRUCTION_BYTES, 4)
        out["endian"] = isa.get("endian", "little")
        if out["endian"] not in ("little", "big"):
            self.problem(("isa", "endian"), f"endian must be 'little' or 'big', not {_show(out['endian'])}")
            out["endian"] = "little"
        out["alignment"] = self.integer(("isa", "alignment"), isa.get("alignment", out["parcel_bytes"]), "alignment",
                                        1, MAX_INSTRUCTION_BYTES, out["parcel_bytes"])
        out["target_prefix"] = self.string(("isa", "target_prefix"), isa.get("target_prefix", "0x"), "target_prefix", "0x")
        out["extends"] = isa.get("extends")
        if out["extends"] is not None and not isinstance(out["extends"], str):
            self.problem(("isa", "extends"), f"extends must name an ISA, not {_show(out['extends'])}")
            out["extends"] = None
        rule = isa.get("length")
        lengths: dict[int, int] = {}
        seg = Segment(0, 0)
        if not isinstance(rule, dict) or "bits" not in rule or "map" not in rule:
            self.problem(("isa", "length"), "[isa] needs 'length = { bits = \"hi:lo\", map = { \"value\" = bytes } }'")
        else:
            try:
                seg = _parse_segment(rule["bits"])
                if seg.hi >= out["parcel_bytes"] * 8:
                    raise ValueError(f"length bits {seg} lie outside the first parcel")
            except ValueError as exc:
                self.problem(("isa", "length"), str(exc))
            for k, v in self.mapping(("isa", "length"), rule["map"], "the length map").items():
                try:
                    key = int(k, 0)
                except ValueError:
                    self.problem(("isa", "length"), f"bad length map entry {_show(k)} = {_show(v)}")
                    continue
                if not 0 <= key < 1 << seg.width:
                    self.problem(("isa", "length"), f"length map entry {_show(k)} does not fit the length bits {seg}")
                    continue
                v = self.integer(("isa", "length"), v, f"length map entry {k!r}", 1, MAX_INSTRUCTION_BYTES, 0)
                if v and v % out["parcel_bytes"]:
                    self.problem(("isa", "length"), f"length {v} is not a whole number of parcels")
                elif v:
                    lengths[key] = v
        out["length_rule"] = LengthRule(seg, lengths)
        out["system"] = dict(self.table("system"))
        return out

    # --- registers, CSRs ---------------------------------------------------------
    def registers(self) -> dict[str, RegisterFile]:
        files: dict[str, RegisterFile] = {}
        for fname, spec in self.table("registers").items():
            if not isinstance(spec, dict) or not isinstance(spec.get("names"), list):
                self.problem(("registers", fname), f"register file '{fname}' needs a 'names' list")
                continue
            names = tuple(n.lower() for n in self.strings(("registers", fname), spec["names"], f"register file '{fname}' names"))
            aliases = {str(k).lower(): self.integer(("registers", fname), v, f"alias '{k}'", 0, max(len(names) - 1, 0), 0)
                       for k, v in self.mapping(("registers", fname), spec.get("aliases", {}), "aliases").items()}
            prefix = spec.get("numbered")
            if prefix is not None and not isinstance(prefix, str):
                self.problem(("registers", fname), f"numbered must be a prefix string, not {_show(prefix)}")
                prefix = None
            if prefix:
                for i in range(len(names)):
                    aliases.setdefault(f"{prefix}{i}", i)
            for alias, number in aliases.items():
                if not 0 <= number < len(names):
                    self.problem(("registers", fname), f"alias '{alias}' names register {number}, outside 0..{len(names) - 1}")
            files[fname] = RegisterFile(fname, names, aliases)
        if "gpr" not in files:
            self.problem(("registers",), "a [registers.gpr] register file is required")
        return files

    def csrs(self) -> dict[str, int]:
        out = {}
        for name, number in self.table("csrs").items():
            if not isinstance(number, int) or not 0 <= number < 4096:
                self.problem(("csrs", name), f"CSR '{name}' needs a number in 0..4095")
                continue
            out[name.lower()] = number
        return out

    # --- fields and formats -------------------------------------------------------
    def fields(self, registers: dict[str, RegisterFile]) -> dict[str, FieldSpec]:
        out = {}
        for name, spec in self.table("fields").items():
            where = ("fields", name)
            if isinstance(spec, (str, int)):
                spec = {"bits": spec}
            if not isinstance(spec, dict) or "bits" not in spec:
                self.problem(where, f"field '{name}' needs 'bits'")
                continue
            bits = spec["bits"] if isinstance(spec["bits"], list) else [spec["bits"]]
            try:
                segments = tuple(_parse_segment(b) for b in bits)
            except ValueError as exc:
                self.problem(where, f"field '{name}': {exc}")
                continue
            covered = 0
            for s in segments:
                if covered & s.mask:
                    self.problem(where, f"field '{name}' covers bit(s) {s} twice")
                covered |= s.mask
            kind = spec.get("kind", "imm")
            if not isinstance(kind, str) or kind not in FIELD_KINDS:
                self.problem(where, f"field '{name}' has unknown kind '{kind}' (known: {', '.join(FIELD_KINDS)})")
            regfile = self.string(where, spec.get("regs", "gpr"), f"field '{name}' regs", "gpr")
            if kind == "reg" and regfile not in registers:
                self.problem(where, f"field '{name}' names unknown register file '{regfile}'")
            out[name] = FieldSpec(
                name=name,
                segments=segments,
                kind=kind,
                signed=self.boolean(where, spec.get("signed", False), f"field '{name}' signed"),
                shift=self.integer(where, spec.get("shift", 0), f"field '{name}' shift", 0, 64, 0),
                regfile=regfile,
                print_hex=spec.get("print", "dec") == "hex",
                wrap=self.boolean(where, spec.get("wrap", False), f"field '{name}' wrap"),
            )
        return out

    def formats(self, fields: dict[str, FieldSpec], default_length: int | None) -> dict[str, FormatSpec]:
        out = {}
        for name, spec in self.table("formats").items():
            where = ("formats", name)
            if not isinstance(spec, dict):
                self.problem(where, f"format '{name}' must be a table")
                continue
            length = spec.get("length", default_length)
            if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= MAX_INSTRUCTION_BYTES:
                self.problem(where, f"format '{name}' needs a 'length' in bytes (1..{MAX_INSTRUCTION_BYTES})")
                continue
            names = tuple(self.strings(where, spec.get("fields", []), f"format '{name}' fields"))
            covered = 0
            for f in names:
                if f not in fields:
                    self.problem(where, f"format '{name}' names unknown field '{f}'")
                    continue
                fs = fields[f]
                if fs.mask >> (length * 8):
                    self.problem(where, f"field '{f}' of format '{name}' lies outside its {length * 8} bits")
                if covered & fs.mask:
                    self.problem(where, f"format '{name}': field '{f}' covers bits another field covers")
                covered |= fs.mask
            out[name] = FormatSpec(name, length, names)
        return out

    # --- instructions -------------------------------------------------------------
    def instruction(self, name: str, spec: Any, formats, fields, header) -> InstructionSpec | None:
        where = ("instructions", name)
        if not isinstance(spec, dict):
            self.problem(where, f"instruction '{name}' must be a table")
            return None
        ok = True
        for key in ("pattern", "format", "asm"):
            if not isinstance(spec.get(key), str):
                self.problem(where, f"instruction '{name}' needs '{key}'")
                ok = False
        if not ok:
            return None
        fmt = formats.get(spec["format"])
        if fmt is None:
            self.problem(where, f"instruction '{name}' uses unknown format '{spec['format']}'")
            return None
        bits = pattern_bits(spec["pattern"])
        if set(bits) - set("01."):
            self.problem(where, f"instruction '{name}': pattern may hold only '0', '1', '.' and spaces")
            return None
        if len(bits) != fmt.length * 8:
            self.problem(where, f"instruction '{name}': pattern has {len(bits)} bits, format '{fmt.name}' is {fmt.length * 8}")
            return None
        mask = match = dots = 0
        for i, ch in enumerate(reversed(bits)):
            if ch == ".":
                dots |= 1 << i
            else:
                mask |= 1 << i
                match |= int(ch) << i
        field_bits = 0
        twice = 0
        for f in fmt.fields:
            if f in fields:
                twice |= field_bits & fields[f].mask
                field_bits |= fields[f].mask
        twice |= field_bits & mask
        if twice:
            self.problem(where, f"instruction '{name}': bit(s) {_bit_list(twice)} covered twice (field and pattern)")
        uncovered = dots & ~field_bits
        if uncovered:
            self.problem(where, f"instruction '{name}': bit(s) {_bit_list(uncovered)} covered by no field and no fixed bit")
        rule: LengthRule = header["length_rule"]
        seg = rule.segment
        if mask & seg.mask != seg.mask:
            self.problem(where, f"instruction '{name}': length bits {seg} must be fixed in the pattern")
        elif rule.length_of(match) != fmt.length:
            self.problem(where, f"instruction '{name}': its length bits say {rule.length_of(match)} bytes, the pattern is {fmt.length}")
        operands = TEMPLATE_OPERAND.findall(spec["asm"])
        for op in operands:
            if op not in fmt.fields:
                self.problem(where, f"instruction '{name}': asm template names unknown operand '{op}'")
        for f in fmt.fields:
            if f not in operands:
                self.problem(where, f"instruction '{name}': field '{f}' of format '{fmt.name}' is missing from the asm template")
        flow_rules = self.flow_rules(name, spec.get("flow", "none"), fmt)
        classes = self.strings(where, spec.get("class", []), f"instruction '{name}' class")
        for c in classes:
            if c not in CLASS_TAGS:
                self.problem(where, f"instruction '{name}': unknown class '{c}' (known: {', '.join(CLASS_TAGS)})")
        user_mode = spec.get("user_mode")
        if user_mode is not None and (not isinstance(user_mode, str) or user_mode not in USER_MODES):
            self.problem(where, f"instruction '{name}': user_mode must be one of {', '.join(USER_MODES)}")
            user_mode = None
        src = self.origin.get(where, self.main)
        return InstructionSpec(
            name=name,
            pattern=spec["pattern"],
            format=fmt,
            asm=" ".join(spec["asm"].split()),
            flow_rules=flow_rules,
            classes=frozenset(c for c in classes if c in CLASS_TAGS),
            user_mode=user_mode,
            doc=self.string(where, spec.get("doc", ""), f"instruction '{name}' doc"),
            mask=mask,
            match=match,
            origin=src.where(*where),
        )

    def flow_rules(self, name: str, flow: Any, fmt: FormatSpec) -> tuple[FlowRule, ...]:
        where = ("instructions", name)
        rules: list[FlowRule] = []
        entries = [["", flow]] if isinstance(flow, str) else flow
        if not isinstance(entries, list):
            self.problem(where, f"instruction '{name}': flow must be a kind or a list of [condition, kind]")
            return (FlowRule((), "none"),)
        for entry in entries:
            if not (isinstance(entry, list) and len(entry) == 2 and all(isinstance(e, str) for e in entry)):
                self.problem(where, f"instruction '{name}': flow rule {entry!r} is not [\"condition\", \"kind\"]")
                continue
            cond_text, kind = entry
            if kind not in FLOW_KINDS:
                self.problem(where, f"instruction '{name}': unknown flow kind '{kind}' (known: {', '.join(FLOW_KINDS)})")
                kind = "none"
            try:
                conds = _parse_condition(cond_text)
            except ValueError as exc:
                self.problem(where, f"instruction '{name}': {exc}")
                conds = ()
            for fname, _, _ in conds:
                if fname not in fmt.fields:
                    self.problem(where, f"instruction '{name}': flow condition names unknown field '{fname}'")
            rules.append(FlowRule(conds, kind))
        if not rules or rules[-1].conditions:
            rules.append(FlowRule((), "none"))
        return tuple(rules)

    def check_overlaps(self, instructions: dict[str, InstructionSpec]) -> None:
        by_length: dict[int, list[InstructionSpec]] = {}
        for ins in instructions.values():
            by_length.setdefault(ins.length, []).append(ins)
        for group in by_length.values():
            for i, a in enumerate(group):
                for b in group[i + 1:]:
                    common = a.mask & b.mask
                    if (a.match ^ b.match) & common == 0:
                        self.problem(("instructions", b.name), f"encoding of '{b.name}' overlaps '{a.name}' ({a.origin})")

    def aliases(self, instructions: dict[str, InstructionSpec]) -> dict[str, AliasSpec]:
        mnemonics = {i.mnemonic for i in instructions.values()}
        out = {}
        for name, spec in self.table("aliases").items():
            where = ("aliases", name)
            if not isinstance(spec, dict) or not isinstance(spec.get("asm"), str) or not isinstance(spec.get("expands"), str):
                self.problem(where, f"alias '{name}' needs 'asm' and 'expands'")
                continue
            for line in spec["expands"].split(";"):
                target = line.split(None, 1)[0] if line.strip() else ""
                if target not in mnemonics:
                    self.problem(where, f"alias '{name}' expands to unknown instruction '{target}'")
            alias_ops = set(TEMPLATE_OPERAND.findall(spec["asm"]))
            for op in TEMPLATE_OPERAND.findall(spec["expands"]):
                if op not in alias_ops:
                    self.problem(where, f"alias '{name}': expansion names operand '{op}' its template lacks")
            out[name] = AliasSpec(name, " ".join(spec["asm"].split()), spec["expands"], self.where(*where))
        return out

    def build(self, lineage: tuple[str, ...]) -> ISA:
        header = self.header()
        registers = self.registers()
        csrs = self.csrs()
        fields = self.fields(registers)
        lengths = set(header["length_rule"].lengths.values())
        default_length = next(iter(lengths)) if len(lengths) == 1 else None
        formats = self.formats(fields, default_length)
        instructions: dict[str, InstructionSpec] = {}
        for name, spec in self.table("instructions").items():
            ins = self.instruction(name, spec, formats, fields, header)
            if ins is not None:
                instructions[name] = ins
        mnemonic_seen: dict[str, str] = {}
        for ins in instructions.values():
            if ins.mnemonic in mnemonic_seen:
                self.problem(("instructions", ins.name), f"mnemonic '{ins.mnemonic}' is used by '{mnemonic_seen[ins.mnemonic]}' too")
            mnemonic_seen[ins.mnemonic] = ins.name
        self.check_overlaps(instructions)
        aliases = self.aliases(instructions)
        if not instructions and not self.problems:
            self.problem(("instructions",), "no instructions defined")
        if self.problems:
            raise SpecError(self.problems)
        files = tuple(dict.fromkeys(str(s.path) for s in self.origin.values()))
        return ISA(
            registers=registers,
            csrs=csrs,
            fields=fields,
            formats=formats,
            instructions=instructions,
            aliases=aliases,
            files=files,
            lineage=lineage,
            **header,
        )


def _bit_list(mask: int) -> str:
    bits = [i for i in range(mask.bit_length()) if mask >> i & 1]
    return ",".join(str(b) for b in reversed(bits))
