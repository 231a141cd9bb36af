"""Run statistics every machine keeps: instructions per privilege mode, traps by cause, interrupts."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Stats:
    """Counters accumulated across runs (reset with :meth:`reset`).

    Instructions are *completed* instructions (a fault does not complete; a system call
    does), counted per privilege mode by the mode's name in ``by_mode`` (pgm:
    ``supervisor``/``user``; a three-level ISA adds its own; a mode that ran nothing has
    no entry).  ``traps`` counts every trap and interrupt by cause
    name, including those taken by a monitor's ``trap_handler``; ``timer_interrupts``
    counts timer interrupts delivered.
    """

    modes: tuple[str, ...]
    """The machine's mode names, most privileged first (the order of reports)."""
    by_mode: dict[str, int] = field(default_factory=dict)
    traps: dict[str, int] = field(default_factory=dict)
    timer_interrupts: int = 0
    instructions: int = 0
    """All completed instructions (the sum of ``by_mode``, kept as it is counted: monitors
    read it on every exit)."""

    def __post_init__(self) -> None:
        self.instructions = sum(self.by_mode.values())

    def count(self, mode: str, n: int) -> None:
        """``n`` more instructions completed in ``mode``."""
        by_mode = self.by_mode
        by_mode[mode] = by_mode.get(mode, 0) + n
        self.instructions += n

    def reset(self) -> None:
        self.by_mode = {}
        self.traps = {}
        self.timer_interrupts = 0
        self.instructions = 0

    def copy(self) -> "Stats":
        return Stats(self.modes, dict(self.by_mode), dict(self.traps), self.timer_interrupts)

    def as_dict(self) -> dict:
        """Instructions in all and per mode (one key per mode name), traps, interrupts."""
        out: dict = {"instructions": self.instructions}
        for mode in self.modes:
            out[mode] = self.by_mode.get(mode, 0)
        out["traps"] = dict(sorted(self.traps.items()))
        out["timer_interrupts"] = self.timer_interrupts
        return out
