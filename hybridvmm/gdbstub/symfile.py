"""The file gdb takes its symbols from.

An ELF guest is its own symbol file (with its debug information, e.g. xv6's kernel).  A
RISC-V guest the project's assembler made has no file gdb can read, so the stub writes a
small ELF of it — its sections and symbols, no debug information — which is enough for
``break s_main`` and ``x/4i on_timer``.  gdb loads it by itself when it connects (the stub
names it through ``qXfer:exec-file:read``); ``file PATH`` does the same by hand.  pgm has
no ELF machine number, so a pgm guest has no symbol file (gdb could not use one anyway).
"""

from __future__ import annotations

import os
import struct
import tempfile
from pathlib import Path

from hybridvmm.elf import MAGIC, SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, elf_kind, is_elf
from hybridvmm.image import FLAG_CODE, FLAG_WRITE, Image
from hybridvmm.isa import load_isa

SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB = 1, 2, 3
STB_GLOBAL, STT_NOTYPE = 1, 0
SHN_ABS = 0xFFF1


def existing_elf(image: Image) -> str | None:
    """The ELF file ``image`` was loaded from, if there is one on disk."""
    source = image.source or ""
    if source.startswith("guest:"):
        from hybridvmm.guests import guest_info, parse_name

        try:
            guest = guest_info(parse_name(source[len("guest:"):])[0])
        except Exception:
            return None
        if guest.elf is None:
            return None
        from importlib import resources

        path = resources.files("hybridvmm.guests").joinpath(guest.elf)
        return str(path) if isinstance(path, Path) and path.is_file() else None
    path = Path(source)
    try:
        if path.is_file() and is_elf(path.read_bytes()[:4]):
            return str(path.resolve())
    except OSError:
        return None
    return None


def symbol_elf(image: Image) -> bytes | None:
    """An ELF of ``image``'s sections and symbols for gdb (None: no ELF kind runs on its ISA)."""
    isa = load_isa(image.isa)
    kind = next((k for name in isa.lineage if (k := elf_kind(name, isa.word_bits)) is not None), None)
    if kind is None:
        return None
    return _elf(kind[0], kind[1] == 64, image)


def symbol_file(image: Image, directory: str) -> str | None:
    """A path gdb can load ``image``'s symbols from: its own ELF, or one written in
    ``directory``; None for an image gdb cannot read (pgm)."""
    path = existing_elf(image)
    if path is not None:
        return path
    data = symbol_elf(image)
    if data is None:
        return None
    name = (image.source or "guest").replace("guest:", "").replace("/", "_").replace(":", "_") or "guest"
    target = os.path.join(directory, f"{name}.elf")
    with open(target, "wb") as f:
        f.write(data)
    return target


def temporary_directory() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="hybridvmm-gdb-")


def _elf(machine: int, wide: bool, image: Image) -> bytes:
    """ELF32/ELF64 little-endian ET_EXEC: the image's sections (PROGBITS), .symtab, .strtab,
    .shstrtab; no program headers (gdb reads symbols, it loads nothing)."""
    shstr = bytearray(b"\0")
    strtab = bytearray(b"\0")

    def name_in(table: bytearray, name: str) -> int:
        at = len(table)
        table += name.encode("utf-8", errors="replace") + b"\0"
        return at

    ehsize, shentsize, symsize = (64, 64, 24) if wide else (52, 40, 16)
    body = bytearray()
    sections: list[tuple[int, int, int, int, int, int, int, int, int, int]] = []
    # (name, type, flags, addr, offset, size, link, info, align, entsize)
    sections.append((0,) * 10)
    for s in image.sections:
        offset = ehsize + len(body)
        body += bytes(s.data)
        flags = SHF_ALLOC | (SHF_EXECINSTR if s.flags & FLAG_CODE else 0) | (SHF_WRITE if s.flags & FLAG_WRITE else 0)
        sections.append((name_in(shstr, s.name if s.name.startswith(".") else "." + s.name), SHT_PROGBITS, flags,
                         s.address, offset, len(s.data), 0, 0, 4, 0))
    symbols = bytearray(b"\0" * symsize)
    for name, address in sorted(image.symbols.items(), key=lambda kv: (kv[1], kv[0])):
        index = next((k + 1 for k, s in enumerate(image.sections) if s.address <= address < s.end), SHN_ABS)
        info = STB_GLOBAL << 4 | STT_NOTYPE
        at = name_in(strtab, name)
        if wide:
            symbols += struct.pack("<IBBHQQ", at, info, 0, index, address, 0)
        else:
            symbols += struct.pack("<IIIBBH", at, address, 0, info, 0, index)
    while len(body) % 8:
        body.append(0)
    strtab_index = len(sections) + 1
    sections.append((name_in(shstr, ".symtab"), SHT_SYMTAB, 0, 0, ehsize + len(body), len(symbols), strtab_index, 1,
                     8, symsize))
    body += symbols
    sections.append((name_in(shstr, ".strtab"), SHT_STRTAB, 0, 0, ehsize + len(body), len(strtab), 0, 0, 1, 0))
    body += strtab
    shstr_name = name_in(shstr, ".shstrtab")
    sections.append((shstr_name, SHT_STRTAB, 0, 0, ehsize + len(body), len(shstr), 0, 0, 1, 0))
    body += shstr
    while len(body) % 8:
        body.append(0)
    shoff = ehsize + len(body)
    ident = MAGIC + bytes((2 if wide else 1, 1, 1, 0)) + bytes(8)
    if wide:
        header = ident + struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, image.entry, 0, shoff, 0, ehsize, 0, 0,
                                     shentsize, len(sections), len(sections) - 1)
        fmt = "<IIQQQQIIQQ"
    else:
        header = ident + struct.pack("<HHIIIIIHHHHHH", 2, machine, 1, image.entry, 0, shoff, 0, ehsize, 0, 0,
                                     shentsize, len(sections), len(sections) - 1)
        fmt = "<IIIIIIIIII"
    table = b"".join(struct.pack(fmt, *entry) for entry in sections)
    return bytes(header) + bytes(body) + table
