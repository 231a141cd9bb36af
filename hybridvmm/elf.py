"""ELF input: an executable's loadable segments, entry point and symbols as an :class:`Image`.

pyelftools parses the file.  The image gets one section per ``PT_LOAD`` segment (file
bytes, then zeros up to ``p_memsz``; ``p_flags`` X → code, R → data, W → writable, named
after the ELF sections the segment holds), ``e_entry``, and every named symbol of the
symbol table that denotes an address (functions, objects, labels such as ``tohost`` or
``begin_signature``; not file, section or ``$x``/``$d`` mapping symbols).

The ELF's own section headers and full symbol records are kept beside the image
(:class:`ElfProgram`), because ``disasm --style objdump`` walks sections and chooses
symbols exactly as GNU objdump does.

Any malformed file — truncated, a class or machine we do not run, no loadable segment,
headers pointing outside the file — is one :class:`~hybridvmm.errors.ImageError` line.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from dataclasses import dataclass, field

from elftools.common.exceptions import ELFError, ELFParseError
from elftools.construct.core import ConstructError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from hybridvmm.errors import ImageError
from hybridvmm.image import FLAG_CODE, FLAG_DATA, FLAG_WRITE, MAX_SECTION_BYTES, Image, Section, fit_name
from hybridvmm.symbols import ABS, Region, Symbol, SymbolTable, is_mapping_symbol

MAGIC = b"\x7fELF"

MAX_SEGMENT_BYTES = MAX_SECTION_BYTES
"""A larger ``p_memsz`` is refused: it is a corrupt header, not a guest we could hold."""

PF_X, PF_W, PF_R = 1, 2, 4
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4

_ISA_OF: dict[tuple[str, int], str] = {("EM_RISCV", 32): "rv32", ("EM_RISCV", 64): "rv64"}
"""(e_machine, ELF class) → the ISA family an ELF of that kind runs on."""
E_MACHINE = {"EM_RISCV": 243}
"""The e_machine numbers of the kinds in :data:`_ISA_OF` (for writing an ELF)."""


def elf_kind(isa_name: str, word_bits: int) -> tuple[int, int] | None:
    """(e_machine number, ELF class) of the ELFs an ISA of that name (a base ISA in its
    lineage) and width runs, or None if no ELF kind runs on it (pgm)."""
    for (machine, bits), name in _ISA_OF.items():
        if name == isa_name and bits == word_bits:
            return E_MACHINE[machine], bits
    return None

_PARSE_ERRORS = (
    ELFError, ELFParseError, ConstructError, struct.error, ValueError, IndexError, KeyError,
    TypeError, AttributeError, OverflowError, UnicodeDecodeError, AssertionError, EOFError,
    RecursionError, MemoryError, zlib.error,
)
"""What pyelftools raises on corrupt input (it has no single error type; a section flagged
SHF_COMPRESSED is inflated with zlib, whose errors it passes on)."""


@dataclass(frozen=True)
class ElfSection:
    """A section header: what objdump's ``Disassembly of section`` walks."""

    index: int
    name: str
    kind: str  # sh_type, e.g. "SHT_PROGBITS", "SHT_NOBITS"
    address: int
    size: int
    flags: int  # sh_flags (SHF_WRITE | SHF_ALLOC | SHF_EXECINSTR ...)
    data: bytes = b""  # contents, kept for executable sections only (what objdump shows)

    @property
    def executable(self) -> bool:
        return bool(self.flags & SHF_EXECINSTR)

    @property
    def end(self) -> int:
        return self.address + self.size


@dataclass(frozen=True)
class ElfSymbol:
    """A symbol-table entry, with what objdump needs to prefer one symbol over another."""

    name: str
    value: int
    size: int
    kind: str  # st_info.type: "STT_FUNC", "STT_OBJECT", "STT_NOTYPE", "STT_SECTION", "STT_FILE" ...
    bind: str  # st_info.bind: "STB_LOCAL", "STB_GLOBAL", "STB_WEAK"
    section: int | str  # st_shndx: a section index, or "SHN_ABS" / "SHN_UNDEF" / ...
    order: int  # position in the symbol table


