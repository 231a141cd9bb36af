"""``report IMAGE... -o report.html``: what ``compare`` finds, as one self-contained HTML page.

The prediction table with each divergence, per-mode bars (simulated cycles, wall time, share
direct, exits by cause), a timeline of the exits and the CFG around the sensitive sites and
patches (:mod:`hybridvmm.report`).  Needs the optional extra ``hybridvmm[report]``; says how
to install it if missing (exit 2).  Exit 1, as ``compare``, when a mode the theory says must
be equivalent is not (the page is written all the same).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hybridvmm.cli_support import add_force_flag, check_output, input_files, report_stream, virt_options, write_output
from hybridvmm.commands.compare import add_comparison_arguments, load_comparison
from hybridvmm.errors import UserError
from hybridvmm.progress import Progress
from hybridvmm.report import extras
from hybridvmm.vmm.costs import load_costs

ORDER = 66


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="compare guests bare and under each monitor mode, and write the result as one HTML page",
        description="Runs what compare runs and writes one self-contained HTML file (inline SVG and CSS, nothing "
        "loaded from the network): the prediction table with each divergence (first divergent event, responsible "
        "instruction), per-mode bars of simulated cycles, wall time, share run directly and exits by cause, a "
        "timeline of the exits, and the CFG around the sensitive sites and patches, one function or neighbourhood "
        f"per figure (drawn by Graphviz when installed). Needs matplotlib and jinja2: {extras.INSTALL}.",
    )
    add_comparison_arguments(p)
    p.add_argument("-o", "--output", metavar="FILE", required=True, help="the HTML file to write ('-' for stdout)")
    add_force_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    extras.require()
    check_output(args.output, input_files(*args.images, *([args.costs] if args.costs else [])))
    from hybridvmm.report.build import Settings, build_report
    from hybridvmm.report.collect import collect

    modes, images, feed, platform = load_comparison(args)
    if args.max_steps < 1:                         # (compare prints its table of no instruction)
        raise UserError(f"--max-steps {args.max_steps}: must be at least 1")
    progress = Progress()
    try:
        with platform:
            collected = collect(images, modes, args.isa, args.max_steps, feed,
                                locate=not args.no_locate, progress=progress.update, slice_length=args.slice,
                                costs=load_costs(args.costs), virt_options=virt_options(args))
        progress.update("drawing the report", force=True)
        settings = Settings(modes, args.slice, args.max_steps, Path(args.costs).name if args.costs else "default")
        page = build_report(collected, settings)
    finally:
        progress.clear()
    write_output(args.output, page.encode("utf-8"))
    unexpected = [f"{c.image.source} {r.mode}" for c in collected.comparisons for r in c.unexpected]
    diverged = sum(1 for c in collected.comparisons for r in c.rows if not r.equivalent)
    where = "stdout" if args.output == "-" else args.output
    summary = (f"{where}: {len(images)} image{'' if len(images) == 1 else 's'} under {len(modes)} mode"
               f"{'' if len(modes) == 1 else 's'}, {diverged} divergence{'' if diverged == 1 else 's'}")
    summary += f", UNEXPECTED: {', '.join(unexpected)}" if unexpected else " (as the theory predicts)" if diverged else ""
    print(summary, file=report_stream(args.output))
    return 1 if unexpected else 0
