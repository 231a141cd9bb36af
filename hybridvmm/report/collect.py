"""The runs a report shows: ``compare``'s, with the exits of each mode's run recorded as
they happen.

The table, the divergences and every number are :func:`~hybridvmm.vmm.compare.compare_images`'
own, so the report says exactly what ``compare`` says; the exit timeline is an
:class:`~hybridvmm.report.exits.ExitTimeline` attached to each of those monitors before it
runs (a wrapper around its trap handler: a little more work per exit, which the wall-time
bars include).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from hybridvmm.image import Image, PatchRecord
from hybridvmm.isa import ISA
from hybridvmm.report.exits import ExitTimeline
from hybridvmm.vmm.compare import ImageComparison, compare_images

UNTIMED = frozenset({"refill"})
"""Exit causes counted after a run, not when they happen (see :mod:`.exits`)."""


@dataclass
class Collected:
    """What the report draws from."""

    comparisons: list[ImageComparison]
    timelines: dict[str, ExitTimeline] = field(default_factory=dict)
    """Mode → the exits its run took, in order (modes without exits have none)."""

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
    """Compare ``images`` under ``modes`` (as ``compare``), recording each mode's exits."""
    timelines: dict[str, ExitTimeline] = {}

    def attach(mode: str, monitor: Any) -> None:
        timelines[mode] = ExitTimeline()
        timelines[mode].attach(monitor)

    comparisons = compare_images(images, modes, isa, max_steps, console_input, locate_divergences=locate,
                                 progress=progress, prepare=attach, **monitor_args)
    out = Collected(comparisons)
    for k, mode in enumerate(modes):
        if any(c.rows[k].run.vm is not None and timed_exits(c.rows[k].run.vm.stats.exits) for c in comparisons):
            out.timelines[mode] = timelines[mode]
    return out
