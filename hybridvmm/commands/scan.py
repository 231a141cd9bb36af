"""``scan IMAGE``: basic blocks, CFG edges, sensitive sites, indirect branches, data ranges."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hybridvmm.cli_support import add_image_arguments, add_json_flag, open_image, print_json, write_output
from hybridvmm.isa import load_isa
from hybridvmm.scan import Space, scan_program, to_dot
from hybridvmm.scan.report import render_text, scan_report
from hybridvmm.symbols import SymbolTable

ORDER = 70


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scan",
        help="scan an image into basic blocks and a CFG and list its sensitive-unprivileged instructions",
        description="Recursive-descent scan from the entry point, the trap vectors and any --root: "
        "blocks, edges (fallthrough/taken/jump/call/return-to/indirect), sensitive sites (sensitive and "
        "not privileged in the ISA variant, user-sensitive ones marked), unresolved indirect branches, "
        "edges that could not be followed (overlapping instructions, undecodable bytes) and data ranges. "
        "A patched image is scanned through its patch table (its original bytes).",
    )
    add_image_arguments(p, isa_help="ISA variant to scan for (default: the image's); required for raw binaries")
    p.add_argument("--root", action="append", default=[], metavar="SYM|ADDR",
                   help="also scan from this symbol or address (repeatable)")
    p.add_argument("--space", action="append", default=[], metavar="BASE:BOUND:ROOT[,ROOT]",
                   help="also scan a relocated region (code running under R = (BASE, BOUND), e.g. a user "
                   "task) from its virtual ROOTs; repeatable")
    p.add_argument("--no-vectors", action="store_true",
                   help="do not use the trap vectors (held in the image or installed by its code) as roots")
    p.add_argument("--dot", metavar="FILE", help="write the CFG as Graphviz DOT ('-' for stdout)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    image = open_image(args)
    isa = load_isa(image.isa)
    spaces = [Space.parse(s) for s in args.space]
    scanned = scan_program(image, isa, roots=args.root, spaces=spaces, vectors=not args.no_vectors)
    scanner, sites, subs = scanned.main, scanned.main_sites, scanned.spaces
    symbols = SymbolTable.from_image(image)  # names physical addresses: not the relocated spaces'
    if args.dot:
        text = to_dot(scanner, sites, name=Path(args.image).name,
                      spaces=[(f"space 0x{sp.base:x}+0x{sp.bound:x}", sub, ss) for sp, sub, ss in subs], symbols=symbols)
        if args.dot == "-":
            sys.stdout.write(text)
            return 0
        write_output(args.dot, text.encode())
    patched = {p.address for p in image.patches}
    report = {"image": args.image, **scan_report(scanner, sites, patched, symbols)}
    report["spaces"] = [
        {"space": {"base": sp.base, "bound": sp.bound}, **scan_report(sub, ss, patched)} for sp, sub, ss in subs
    ]
    if args.json:
        print_json(report)
        return 0
    print(f"{args.image}: " + "\n".join(render_text(report)))
    for sp, sub_report in zip(spaces, report["spaces"]):
        print(f"\nspace 0x{sp.base:x}+0x{sp.bound:x} (virtual addresses): " + "\n".join(render_text(sub_report)))
    return 0
