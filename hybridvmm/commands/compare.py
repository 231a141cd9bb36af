"""``compare IMAGE... [--modes ...]``: each monitor mode against the bare machine.

One row per mode: equivalent or not (console bytes, the traps the guest sees and its final
state, exactly), the first divergence and the instruction responsible for it, guest
instructions, the share executed directly, traps into the monitor, patches hit, simulated
host cycles, and the slowdown against bare (simulated and wall).  The theory column is
``yes``, ``no``, or ``if`` for a statically patched image (equivalent if no unpatched
sensitive instruction runs: :mod:`hybridvmm.vmm.theory`).  Exit 1 when a mode the theory
says must be equivalent is not (as ``diff``: 0 same, 1 different, 2 trouble).
"""

from __future__ import annotations

import argparse
from typing import ContextManager

from hybridvmm.cli_support import add_counters_argument, add_image_arguments, add_json_flag, number, print_json, virt_options
from hybridvmm.commands.bench import WALL_NOTE
from hybridvmm.commands.machine_options import add_machine_arguments, console_input, machine_platform
from hybridvmm.errors import UserError
from hybridvmm.image import Image
from hybridvmm.loading import DEFAULT_STORAGE_LIMIT, load_program
from hybridvmm.progress import Progress
from hybridvmm.vmm import COMPARE_MODES, DEFAULT_SLICE, MODES
from hybridvmm.vmm.compare import ImageComparison, compare_images
from hybridvmm.vmm.costs import load_costs

ORDER = 65
DEFAULT_MAX_STEPS = 50_000_000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="run guests bare and under each monitor mode; equivalence, divergences, efficiency")
    add_comparison_arguments(p)
    p.add_argument("--adaptive", metavar="N", type=number, default=0,
                   help="adaptive translation in the modes that run code directly: translate a site that has "
                        "trapped N times (default 0: off)")
    add_json_flag(p)
    p.set_defaults(func=run)


def add_comparison_arguments(p: argparse.ArgumentParser) -> None:
    """What ``compare`` and ``report`` both take: the images, the modes, the run's limits, the
    cost table, the lock-step search, the counters and the machine's options."""
    add_image_arguments(p, several="run together")
    p.add_argument("--modes", metavar="M,M,...", default=",".join(COMPARE_MODES),
                   help=f"monitor modes to compare (default: {','.join(COMPARE_MODES)})")
    p.add_argument("--slice", metavar="N", type=number, default=DEFAULT_SLICE, help="guest instructions per VM slice")
    p.add_argument("--max-steps", metavar="N", type=number, default=None,
                   help=f"instruction limit per guest (default {DEFAULT_MAX_STEPS:,}, or what a bundled guest asks for)")
    p.add_argument("--costs", metavar="FILE", help="cost table replacing the default")
    p.add_argument("--no-locate", action="store_true", help="do not search for the instruction responsible for a divergence")
    add_counters_argument(p)
    add_machine_arguments(p, drive_write=False)


def load_comparison(args: argparse.Namespace) -> tuple[list[str], list[Image], bytes, ContextManager]:
    """The modes, the images, the console input and the platform the options name; fills in
    ``args.max_steps`` (the default, or what a bundled guest asks for)."""
    modes = parse_modes(args.modes)
    images = [load_program(name, isa=args.isa, base=args.base, entry=args.entry, storage_limit=DEFAULT_STORAGE_LIMIT)
              for name in args.images]
    feed = console_input(args)
    platform, _ = machine_platform(args, images)
    if args.max_steps is None:
        args.max_steps = max([DEFAULT_MAX_STEPS] + [image.platform.get("max_steps", 0) for image in images])
    return modes, images, feed if feed is not None else b"", platform


def parse_modes(text: str) -> list[str]:
    modes = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise UserError(f"--modes {text}: unknown mode {', '.join(unknown) or '(none)'} (modes: {', '.join(MODES)})")
    return modes


def _percent(x: float) -> str:
    return f"{x:.1%}"


def _times(ratio: float | None, width: int) -> str:
    """A slowdown column: ``1.23x``, or ``-`` when there is no ratio (bare ran no instruction)."""
    return f"{ratio:>{width - 1}.2f}x" if ratio is not None else f"{'-':>{width}}"


def print_table(c: ImageComparison) -> None:
    b = c.bare
    print(f"{c.image.source} on {c.isa.name}: bare {b.instructions:,} instructions, {b.reason}, {b.wall_s:.3f} s")
    print(f"  {'mode':<16}{'equivalent':<12}{'theory':<8}{'guest instr':>12}{'direct':>9}{'traps':>8}"
          f"{'callouts':>9}{'patches':>9}{'host cycles':>14}{'slowdown':>10}{'wall':>8}")
    for row in c.rows:
        d = row.as_dict()
        eq = "yes" if row.equivalent else "NO"
        print(f"  {row.mode:<16}{eq:<12}{row.theory:<8}{d['guest_instructions']:>12,}{_percent(d['direct_fraction']):>9}"
              f"{d['traps']:>8,}{d['callouts']:>9,}{d['patches_hit']:>9,}{d['host_cycles']:>14,}{_times(d['slowdown_simulated'], 10)}"
              f"{_times(d['slowdown_wall'], 8)}")
    for row in c.rows:
        if row.condition:
            print(f"  {row.mode}: theory 'if': {row.reason}")
        if row.divergence is not None:
            first, *rest = row.divergence.lines(row.mode)
            print(f"  {row.mode}: {first}")
            for line in rest:
                print(f"      {line}")
            if row.unexpected:
                print(f"  {row.mode}: UNEXPECTED: the theory says this mode is equivalent ({row.reason})")


def run(args: argparse.Namespace) -> int:
    modes, images, feed, platform = load_comparison(args)
    progress = Progress()
    try:
        with platform:
            results = compare_images(images, modes, args.isa, args.max_steps, feed,
                                     locate_divergences=not args.no_locate, progress=progress.update,
                                     slice_length=args.slice, costs=load_costs(args.costs), adaptive=args.adaptive,
                                     virt_options=virt_options(args))
    finally:
        progress.clear()
    if args.json:
        docs = [c.as_dict() for c in results]
        print_json({**docs[0], "note": WALL_NOTE} if len(docs) == 1 else {"images": docs, "note": WALL_NOTE})
    else:
        for k, c in enumerate(results):
            if k:
                print()
            print_table(c)
        print(f"note: {WALL_NOTE}")
    return 1 if any(c.unexpected for c in results) else 0
