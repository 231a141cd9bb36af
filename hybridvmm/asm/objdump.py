"""``disasm --style objdump``: GNU objdump's ``-d`` listing, byte for byte.

The layout is objdump's (``objdump.c``: ``disassemble_section`` and
``disassemble_bytes``): the file header, one ``Disassembly of section NAME:`` per
executable section, a ``ADDR <symbol>:`` label wherever a symbol starts a run, each
instruction as ``ADDR:<tab>WORD<pad><tab>mnemonic<tab>operands``, runs of zeros folded
into ``...``, and branch targets followed by ``<symbol+0xoff>`` (chosen by
:mod:`hybridvmm.symbols`).  What the RISC-V disassembler adds — data regions marked by
``$d`` mapping symbols, the length and spelling of words that do not decode, names
binutils prefers, and ``# ADDR <symbol>`` comments after ``lui``/``auipc`` pairs — comes
from the spec's ``[system.objdump]`` table (documented in ``isa_specs/FORMAT.md``), so
nothing here names an ISA.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path

from hybridvmm.asm.disassembler import code_sections, format_operand
from hybridvmm.asm.expr import Expr, ExprError
from hybridvmm.elf import ElfProgram, arch_extensions
from hybridvmm.errors import DecodeError, SpecError
from hybridvmm.image import Image
from hybridvmm.isa.decoder import Decoder, Instruction
from hybridvmm.isa.loader import load_isa
from hybridvmm.isa.spec import ISA, TEMPLATE_OPERAND
from hybridvmm.symbols import Symbol, SymbolTable, is_mapping_symbol

SKIP_ZEROES = 8
"""objdump folds a run of at least this many zero bytes into ``...``."""
SKIP_ZEROES_AT_END = 3
"""…and a shorter run that ends the chunk, if it is shorter than this."""


@dataclass(frozen=True)
class Region:
    """One section objdump disassembles."""

    name: str
    address: int
    data: bytes


@dataclass
class _Style:
    """The ISA's ``[system.objdump]`` table, read once."""

    bytes_per_line: int
    names: dict[int, str]
    lengths: list[tuple[int, str, int, int]]
    word_lengths: set[int]
    data_directives: dict[int, str]
    high: dict[str, tuple[str, Expr]]
    low: dict[str, tuple[str, str]]
    absolute_bases: set[int]
    gp_register: int | None
    gp_symbol: str | None
    low_needs_base: set[str]
    reserved: list[tuple[int, int]]
    extensions: dict[str, list[str]]
    low_repeat: set[str]
    low_wide: set[str]

    @classmethod
    def of(cls, isa: ISA) -> "_Style":
        table = dict(isa.system.get("objdump", {}))
        where = f"{Path(isa.files[-1]).name if isa.files else isa.name}: [system.objdump]"
        try:
            gpr = isa.registers["gpr"]
            addresses = dict(table.get("addresses", {}))
            high = {}
            for name, text in dict(addresses.get("high", {})).items():
                dst, _, expr = str(text).partition("=")
                high[name] = (dst.strip(), Expr.parse(expr))
            low = {name: (str(pair[0]), str(pair[1])) for name, pair in dict(addresses.get("low", {})).items()}
            gp = dict(addresses.get("global_pointer", {}))
            style = cls(
                bytes_per_line=int(table.get("bytes_per_line", 8)),
                names={int(str(k), 0): str(v) for k, v in dict(table.get("names", {})).items()},
                lengths=[(int(m), str(op), int(v), int(n)) for m, op, v, n in table.get("lengths", [])],
                word_lengths={int(n) for n in table.get("word_lengths", [])},
                data_directives={int(k): str(v) for k, v in dict(table.get("data_directives", {})).items()},
                high=high,
                low=low,
                absolute_bases={_register(gpr, r) for r in addresses.get("absolute_bases", [])},
                gp_register=_register(gpr, gp["register"]) if "register" in gp else None,
                gp_symbol=str(gp["symbol"]) if "symbol" in gp else None,
                low_needs_base=set(addresses.get("low_needs_base", [])),
                reserved=[(int(m), int(v)) for m, v in table.get("reserved", [])],
                extensions={str(k): [str(f) for f in v] for k, v in dict(table.get("extensions", {})).items()},
                low_repeat=set(addresses.get("low_repeat", [])),
                low_wide=set(addresses.get("low_wide", [])),
            )
        except (KeyError, TypeError, ValueError, ExprError) as exc:
            raise SpecError([f"{where}: malformed ({exc})"]) from None
        bad = [op for _, op, _, _ in style.lengths if op not in ("==", "!=")]
        unknown = [n for n in (*style.high, *style.low, *style.low_wide) if n not in isa.instructions]
        if bad or unknown:
            raise SpecError([f"{where}: " + (f"length rule operator {bad[0]!r} is not == or !=" if bad else f"names unknown instruction '{unknown[0]}'")])
        return style

    def parcel_length(self, parcel: int) -> int:
        """The ``lengths`` rule for a parcel's first 16 bits (no rule holds: 2 bytes)."""
        for mask, op, value, length in self.lengths:
            if ((parcel & mask) == value) == (op == "=="):
                return length
        return 2