@dataclass
class ElfProgram:
    """An ELF as the toolkit sees it: the image to run plus the headers objdump reads."""

    image: Image
    sections: list[ElfSection] = field(default_factory=list)
    symbols: list[ElfSymbol] = field(default_factory=list)
    file_format: str = ""  # objdump's name for the BFD target, e.g. "elf32-littleriscv"
    arch: str = ""  # the ISA string of the RISC-V attributes (Tag_RISCV_arch), if any

    def symbol_table(self) -> SymbolTable:
        """The symbols objdump keeps for disassembly (``remove_useless_symbols``): named,
        defined, not file or section symbols; mapping symbols stay (they mark code and
        data) but never name an address."""
        names = {s.index: s.name for s in self.sections}
        out = []
        for sym in self.symbols:
            if not sym.name or sym.kind in ("STT_FILE", "STT_SECTION") or sym.section in ("SHN_UNDEF", "SHN_COMMON"):
                continue
            home = names.get(sym.section, ABS) if isinstance(sym.section, int) else ABS
            kind = {"STT_FUNC": "func", "STT_OBJECT": "object"}.get(sym.kind, "notype")
            bind = {"STB_LOCAL": "local", "STB_WEAK": "weak"}.get(sym.bind, "global")
            out.append(Symbol(sym.name, sym.value, home, kind, bind, sym.size))
        regions = [Region(s.name, s.address, s.end) for s in self.sections if s.flags & SHF_ALLOC]
        return SymbolTable(out, regions)


def is_elf(data: bytes) -> bool:
    return data.startswith(MAGIC)


def isa_family(data: bytes, source: str = "<elf>") -> str:
    """The ISA family an ELF is for, from its header alone."""
    return _parse(data, source).image.isa


def load_elf(data: bytes, source: str = "<elf>") -> Image:
    """The image of an ELF executable (see the module docstring)."""
    return _parse(data, source).image


def read_elf(data: bytes, source: str = "<elf>") -> ElfProgram:
    """The image plus section headers and full symbol records of an ELF executable."""
    return _parse(data, source)


def _parse(data: bytes, source: str) -> ElfProgram:
    if not is_elf(data):
        raise ImageError(f"{source}: not an ELF file (bad magic)")
    if len(data) < 16:
        raise ImageError(f"{source}: truncated ELF (no complete identification header)")
    elf_class = {1: 32, 2: 64}.get(data[4])
    if elf_class is None:
        raise ImageError(f"{source}: corrupt ELF (class byte {data[4]} is neither ELFCLASS32 nor ELFCLASS64)")
    if data[5] not in (1, 2):
        raise ImageError(f"{source}: corrupt ELF (data encoding byte {data[5]} is neither little- nor big-endian)")
    try:
        return _convert(ELFFile(io.BytesIO(data)), len(data), source)
    except ImageError:
        raise
    except _PARSE_ERRORS as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ImageError(f"{source}: truncated or corrupt ELF ({detail[:120]})") from None


def _convert(elf: ELFFile, file_size: int, source: str) -> ElfProgram:
    header = elf.header
    machine = header["e_machine"]
    isa = _ISA_OF.get((machine, elf.elfclass))
    if isa is None:
        raise ImageError(f"{source}: an ELF{elf.elfclass} file for {machine}; only RISC-V (EM_RISCV, ELFCLASS32 or ELFCLASS64) is supported")
    if not elf.little_endian:
        raise ImageError(f"{source}: a big-endian RISC-V ELF; RISC-V is little-endian")
    if header["e_type"] not in ("ET_EXEC", "ET_DYN"):
        raise ImageError(f"{source}: an ELF of type {header['e_type']}, not an executable (link it first)")
    sections = _sections(elf)
    image = Image(isa=isa, entry=int(header["e_entry"]), source=source)
    for number, seg in enumerate(elf.iter_segments()):
        if seg["p_type"] != "PT_LOAD" or seg["p_memsz"] == 0:
            continue
        image.sections.append(_segment(seg, number, file_size, sections, source, elf.elfclass))
    if not image.sections:
        raise ImageError(f"{source}: the ELF has no loadable segment (PT_LOAD)")
    symbols = _symbols(elf)
    image.symbols = _address_symbols(symbols)
    image.check()
    return ElfProgram(image, sections, symbols, f"elf{elf.elfclass}-{'little' if elf.little_endian else 'big'}riscv", _arch(elf))


def _arch(elf: ELFFile) -> str:
    """Tag_RISCV_arch of ``.riscv.attributes``; unreadable attributes only cost the
    disassembler its default extension set, so they are not an error."""
    try:
        sec = elf.get_section_by_name(".riscv.attributes")
        if sec is None or not hasattr(sec, "iter_subsections"):
            return ""
        for sub in sec.iter_subsections():
            for subsub in sub.iter_subsubsections():
                for attr in subsub.iter_attributes():
                    if attr.tag == "TAG_ARCH":
                        return str(attr.value)
    except _PARSE_ERRORS:
        return ""
    return ""


