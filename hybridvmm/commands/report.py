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

from hybridvmm.cli_support import (add_counters_argument, add_force_flag, add_image_arguments, check_output, input_files,
                                   number, report_stream, virt_options, write_output)
from hybridvmm.commands.compare import DEFAULT_MAX_STEPS, parse_modes
from hybridvmm.commands.machine_options import add_machine_arguments, console_input, machine_platform
from hybridvmm.errors import UserError
from hybridvmm.loading import DEFAULT_STORAGE_LIMIT, load_program
from hybridvmm.progress import Progress
from hybridvmm.report import extras
from hybridvmm.vmm import COMPARE_MODES, DEFAULT_SLICE
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
    add_image_arguments(p, several="run together")
    p.add_argument("-o", "--output", metavar="FILE", required=True, help="the HTML file to write ('-' for stdout)")
    p.add_argument("--modes", metavar="M,M,...", default=",".join(COMPARE_MODES),
                   help=f"monitor modes to compare (default: {','.join(COMPARE_MODES)})")
    p.add_argument("--slice", metavar="N", type=number, default=DEFAULT_SLICE, help="guest instructions per VM slice")
    p.add_argument("--max-steps", metavar="N", type=number, default=None,
                   help=f"instruction limit per guest (default {DEFAULT_MAX_STEPS:,}, or what a bundled guest asks for)")
    p.add_argument("--costs", metavar="FILE", help="cost table replacing the default")
    p.add_argument("--no-locate", action="store_true", help="do not search for the instruction responsible for a divergence")
    add_counters_argument(p)
    add_machine_arguments(p, drive_write=False)
    add_force_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    extras.require()
    modes = parse_modes(args.modes)
    check_output(args.output, input_files(*args.images, *([args.costs] if args.costs else [])))
    from hybridvmm.report.build import Settings, build_report
    from hybridvmm.report.collect import collect

    images = [load_program(name, isa=args.isa, base=args.base, entry=args.entry, storage_limit=DEFAULT_STORAGE_LIMIT)
              for name in args.images]
    feed = console_input(args)
    platform, _ = machine_platform(args, images)
    if args.max_steps is None:
        args.max_steps = max([DEFAULT_MAX_STEPS] + [image.platform.get("max_steps", 0) for image in images])
    if args.max_steps < 1:
        raise UserError(f"--max-steps {args.max_steps}: must be at least 1")
    progress = Progress()
    try:
        with platform:
            collected = collect(images, modes, args.isa, args.max_steps, feed if feed is not None else b"",
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
