"""The runs a report shows: ``compare``'s, plus a timed rerun of each mode that exits.

The table, the divergences and every number are :func:`~hybridvmm.vmm.compare.compare_images`'
own, so the report says exactly what ``compare`` says.  The exit timeline needs a hook in
the monitor's run that ``compare`` has no place for, so each mode with exits runs once more
with an :class:`~hybridvmm.report.exits.ExitTimeline` attached (runs are deterministic:
the same exits happen; :attr:`Collected.timing_differs` says if they did not).  Runs that
ask for no timeline never carry the hook.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from hybridvmm.image import Image, PatchRecord
from hybridvmm.isa import ISA
from hybridvmm.report.exits import ExitTimeline
from hybridvmm.vmm.compare import ImageComparison, compare_images
from hybridvmm.vmm.monitor import Monitor

UNTIMED = frozenset({"refill"})
"""Exit causes counted after a run, not when they happen (see :mod:`.exits`)."""


@dataclass
class Collected:
    """What the report draws from."""

    comparisons: list[ImageComparison]
    timelines: dict[str, ExitTimeline] = field(default_factory=dict)
    """Mode → its timed rerun (modes without exits have none)."""
    timing_differs: list[str] = field(default_factory=list)
    """Modes whose timed rerun counted other exits than the compared run."""

    @property
    def isa(self) -> ISA:
        return self.comparisons[0].isa

    def runtime_patches(self, image_index: int) -> dict[str, list[PatchRecord]]:
        """Mode → the patches the monitor had applied to that image's VM when it ended."""
        out = {}
        for row in self.comparisons[image_index].rows:
            vm = row.run.vm
            table = vm.patches.table() if vm is not None and getattr(vm, "patches", None) is not None else []
            if table:
                out[row.mode] = table
        return out


def timed_exits(row_exits: dict[str, int]) -> int:
    return sum(n for cause, n in row_exits.items() if cause not in UNTIMED)


def collect(images: list[Image], modes: list[str], isa: ISA | str | None, max_steps: int, console_input: Any = b"", *,
            locate: bool = True, progress: Callable[[str], None] | None = None, **monitor_args: Any) -> Collected:
    """Compare ``images`` under ``modes`` (as ``compare``), then time the exits of each mode."""
    tell = progress or (lambda text: None)
    comparisons = compare_images(images, modes, isa, max_steps, console_input, locate_divergences=locate,
                                 progress=progress, **monitor_args)
    out = Collected(comparisons)
    for k, mode in enumerate(modes):
        rows = [c.rows[k] for c in comparisons]
        if not any(r.run.vm is not None and timed_exits(r.run.vm.stats.exits) for r in rows):
            continue
        tell(f"{out.isa.name}: {mode}: timing the exits")
        timeline = time_exits(images, mode, out.isa, max_steps, console_input, **monitor_args)
        out.timelines[mode] = timeline
        for row in rows:
            counted = {c: n for c, n in row.run.vm.stats.exits.items() if c not in UNTIMED}
            if timeline.counts(row.run.vm.name) != counted and mode not in out.timing_differs:
                out.timing_differs.append(mode)
    return out


def time_exits(images: list[Image], mode: str, isa: ISA, max_steps: int, console_input: Any = b"",
               **monitor_args: Any) -> ExitTimeline:
    """Run ``images`` under ``mode`` once with an exit timeline attached."""
    monitor = Monitor(images, mode, isa=isa, max_steps=max_steps, **monitor_args)
    timeline = ExitTimeline()
    timeline.attach(monitor)
    for vm in monitor.vms:
        vm.console.feed(console_input)
    try:
        monitor.run()
    finally:
        monitor.close()
    return timeline
