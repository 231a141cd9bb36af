"""``classify --isa NAME``: derived Popek–Goldberg classes and the Theorem 1 / 3 verdicts."""

from __future__ import annotations

import argparse

from hybridvmm.classify import DEFAULT_SAMPLES, classify_isa
from hybridvmm.classify.figure import render_svg
from hybridvmm.classify.report import NOT_SENSITIVE_WHY, format_text, not_sensitive_reasons, privileged_not_sensitive
from hybridvmm.cli_support import add_force_flag, add_json_flag, check_output, print_json, report_stream, write_output
from hybridvmm.errors import UserError
from hybridvmm.isa import load_isa
from hybridvmm.isas import probe_for
from hybridvmm.progress import Progress

ORDER = 50


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "classify",
        help="derive each instruction's class by executing it in paired states; Theorem 1/3 verdicts",
        description="Derive privileged / control-sensitive / behavior-sensitive / user-sensitive for every "
        "instruction by running its semantics in sampled pairs of machine states, compare with the spec's "
        "declarations, and give the Theorem 1 and Theorem 3 verdicts with witnesses.",
    )
    p.add_argument("--isa", required=True, metavar="NAME", help="ISA or variant (a name or a .toml path)")
    p.add_argument("--samples", type=int, default=DEFAULT_SAMPLES, metavar="N",
                   help=f"states sampled per instruction, or per form where operands decide the class (default {DEFAULT_SAMPLES})")
    p.add_argument("--only", metavar="NAME[,NAME...]",
                   help="classify only these instructions or forms (e.g. csrrs, csrrw@satp); the verdicts are about them")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="processes to classify in (default: one per CPU; the result is the same)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="sampling seed (default 0); same seed, same output")
    p.add_argument("--svg", metavar="FILE", help="also write a figure of the sensitive and privileged sets (Smith & Nair "
                   "Fig. 8.8); '-' for stdout, the table then going to stderr")
    add_force_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.samples < 1:
        raise UserError("--samples must be at least 1")
    if args.svg:
        check_output(args.svg)  # before the work, not after it
    isa = load_isa(args.isa)
    probe = probe_for(isa)
    progress = Progress()
    try:
        result = classify_isa(isa, samples=args.samples, seed=args.seed, probe=probe, progress=progress.update,
                              jobs=args.jobs, only=[n for n in args.only.split(",") if n] if args.only else None)
    finally:
        progress.clear()
    if args.svg:
        write_output(args.svg, render_svg(result).encode())
    report = report_stream(args.svg)
    reasons = not_sensitive_reasons(isa)
    if args.json:
        print_json({**result.as_dict(), "privileged_not_sensitive": _not_sensitive(result, reasons),
                    **({"svg_file": args.svg} if args.svg else {})}, file=report)
    else:
        print(format_text(result, reasons), file=report)
    return 0


def _not_sensitive(result, reasons: dict[str, str]) -> list[dict[str, str]]:
    """The table's footnote as data: each privileged, not sensitive row and why."""
    return [{"name": ic.name, "why": reasons.get(ic.instruction or ic.name, NOT_SENSITIVE_WHY)}
            for ic in privileged_not_sensitive(result)]
