"""A spec-driven disassembler: linear sweep, printing each instruction per its asm template.

Operands print by field kind: registers by canonical name, CSRs by name (else hex), fence
sets as ``iorw`` letters, immediates in decimal (hex when the field says ``print = "hex"``),
and PC-relative/absolute targets as absolute hex addresses with the ISA's
``target_prefix`` — so for RISC-V the text is what ``objdump -d -M no-aliases`` prints.
Bytes that do not decode print as ``.half``/``.word`` data of one parcel and the sweep
goes on.  Everything printed is valid input to the assembler, which is what makes the
assemble → disassemble → assemble round trip possible (:func:`to_source`).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field

from hybridvmm.errors import DecodeError
from hybridvmm.asm.expr import IDENT
from hybridvmm.image import FLAG_CODE, FLAG_WRITE, Image, Section, raw_image
from hybridvmm.isa.decoder import Decoder, Instruction
from hybridvmm.isa.loader import load_isa
from hybridvmm.isa.spec import FENCE_BITS, ISA, TEMPLATE_OPERAND
from hybridvmm.symbols import SymbolTable

_DATA_DIRECTIVE = {1: ".byte", 2: ".half", 4: ".word"}


@dataclass
class Line:
    """One disassembled unit: an instruction or a data parcel, with any labels before it."""

    address: int
    raw: bytes
    text: str
    instruction: Instruction | None = None
    labels: list[str] = field(default_factory=list)

    @property
    def mnemonic(self) -> str:
        return self.text.split(None, 1)[0]

    @property
    def operands(self) -> str:
        parts = self.text.split(None, 1)
        return parts[1] if len(parts) > 1 else ""

    @property
    def is_data(self) -> bool:
        return self.instruction is None


def _hex(value: int, prefix: str = "0x") -> str:
    return f"-{prefix}{-value:x}" if value < 0 else f"{prefix}{value:x}"


def format_operand(ins: Instruction, name: str, isa: ISA, target_prefix: str | None = None) -> str:
    """One operand of a decoded instruction as the disassembler prints it.

    Targets take the ISA's ``target_prefix`` unless one is given (:func:`to_source` passes
    ``"0x"`` so that objdump-style bare hex targets still read back as numbers).
    """
    fs = isa.fields[name]
    value = ins.operands[name]
    if fs.kind == "reg":
        return isa.registers[fs.regfile].names[value]
    if fs.kind == "csr":
        found = isa.csr_names.get(value)
        return found if found is not None else _hex(value)
    if fs.kind == "fence":
        letters = "".join(c for c, bit in FENCE_BITS.items() if value & bit)
        return letters or "0"
    if fs.kind in ("pcrel", "abs"):
        mask = (1 << isa.word_bits) - 1
        target = (ins.address + value) & mask if fs.kind == "pcrel" else value & mask
        prefix = isa.target_prefix if target_prefix is None else target_prefix
        return f"{prefix}{target:x}"
    return _hex(value) if fs.print_hex else str(value)


def format_instruction(ins: Instruction, isa: ISA, target_prefix: str | None = None) -> str:
    """``mnemonic operands`` exactly per the instruction's asm template."""
    return TEMPLATE_OPERAND.sub(lambda m: format_operand(ins, m.group(1), isa, target_prefix), ins.spec.asm)


def data_line(raw: bytes, isa: ISA) -> str:
    """Undecodable bytes as an assembler data directive (one parcel, or the odd tail)."""
    directive = _DATA_DIRECTIVE.get(len(raw))
    if directive is None:
        return ".byte " + ", ".join(f"0x{b:02x}" for b in raw)
    value = int.from_bytes(raw, isa.endian)
    return f"{directive} 0x{value:0{len(raw) * 2}x}"


DATA_UNIT = 4
"""Bytes per line of a region marked as data in code (objdump's ``.word``, less at its end)."""


def _data_end(ranges: list[tuple[int, int]], address: int) -> int | None:
    """The end of the data range ``address`` lies in (None: not in one)."""
    k = bisect_right(ranges, (address, 1 << 64)) - 1
    return ranges[k][1] if k >= 0 and ranges[k][0] <= address < ranges[k][1] else None


def _sweep(section: Section, decoder: Decoder, isa: ISA, symbols: dict[int, list[str]], target_prefix: str | None = None,
           ranges: list[tuple[int, int]] = ()) -> list[Line]:
    """Linear sweep of one section; bytes in ``ranges`` ((start, end), sorted) are data."""
    lines: list[Line] = []
    data = bytes(section.data)
    parcel = isa.parcel_bytes
    offset = 0
    while offset < len(data):
        address = section.address + offset
        end = _data_end(ranges, address) if ranges else None
        if end is not None:
            raw = data[offset:offset + min(DATA_UNIT - address % DATA_UNIT, end - address)]
            line = Line(address, raw, data_line(raw, isa), None, symbols.get(address, []))
            lines.append(line)
            offset += len(raw)
            continue
        try:
            ins = decoder.decode(data, address, offset)
            line = Line(address, ins.raw, format_instruction(ins, isa, target_prefix), ins)
        except DecodeError:
            raw = data[offset:offset + parcel]
            line = Line(address, raw, data_line(raw, isa))
        line.labels = symbols.get(address, [])
        lines.append(line)
        offset += len(line.raw)
    return lines