def _register(gpr, name: str) -> int:
    number = gpr.lookup(str(name))
    if number is None:
        raise ValueError(f"'{name}' is not a register")
    return number


@dataclass
class _Layer:
    """One spec a parcel is tried against: the ISA, its decoder and its objdump table."""

    isa: ISA
    decoder: Decoder
    style: _Style

    @classmethod
    def of(cls, isa: ISA) -> "_Layer":
        return cls(isa, Decoder(isa), _Style.of(isa))


def _companions(isa: ISA, style: _Style) -> dict[str, list[_Layer]]:
    """The specs ``[system.objdump] extensions`` names, per extension letter or name;
    paths are relative to the spec file that names them."""
    out: dict[str, list[_Layer]] = {}
    for ext, paths in style.extensions.items():
        layers = []
        for rel in paths:
            found = next((Path(f).parent / rel for f in isa.files if (Path(f).parent / rel).is_file()), None)
            if found is None:
                raise SpecError([f"{isa.name}: [system.objdump] extensions: no spec file '{rel}' beside the spec"])
            layers.append(_Layer.of(load_isa(str(found))))
        out[ext] = layers
    return out


@dataclass
class _Unit:
    """One thing printed on a line: its length, how its bytes are grouped, its text."""

    length: int
    chunk: int
    per_line: int
    text: str


