"""``scan IMAGE``: basic blocks, CFG edges, sensitive sites, indirect branches, data ranges."""

from __future__ import annotations

import argparse
from pathlib import Path

from hybridvmm.cli_support import (add_force_flag, add_image_arguments, add_json_flag, check_output, open_image, print_json,
                                   report_stream, write_output)
from hybridvmm.classify import DEFAULT_SAMPLES
from hybridvmm.classify.derived import DerivedClasses
from hybridvmm.errors import UserError
from hybridvmm.isa import load_isa
from hybridvmm.isas import probe_for
from hybridvmm.progress import Progress
from hybridvmm.scan import Space, declared_classes, scan_program, to_dot
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
    p.add_argument("--classes", choices=("declared", "derived"), default="declared",
                   help="which classes make a site: the spec's declarations (default), or those the classifier "
                   "derives by execution, per instruction form (cached; see classify)")
    p.add_argument("--samples", type=int, default=DEFAULT_SAMPLES, metavar="N",
                   help=f"with --classes derived: states sampled per form (default {DEFAULT_SAMPLES})")
    p.add_argument("--dot", metavar="FILE", help="write the CFG as Graphviz DOT ('-' for stdout, the report then going to stderr)")
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


def run(args: argparse.Namespace) -> int:
    if args.dot:
        check_output(args.dot)
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
    if args.dot:
        text = to_dot(scanner, sites, name=Path(args.image).name,
                      spaces=[(f"space 0x{sp.base:x}+0x{sp.bound:x}", sub, ss) for sp, sub, ss in subs], symbols=symbols)
        write_output(args.dot, text.encode())
    patched = {p.address for p in image.patches}
    report = {"image": args.image, **scan_report(scanner, sites, patched, symbols)}
    if classes_of is not declared_classes:
        report["classes"] = classes_of.describe()
    report["spaces"] = [
        {"space": {"base": sp.base, "bound": sp.bound}, **scan_report(sub, ss, patched)} for sp, sub, ss in subs
    ]
    out = report_stream(args.dot)
    if args.json:
        data = as_json(report)
        data["spaces"] = [as_json(sub) for sub in report["spaces"]]
        if args.dot:
            data["dot_file"] = args.dot
        print_json(data, file=out)
        return 0
    print(f"{args.image}: " + "\n".join(render_text(report)), file=out)
    for sp, sub_report in zip(spaces, report["spaces"]):
        print(f"\nspace 0x{sp.base:x}+0x{sp.bound:x} (virtual addresses): " + "\n".join(render_text(sub_report)), file=out)
    return 0
