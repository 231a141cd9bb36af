"""``disasm IMAGE``: linear-sweep disassembly of an image, ELF file or raw binary."""

from __future__ import annotations

import argparse

from hybridvmm.asm.disassembler import disassemble, render, to_source
from hybridvmm.asm.objdump import objdump_listing
from hybridvmm.cli_support import add_image_arguments, add_json_flag, open_image, print_json
from hybridvmm.elf import is_elf, read_elf
from hybridvmm.errors import UserError, read_input
from hybridvmm.isa import load_isa
from hybridvmm.loading import GUEST_PREFIX
from hybridvmm.symbols import SymbolTable

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
        program = None
        if not args.image.startswith(GUEST_PREFIX):
            data = read_input(args.image)
            if is_elf(data):
                program = read_elf(data, args.image)
        print(objdump_listing(image, isa, args.image, program), end="")
        return 0
    if args.source:
        print(to_source(image, isa), end="")
        return 0
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


def _target_label(line, table: SymbolTable) -> str | None:
    target = None if line.instruction is None else line.instruction.target
    return (table.label(target) or None) if target is not None and table else None