@dataclass
class _Listing:
    isa: ISA
    style: _Style
    table: SymbolTable
    decoder: Decoder
    gp: int | None
    companions: dict[str, list[_Layer]] = field(default_factory=dict)
    default_extensions: set[str] = field(default_factory=set)
    _section_name: str = ""
    _mark_cache: dict[str, list[Symbol]] = field(default_factory=dict)
    hi: dict[int, int] = field(default_factory=dict)
    out: list[str] = field(default_factory=list)
    chunk: int = 1  # bytes per chunk of the last unit disassembled: raw object dumps keep it

    # --- addresses as objdump prints them ------------------------------------------------
    def vma(self, value: int) -> str:
        return f"{value & self.mask:0{self.digits}x}"

    @property
    def mask(self) -> int:
        return (1 << self.isa.word_bits) - 1

    @property
    def digits(self) -> int:
        return self.isa.word_bits // 4

    def address(self, value: int, section: str) -> str:
        """``objdump_print_address``: ``80000050 <reset_vector>`` (no symbols: ``0x…``)."""
        value &= self.mask
        if not self.table:
            return f"0x{value:x}"
        return f"{value:x} {self.table.label(value, section)}"

    # --- sections ------------------------------------------------------------------------
    @property
    def base(self) -> _Layer:
        return _Layer(self.isa, self.decoder, self.style)

    def section(self, region: Region) -> None:
        self._section_name = region.name
        self.out.append(f"\nDisassembly of section {region.name}:\n")
        syms = self.table.sorted_for(region.name)
        found = self.table.find(region.address, region.name, require_section=True)
        place = syms.index(found) if found is not None else 0
        sym: Symbol | None = found
        stop = len(region.data)
        offset = 0
        while offset < stop:
            addr = region.address + offset
            label = self._label(sym, addr, region)
            self.out.append(f"\n{self.vma(addr)} {label}:\n")
            if sym is not None and sym.address > addr:
                nextsym: Symbol | None = sym
            elif sym is None:
                nextsym = None
            else:
                while place < len(syms) and not (
                    syms[place].section == region.name and syms[place].address > sym.address and syms[place].valid
                ):
                    place += 1
                nextsym = syms[place] if place < len(syms) else None
            if sym is not None and sym.address > addr:
                nextstop = sym.address - region.address
            elif nextsym is None:
                nextstop = stop
            else:
                nextstop = nextsym.address - region.address
            if nextstop > stop or nextstop <= offset:
                nextstop = stop
            insns = (
                sym is None
                or sym.section != region.name
                or sym.address > addr
                or sym.kind != "object"
                or "gnu_compiled" in sym.name
                or "gcc2_compiled" in sym.name
            )
            self._bytes(region, offset, nextstop, insns)
            offset = nextstop
            sym = nextsym

    def _label(self, sym: Symbol | None, addr: int, region: Region) -> str:
        if sym is None:
            delta = addr - region.address
            return f"<{region.name}" + (f"+0x{delta:x}" if delta > 0 else f"-0x{-delta:x}" if delta < 0 else "") + ">"
        delta = addr - sym.address
        return f"<{sym.name}" + (f"+0x{delta:x}" if delta > 0 else f"-0x{-delta:x}" if delta < 0 else "") + ">"

    def _bytes(self, region: Region, start: int, stop: int, insns: bool) -> None:
        data = region.data
        end_text = f"{(region.address + len(data)) & self.mask:0{self.digits}x}"
        skip = len(end_text) - len(end_text.lstrip("0"))
        if skip == len(end_text) and region.address != 0:
            skip = 0
        if skip:
            skip = (skip - 1) & -4
        offset = start
        per_line = self.style.bytes_per_line if insns else 16
        while offset < stop:
            zeros = 0
            while offset + zeros < stop and data[offset + zeros] == 0:
                zeros += 1
            if zeros >= SKIP_ZEROES or (offset + zeros == stop and zeros < SKIP_ZEROES_AT_END):
                if offset + zeros != stop:
                    zeros &= ~3
                self.out.append("\t...\n")
                offset += zeros
                continue
            where = self._where(region.address + offset, skip)
            if insns:
                unit = self._unit(region, offset, stop)
                per_line = unit.per_line
                self.chunk = unit.chunk
            else:
                length = min(16, stop - offset)
                text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in data[offset:offset + length])
                unit = _Unit(length, self.chunk, 16, text)
            line = [where]
            shown = min(unit.length, per_line)
            line.append(self._raw(data, offset, shown, unit.chunk, stop))
            pad = shown
            while pad < per_line:
                line.append("  " * unit.chunk + " ")
                pad += unit.chunk
            line.append("\t" if insns else "    ")
            line.append(unit.text)
            while shown < unit.length:
                line.append("\n" + self._where(region.address + offset + shown, skip))
                more = min(unit.length, shown + per_line)
                line.append(self._raw(data, offset + shown, more - shown, unit.chunk, stop))
                shown = more
            self.out.append("".join(line) + "\n")
            offset += unit.length

    def _where(self, address: int, skip: int) -> str:
        text = self.vma(address)[skip:]
        stripped = text.lstrip("0")
        text = " " * (len(text) - len(stripped)) + stripped if stripped else " " * (len(text) - 1) + "0"
        return f"{text}:\t"

    @staticmethod
    def _raw(data: bytes, offset: int, length: int, chunk: int, stop: int) -> str:
        parts = []
        for j in range(offset, offset + length, chunk):
            parts.append(data[j:j + chunk][::-1].hex() + " " if j + chunk <= stop else " ")
        return "".join(parts)

    # --- one unit: an instruction, a data word, or a word that does not decode -------------
    def _unit(self, region: Region, offset: int, stop: int) -> _Unit:
        address = region.address + offset
        data = region.data
        mapping = self._mapping(region, address)
        if mapping is not None and mapping.name.startswith("$d"):
            length = self._data_length(region, address)
            value = int.from_bytes(data[offset:offset + length], "little")
            directive = self.style.data_directives.get(length, ".byte")
            return _Unit(length, length, 6 if length == 1 else 8, f"{directive}\t0x{value:0{2 * length}x}")
        parcel_bytes = min(2, self.isa.parcel_bytes)
        parcel = int.from_bytes(data[offset:offset + parcel_bytes], "little")
        length = self.style.parcel_length(parcel) if self.style.lengths else self.decoder.length_at(data, offset)
        length = length or self.isa.parcel_bytes
        chunk = 4 if length % 4 == 0 else 2
        raw = data[offset:offset + length]
        word = int.from_bytes(raw, "little")
        text = self._decode(self._layers(mapping), data, offset, address, stop, length, word) if len(raw) == length else None
        if text is None:
            if length in self.style.word_lengths:
                text = f".{length}byte\t0x{word:x}"
            else:
                text = ".byte\t" + ", ".join(f"0x{b:02x}" for b in raw)
        return _Unit(length, chunk, self.style.bytes_per_line, text)

    def _layers(self, mapping: Symbol | None) -> list[_Layer]:
        """The specs to try, companions of the extensions in force first, then this one."""
        extensions = self.default_extensions
        if mapping is not None and mapping.name.startswith("$x") and len(mapping.name) > 2:
            extensions = arch_extensions(mapping.name[2:].split(".")[0])
        self.default_extensions = extensions  # a bare $x keeps the ISA string before it
        layers = [layer for ext, group in self.companions.items() if ext in extensions for layer in group]
        return layers + [self.base]

    def _decode(self, layers: list[_Layer], data: bytes, offset: int, address: int, stop: int, length: int, word: int) -> str | None:
        fitting = [layer for layer in layers if length in layer.isa.lengths]
        for layer in fitting:
            if word in layer.style.names:
                return layer.style.names[word]
        for layer in fitting:
            if any(word & mask == match for mask, match in layer.style.reserved):
                return None
        for layer in fitting:
            try:
                ins = layer.decoder.decode(memoryview(data)[:stop], address, offset)
            except DecodeError:
                continue
            if ins.length == length:
                return self._instruction(ins, layer, self._section_name)
        return None

    def _mapping(self, region: Region, address: int) -> Symbol | None:
        marks = self._marks(region.name)
        i = bisect.bisect_right([m.address for m in marks], address)
        return marks[i - 1] if i else None

    def _marks(self, section: str) -> list[Symbol]:
        cache = self._mark_cache
        if section not in cache:
            cache[section] = [s for s in self.table.sorted_for(section) if s.section == section and is_mapping_symbol(s.name)]
        return cache[section]

    def _data_length(self, region: Region, address: int) -> int:
        end = region.address + len(region.data)
        length = end - address if end > address else 4
        later = [m.address for m in self._marks(region.name) if m.address > address]
        if later and later[0] - address < length:
            length = later[0] - address
        length = min(length, end - address)
        if length == 3:
            length = 2
        return min(length, 4)

    def _instruction(self, ins: Instruction, layer: _Layer, section: str) -> str:
        spec = ins.spec
        mnemonic, _, rest = spec.asm.partition(" ")
        fields = layer.isa.fields
        comment = self._comment(ins, layer.style)

        def operand(m) -> str:
            name = m.group(1)
            text = format_operand(ins, name, layer.isa, "")
            if fields[name].kind in ("pcrel", "abs"):
                target = int(text, 16)
                return self.address(target, section)
            return text

        args = TEMPLATE_OPERAND.sub(operand, rest.strip())
        text = f"{mnemonic}\t{args}" if args else mnemonic
        if comment is not None:
            text += f" # {self.address(comment, section)}"
        return text

    def _comment(self, ins: Instruction, style: _Style) -> int | None:
        """riscv-dis.c's ``maybe_print_address``, driven by ``[system.objdump.addresses]``."""
        name = ins.spec.name
        if name in style.high:
            dst, expr = style.high[name]
            try:
                value = expr.evaluate(lambda f: ins.address if f == "pc" else ins.operands[f], lambda: ins.address)
            except (ExprError, KeyError):
                return None
            self.hi[ins.operands[dst]] = value
            return None
        if name not in style.low:
            return None
        base_field, offset_field = style.low[name]
        base, offset = ins.operands[base_field], ins.operands[offset_field]
        if name in style.low_needs_base and base == 0:
            return None
        value = self._maybe_address(base, offset, None)
        if name in style.low_repeat:
            value = self._maybe_address(base, offset, value)
        if value is None:
            return None
        if name in style.low_wide:  # the sum of a 32-bit operation, sign-extended
            value = ((value & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000
        return value & self.mask

    def _maybe_address(self, base: int, offset: int, value: int | None) -> int | None:
        """One ``maybe_print_address`` call: the remembered high part (then forgotten),
        else gp-relative, else an absolute base; otherwise ``value`` stands."""
        if base in self.hi:
            high = self.hi.pop(base)
            return (high if base != 0 else 0) + offset
        if base == self.style.gp_register and self.gp is not None:
            return self.gp + offset
        if base in self.style.absolute_bases:
            return offset
        return value


def objdump_listing(image: Image, isa: ISA, filename: str, program: ElfProgram | None = None) -> str:
    """The whole ``objdump -d -M no-aliases`` text for an image (or the ELF it came from)."""
    style = _Style.of(isa)
    if program is not None:
        table = program.symbol_table()
        regions = [Region(s.name, s.address, s.data) for s in program.sections if s.executable and s.kind != "SHT_NOBITS" and s.size]
        file_format = program.file_format
    else:
        table = SymbolTable.from_image(image)
        regions = [Region(s.name, s.address, bytes(s.data)) for s in code_sections(image) if s.data]
        file_format = f"hvmi-{image.isa}"
    gp = None
    if style.gp_symbol is not None:
        gp = next((s.address for s in table.symbols if s.name == style.gp_symbol), None)
    listing = _Listing(isa, style, table, Decoder(isa), gp, _companions(isa, style))
    if program is not None:
        listing.default_extensions = arch_extensions(program.arch)
    listing.out.append(f"\n{filename}:     file format {file_format}\n\n")
    for region in regions:
        listing.section(region)
    return "".join(listing.out)
