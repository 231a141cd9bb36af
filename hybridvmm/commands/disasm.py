"""``disasm IMAGE``: linear-sweep disassembly of an image or raw binary."""

from __future__ import annotations

import argparse

from hybridvmm.asm.disassembler import disassemble, render, to_source
from hybridvmm.cli_support import add_image_arguments, add_json_flag, open_image, print_json
from hybridvmm.isa import load_isa

ORDER = 30


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("disasm", help="disassemble the code sections of an image or raw binary")
    add_image_arguments(p)
    p.add_argument("--source", action="store_true", help="print re-assemblable source instead of a listing")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    image = open_image(args)
    isa = load_isa(image.isa)
    if args.source:
        print(to_source(image, isa), end="")
        return 0
    lines = disassemble(image, isa)
    if args.json:
        print_json({
            "isa": image.isa,
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
                }
                for ln in lines
            ],
        })
        return 0
    for text in render(lines, isa):
        print(text)
    return 0
