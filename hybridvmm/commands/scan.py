"""``scan IMAGE``: basic blocks, CFG edges, sensitive sites, indirect branches, data ranges."""

from __future__ import annotations

import argparse
from pathlib import Path

from hybridvmm.cli_support import (add_force_flag, add_image_arguments, add_json_flag, check_output, number, open_image,
                                   print_json, report_stream, write_output)
from hybridvmm.classify import DEFAULT_SAMPLES
from hybridvmm.classify.derived import DerivedClasses
from hybridvmm.errors import UserError
from hybridvmm.image import Image
from hybridvmm.isa import load_isa
from hybridvmm.isas import probe_for
from hybridvmm.progress import Progress
from hybridvmm.scan import Scanner, Space, declared_classes, scan_program, to_dot
from hybridvmm.scan.build import resolve_root
from hybridvmm.scan.excerpt import function_blocks, neighbourhood
from hybridvmm.scan.graphviz import INSTALL_HINT, have_dot, render_svg
from hybridvmm.scan.report import render_text, scan_report
from hybridvmm.symbols import SymbolTable

ORDER = 70
DEFAULT_DEPTH = 2


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scan",
        help="scan an image into basic blocks and a CFG and list its sensitive-unprivileged instructions",
        description="Recursive-descent scan from the entry point, the trap vectors and any --root: "
        "blocks, edges (fallthrough/taken/jump/call/return-to/indirect), sensitive sites (sensitive and "
        "not privileged in the ISA variant, user-sensitive ones marked), unresolved indirect branches, "
        "edges that could not be followed (overlapping instructions, undecodable bytes) and data ranges. "
        "A patched image is scanned through its patch table (its original bytes). --dot and --svg draw the CFG "
        "(sites red, patches orange), whole or one --function or the blocks --around an address.",
    )
    add_image_arguments(p, isa_help="ISA variant to scan for (default: the image's); required for raw binaries")
    p.add_argument("--root", action="append", default=[], metavar="SYM|ADDR",
                   help="also scan from this symbol or address (repeatable)")
    p.add_argument("--space", action="append", default=[], metavar="BASE:BOUND:ROOT[,ROOT]",
                   help="also scan a relocated region (code running under R = (BASE, BOUND), e.g. a user "
                   "task) from its virtual ROOTs; repeatable")
    p.add_argument("--no-vectors", action="store_true",
                   help="do not use the trap vectors (held in the image or installed by its code) as roots")
    p.add_argument("--classes", choices=("declared", "derived"), default="declared",
                   help="which classes make a site: the spec's declarations (default), or those the classifier "
                   "derives by execution, per instruction form (cached; see classify)")
    p.add_argument("--samples", type=int, default=DEFAULT_SAMPLES, metavar="N",
                   help=f"with --classes derived: states sampled per form (default {DEFAULT_SAMPLES})")
    p.add_argument("--dot", metavar="FILE", help="write the CFG as Graphviz DOT ('-' for stdout, the report then going to stderr)")
    p.add_argument("--svg", metavar="FILE", help="write the CFG drawn by Graphviz as SVG (needs Graphviz's dot; "
                   "'-' for stdout, the report then going to stderr)")
    part = p.add_mutually_exclusive_group()
    part.add_argument("--function", metavar="SYM|ADDR",
                      help="with --dot/--svg: draw only the function entered there (what it reaches without calling; "
                      "edges leaving it end at a node naming their target)")
    part.add_argument("--around", metavar="SYM|ADDR",
                      help="with --dot/--svg: draw only the blocks within --depth edges of the block holding this address")
    p.add_argument("--depth", metavar="N", type=number, default=None,
                   help=f"with --around: how many edges away, either direction (default {DEFAULT_DEPTH})")
    add_force_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run)


COUNTS = {"instructions": "instruction_count", "blocks": "block_count", "edges": "edge_count", "sites": "site_count",
          "user_sensitive_sites": "user_sensitive_site_count", "indirect": "indirect_count",
          "unresolved": "unresolved_count", "overlaps": "overlap_count", "problems": "problem_count",
          "data_bytes": "data_bytes"}
"""``scan --json`` vocabulary: a plural key is a list, its count is ``<singular>_count``
beside it (the report's summary is spread out under these names)."""


def as_json(report: dict) -> dict:
    """One scan report (the image's or a relocated space's) in the CLI's JSON vocabulary."""
    out = {k: v for k, v in report.items() if k != "summary"}
    out.update({COUNTS[k]: v for k, v in report["summary"].items()})
    out["blocks"] = [{("instruction_count" if k == "instructions" else k): v for k, v in b.items()} for b in report["blocks"]]
    return out