def _as_image(image_or_bytes: Image | bytes | bytearray, isa: ISA, base: int) -> Image:
    if isinstance(image_or_bytes, Image):
        return image_or_bytes
    return raw_image(bytes(image_or_bytes), isa.name, base)


def _symbol_table(image: Image) -> dict[int, list[str]]:
    table: dict[int, list[str]] = {}
    for name, address in sorted(image.symbols.items(), key=lambda kv: (kv[1], kv[0])):
        table.setdefault(address, []).append(name)
    return table


def code_sections(image: Image) -> list[Section]:
    """The sections a linear sweep covers: those flagged code, else (a raw binary) all."""
    code = [s for s in image.sections if s.flags & FLAG_CODE]
    return sorted(code or image.sections, key=lambda s: s.address)


def disassemble(image_or_bytes: Image | bytes | bytearray, isa: ISA | str | None = None, base: int = 0,
                data: list[tuple[int, int]] = ()) -> list[Line]:
    """Linear sweep over the code sections (of an image, or raw bytes at ``base``); the
    ``data`` ranges ((start, end): what an ELF's ``$d`` mapping symbols mark) are listed as data."""
    if isa is None:
        if not isinstance(image_or_bytes, Image):
            raise TypeError("raw bytes need an ISA")
        isa = image_or_bytes.isa
    isa_obj = load_isa(isa) if isinstance(isa, str) else isa
    image = _as_image(image_or_bytes, isa_obj, base)
    decoder = Decoder(isa_obj)
    symbols = _symbol_table(image)
    lines: list[Line] = []
    ranges = sorted(data)
    for section in code_sections(image):
        lines.extend(_sweep(section, decoder, isa_obj, symbols, ranges=ranges))
    return lines


def render(lines: list[Line], isa: ISA, symbols: SymbolTable | None = None) -> list[str]:
    """``ADDR: HEXBYTES  mnemonic operands`` text, with ``label:`` lines before labelled
    addresses; with ``symbols``, a branch or jump target is followed by the symbol that
    names it, as objdump does (``jal ra,80000100 <foo>``)."""
    width = 2 * isa.max_length
    out: list[str] = []
    for line in lines:
        for label in line.labels:
            out.append(f"{label}:")
        text = line.text
        target = None if line.instruction is None else line.instruction.target
        if symbols and target is not None:
            name = symbols.label(target, symbols.region_of(line.address))
            if name:
                text += f" {name}"
        out.append(f"{line.address:08x}: {line.raw.hex():<{width}}  {text}")
    return out


def to_source(image: Image, isa: ISA | str | None = None) -> str:
    """The image as assembler source that rebuilds the same section bytes and entry.

    Code sections are swept like :func:`disassemble`; other sections become ``.byte`` lines.
    Labels are emitted where they fall on a line boundary.
    """
    isa_obj = load_isa(isa if isa is not None else image.isa) if not isinstance(isa, ISA) else isa
    decoder = Decoder(isa_obj)
    symbols = _symbol_table(image)
    out = [f".isa {isa_obj.name}", f".entry 0x{image.entry:x}"]
    for section in sorted(image.sections, key=lambda s: s.address):
        header = ".text" if section.name == "text" else f".section {section.name}{_flags(section)}"
        out += ["", header, f".org 0x{section.address:x}"]
        if section.flags & FLAG_CODE or not any(s.flags & FLAG_CODE for s in image.sections):
            lines = _sweep(section, decoder, isa_obj, symbols, target_prefix="0x")
        else:
            lines = _data_lines(section, symbols)
        for line in lines:
            out += [f"{label}:" for label in line.labels if _plain_label(label, isa_obj)]
            out.append(f"    {line.text}")
    return "\n".join(out) + "\n"


def _data_lines(section: Section, symbols: dict[int, list[str]], per_line: int = 16) -> list[Line]:
    """A data section as ``.byte`` lines, breaking at every labelled address."""
    lines: list[Line] = []
    data = bytes(section.data)
    offset = 0
    while offset < len(data):
        end = min(offset + per_line, len(data))
        for cut in range(offset + 1, end):
            if section.address + cut in symbols:
                end = cut
                break
        raw = data[offset:end]
        address = section.address + offset
        lines.append(Line(address, raw, ".byte " + ", ".join(f"0x{b:02x}" for b in raw), None, symbols.get(address, [])))
        offset = end
    return lines


def _flags(section: Section) -> str:
    """The GNU flags string that gives a named section its flags back (none: the default)."""
    letters = ("x" if section.flags & FLAG_CODE else "") + ("w" if section.flags & FLAG_WRITE else "")
    return "" if letters == "w" else f', "a{letters}"'


def _plain_label(name: str, isa: ISA) -> bool:
    """Can ``name:`` be read back as a label (an identifier, not a register name)?"""
    if re.fullmatch(IDENT, name) is None or name == ".":
        return False
    return all(rf.lookup(name) is None for rf in isa.registers.values())