def _segment(seg, number: int, file_size: int, sections: list[ElfSection], source: str, bits: int) -> Section:
    address, offset = int(seg["p_paddr"]), int(seg["p_offset"])
    filesz, memsz = int(seg["p_filesz"]), int(seg["p_memsz"])
    if filesz > memsz:
        raise ImageError(f"{source}: corrupt ELF (segment {number}: p_filesz 0x{filesz:x} exceeds p_memsz 0x{memsz:x})")
    if memsz > MAX_SEGMENT_BYTES:
        raise ImageError(f"{source}: corrupt ELF (segment {number} claims 0x{memsz:x} bytes; at most 0x{MAX_SEGMENT_BYTES:x} are supported)")
    if offset + filesz > file_size:
        raise ImageError(f"{source}: truncated ELF (segment {number} lies past the end of the file)")
    if address + memsz > 1 << bits:
        raise ImageError(f"{source}: corrupt ELF (segment {number} at 0x{address:x} runs past the {bits}-bit address space)")
    data = bytearray(seg.data()) + bytearray(memsz - filesz)
    if len(data) != memsz:
        raise ImageError(f"{source}: truncated ELF (segment {number} is cut short)")
    flags = (FLAG_CODE if seg["p_flags"] & PF_X else 0) | (FLAG_DATA if seg["p_flags"] & PF_R else 0) | (FLAG_WRITE if seg["p_flags"] & PF_W else 0)
    vaddr = int(seg["p_vaddr"])
    inside = [s.name for s in sections if s.flags & SHF_ALLOC and s.size and vaddr <= s.address and s.end <= vaddr + memsz]
    name = fit_name("+".join(inside)) if inside else f"segment{number}"
    return Section(name, address, data, flags)


def _sections(elf: ELFFile) -> list[ElfSection]:
    out = []
    for index, sec in enumerate(elf.iter_sections()):
        if index == 0:
            continue
        flags, kind = int(sec["sh_flags"]), str(sec["sh_type"])
        data = sec.data() if flags & SHF_EXECINSTR and kind != "SHT_NOBITS" else b""
        if len(data) > MAX_SEGMENT_BYTES:
            raise ValueError(f"section {sec.name} is too large")
        out.append(ElfSection(index, sec.name, kind, int(sec["sh_addr"]), int(sec["sh_size"]), flags, bytes(data)))
    return out


def _symbols(elf: ELFFile) -> list[ElfSymbol]:
    out: list[ElfSymbol] = []
    for sec in elf.iter_sections():
        if not isinstance(sec, SymbolTableSection) or sec["sh_type"] != "SHT_SYMTAB":
            continue
        for order, sym in enumerate(sec.iter_symbols()):
            if order == 0:
                continue
            info = sym["st_info"]
            out.append(ElfSymbol(sym.name, int(sym["st_value"]), int(sym["st_size"]), str(info["type"]), str(info["bind"]), sym["st_shndx"], order))
    return out


def _address_symbols(symbols: list[ElfSymbol]) -> dict[str, int]:
    """Name → address for the image: defined, named, not file/section/mapping symbols.

    A name defined twice (local labels of two object files) keeps a global definition
    over a local one, else its first.
    """
    table: dict[str, int] = {}
    rank: dict[str, bool] = {}
    for sym in symbols:
        if not sym.name or sym.kind in ("STT_FILE", "STT_SECTION") or sym.section == "SHN_UNDEF" or is_mapping_symbol(sym.name):
            continue
        is_global = sym.bind != "STB_LOCAL"
        if sym.name in table and (rank[sym.name] or not is_global):
            continue
        table[sym.name] = sym.value
        rank[sym.name] = is_global
    return table


def arch_extensions(arch: str) -> set[str]:
    """The extensions a RISC-V ISA string names (``Tag_RISCV_arch``, or a ``$x`` mapping
    symbol's suffix): ``rv32i2p1_m2p0_c2p0_zicsr2p0`` → i, m, c, zicsr."""
    arch = arch.lower()
    m = re.match(r"rv\d+", arch)
    if m is None:
        return set()
    out: set[str] = set()
    for token in arch[m.end():].split("_"):
        if not token:
            continue
        if token[0] in "zsx":
            out.add(re.sub(r"\d+(p\d+)?$", "", token))
        else:
            out.update(re.sub(r"\d+(p\d+)?", "", token))
    return out