def check_drawing_options(args: argparse.Namespace) -> None:
    """``--function``/``--around``/``--depth`` only where they mean something."""
    part = args.function or args.around
    if part and not (args.dot or args.svg):
        raise UserError(f"--{'function' if args.function else 'around'} chooses what to draw: use it with --dot or --svg")
    if args.depth is not None and not args.around:
        raise UserError("--depth goes with --around")
    if args.depth is not None and args.depth < 0:
        raise UserError(f"--depth {args.depth}: must be 0 or more")


def place(image: Image, text: str, option: str) -> int:
    """A symbol of the image or a number, as ``--function``/``--around`` take it (as ``--root`` does)."""
    try:
        return resolve_root(image, text)[0]
    except UserError:
        raise UserError(f"{option} {text}: neither a symbol of the image nor a number") from None


def excerpts(args: argparse.Namespace, image: Image, scanner: Scanner, subs: list) -> tuple[set[int] | None, list]:
    """The blocks to draw of the main scan and of each space (None: all of them); a space
    whose excerpt is empty is left out of the drawing."""
    if not (args.function or args.around):
        return None, [(sp, sub, ss, None) for sp, sub, ss in subs]
    option, text = ("--function", args.function) if args.function else ("--around", args.around)
    address = place(image, text, option)
    depth = DEFAULT_DEPTH if args.depth is None else args.depth

    def choose(view, at: int) -> set[int]:
        return function_blocks(view, at) if args.function else neighbourhood(view, at, depth)

    main = choose(scanner, address)
    spaces = [(sp, sub, ss, choose(sub, address - sp.base)) for sp, sub, ss in subs if 0 <= address - sp.base < sp.bound]
    spaces = [s for s in spaces if s[3]]
    if not main and not spaces:
        raise UserError(f"{option} {text}: no scanned block holds 0x{address:x} (scan lists the blocks; --root or "
                        f"--space scan more)")
    return main, spaces


def run(args: argparse.Namespace) -> int:
    check_drawing_options(args)
    for out in (args.dot, args.svg):
        if out:
            check_output(out)
    if args.dot and args.svg and args.dot == args.svg:
        raise UserError(f"--dot and --svg both name {args.dot}: choose two files")
    if args.svg and not have_dot():
        raise UserError(INSTALL_HINT)
    image = open_image(args)
    isa = load_isa(image.isa)
    spaces = [Space.parse(s) for s in args.space]
    classes_of = declared_classes
    if args.classes == "derived":
        if args.samples < 1:
            raise UserError("--samples must be at least 1")
        progress = Progress()
        classes_of = DerivedClasses(isa, args.samples, probe=probe_for(isa), progress=progress.update, cache=True)
    try:
        scanned = scan_program(image, isa, roots=args.root, spaces=spaces, vectors=not args.no_vectors,
                               classes_of=classes_of)
    finally:
        if classes_of is not declared_classes:
            progress.clear()
    scanner, sites, subs = scanned.main, scanned.main_sites, scanned.spaces
    symbols = SymbolTable.from_image(image)  # names physical addresses: not the relocated spaces'
    patched = {p.address for p in image.patches}
    if args.dot or args.svg:
        blocks, views = excerpts(args, image, scanner, subs)
        text = to_dot(scanner, sites, name=Path(args.image).name,
                      spaces=[(f"space 0x{sp.base:x}+0x{sp.bound:x}", sub, ss, chosen) for sp, sub, ss, chosen in views],
                      symbols=symbols, blocks=blocks, patches={a: "patched" for a in patched})
        if args.svg:
            write_output(args.svg, render_svg(text).encode())
        if args.dot:
            write_output(args.dot, text.encode())
    report = {"image": args.image, **scan_report(scanner, sites, patched, symbols)}
    if classes_of is not declared_classes:
        report["classes"] = classes_of.describe()
    report["spaces"] = [
        {"space": {"base": sp.base, "bound": sp.bound}, **scan_report(sub, ss, patched)} for sp, sub, ss in subs
    ]
    out = report_stream(args.dot, args.svg)
    if args.json:
        data = as_json(report)
        data["spaces"] = [as_json(sub) for sub in report["spaces"]]
        if args.dot:
            data["dot_file"] = args.dot
        if args.svg:
            data["svg_file"] = args.svg
        print_json(data, file=out)
        return 0
    print(f"{args.image}: " + "\n".join(render_text(report)), file=out)
    for sp, sub_report in zip(spaces, report["spaces"]):
        print(f"\nspace 0x{sp.base:x}+0x{sp.bound:x} (virtual addresses): " + "\n".join(render_text(sub_report)), file=out)
    return 0
