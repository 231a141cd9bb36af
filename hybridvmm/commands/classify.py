"""``classify --isa NAME``: derived Popek–Goldberg classes and the Theorem 1 / 3 verdicts."""

from __future__ import annotations

import argparse

from hybridvmm.classify import DEFAULT_SAMPLES, Classification, classify_isa
from hybridvmm.classify.figure import render_svg
from hybridvmm.cli_support import add_force_flag, add_json_flag, check_output, print_json, report_stream, write_output
from hybridvmm.errors import UserError
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
    p.add_argument("--samples", type=int, default=DEFAULT_SAMPLES, metavar="N", help=f"states sampled per instruction (default {DEFAULT_SAMPLES})")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="sampling seed (default 0); same seed, same output")
    p.add_argument("--svg", metavar="FILE", help="also write a figure of the sensitive and privileged sets (Smith & Nair "
                   "Fig. 8.8); '-' for stdout, the table then going to stderr")
    add_force_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def _mark(flag: bool) -> str:
    return "yes" if flag else "-"


def format_text(result: Classification) -> str:
    """The table, the disagreements and the two verdicts with witnesses in words."""
    lines = [f"{result.isa}: {len(result.instructions)} instructions, {result.samples} states sampled per instruction "
             f"(seed {result.seed})", ""]
    rows = [("instruction", "P", "CS", "BS", "US", "declared agrees")]
    for ic in result.instructions:
        rows.append((ic.name, _mark(ic.privileged), _mark(ic.control_sensitive), _mark(ic.behavior_sensitive),
                     _mark(ic.user_sensitive), "yes" if ic.agrees_with_spec else "NO: " + ic.disagreement()))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for r in rows:
        lines.append("  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    lines.append("")
    for verdict in (result.theorem1, result.theorem3):
        if verdict.holds:
            lines.append(f"{verdict.theorem} ({verdict.condition}): HOLDS")
        else:
            lines.append(f"{verdict.theorem} ({verdict.condition}): FAILS — {', '.join(verdict.violations)}")
        for name in verdict.violations:
            ic = result.by_name(name)
            tag = "user-sensitive" if verdict.theorem == "Theorem 3" else ("control-sensitive" if ic.control_sensitive else "behavior-sensitive")
            why = ic.witnesses[tag].explanation
            lines.append(f"  {why}; it is not privileged: {ic.not_privileged_because}.")
    bad = result.disagreements
    if bad:
        lines.append("")
        lines.append(f"{len(bad)} instruction(s) disagree with the spec's declared class (the spec or the semantics is wrong):")
        for ic in bad:
            lines.append(f"  {ic.name}: {ic.disagreement()}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.samples < 1:
        raise UserError("--samples must be at least 1")
    if args.svg:
        check_output(args.svg)  # before the work, not after it
    progress = Progress()
    try:
        result = classify_isa(args.isa, samples=args.samples, seed=args.seed, progress=progress.update)
    finally:
        progress.clear()
    if args.svg:
        write_output(args.svg, render_svg(result).encode())
    report = report_stream(args.svg)
    if args.json:
        print_json({**result.as_dict(), **({"svg_file": args.svg} if args.svg else {})}, file=report)
    else:
        print(format_text(result), file=report)
    return 0
