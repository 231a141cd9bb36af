"""``disasm IMAGE``: linear-sweep disassembly of an image, ELF file or raw binary (of an ELF, what
objdump -d covers: its executable sections, the data its ``$d`` symbols mark listed as data)."""

from __future__ import annotations

import argparse

from hybridvmm.asm.disassembler import disassemble, render, to_source
from hybridvmm.asm.objdump import objdump_listing
from hybridvmm.cli_support import add_image_arguments, add_json_flag, open_image, print_json
from hybridvmm.elf import ElfProgram, is_elf, read_elf
from hybridvmm.errors import UserError, read_input
from hybridvmm.image import FLAG_CODE, Image, Section
from hybridvmm.isa import load_isa
from hybridvmm.loading import GUEST_PREFIX
from hybridvmm.symbols import SymbolTable, is_mapping_symbol

ORDER = 30


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("disasm", help="disassemble the code sections of an image, ELF file or raw binary")
    add_image_arguments(p)
    p.add_argument("--source", action="store_true", help="print re-assemblable source instead of a listing")
    p.add_argument(
        "--style", choices=("default", "objdump"), default="default",
        help="listing layout: ours (default), or exactly what GNU objdump -d -M no-aliases prints",
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    image = open_image(args)
    isa = load_isa(image.isa)
    if args.style == "objdump":
        if args.source or args.json:
            raise UserError("--style objdump is a listing; it does not combine with --source or --json")
        print(objdump_listing(image, isa, args.image, _elf_program(args.image)), end="")
        return 0
    if args.source:
        print(to_source(image, isa), end="")
        return 0
    program = _elf_program(args.image)
    if program is not None:
        lines = disassemble(_executable_sections(image, program), isa, data=_marked_data(program))
    else:
        lines = disassemble(image, isa)
    table = SymbolTable.from_image(image)
    if args.json:
        print_json({
            "isa": isa.name,
            "entry": image.entry,
            "lines": [
                {
                    "address": ln.address,
                    "bytes": ln.raw.hex(),
                    "text": ln.text,
                    "mnemonic": ln.mnemonic,
                    "operands": ln.operands,
                    "instruction": None if ln.instruction is None else ln.instruction.name,
                    "labels": ln.labels,
                    "target": None if ln.instruction is None else ln.instruction.target,
                    "target_label": _target_label(ln, table),
                }
                for ln in lines
            ],
        })
        return 0
    for text in render(lines, isa, table):
        print(text)
    return 0


def _elf_program(name: str) -> ElfProgram | None:
    """The ELF file ``name`` with its section headers, or None for any other input."""
    if name.startswith(GUEST_PREFIX):
        return None
    data = read_input(name)
    return read_elf(data, name) if is_elf(data) else None


def _executable_sections(image: Image, program: ElfProgram) -> Image:
    """What ``objdump -d`` disassembles of an ELF: its executable sections with contents,
    not the data, ``.bss`` or headers its loadable segments (the image) also hold."""
    code = [Section(s.name, s.address, bytearray(s.data), FLAG_CODE)
            for s in program.sections if s.executable and s.kind != "SHT_NOBITS" and s.data]
    return Image(image.isa, image.entry, code, dict(image.symbols), [], image.source)


def _marked_data(program: ElfProgram) -> list[tuple[int, int]]:
    """The ranges of executable sections that ``$d`` mapping symbols mark as data (each
    up to the next mapping symbol of its section, or the section's end)."""
    ranges = []
    for section in program.sections:
        if not section.executable:
            continue
        marks = sorted((s.value, s.name) for s in program.symbols
                       if s.section == section.index and is_mapping_symbol(s.name))
        for k, (address, name) in enumerate(marks):
            if name.startswith("$d"):
                end = marks[k + 1][0] if k + 1 < len(marks) else section.end
                ranges.append((address, end))
    return ranges


def _target_label(line, table: SymbolTable) -> str | None:
    target = None if line.instruction is None else line.instruction.target
    return (table.label(target) or None) if target is not None and table else None
