"""Run statistics every machine keeps: instructions per mode, traps by cause, interrupts."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Stats:
    """Counters accumulated across runs (reset with :meth:`reset`).

    Instructions are *completed* instructions (a fault does not complete; a system call
    does).  ``traps`` counts every trap and interrupt by cause name, including those taken
    by a monitor's ``trap_handler``; ``timer_interrupts`` counts interrupts delivered.
    """

    supervisor: int = 0
    user: int = 0
    traps: dict[str, int] = field(default_factory=dict)
    timer_interrupts: int = 0

    @property
    def instructions(self) -> int:
        return self.supervisor + self.user

    def reset(self) -> None:
        self.supervisor = self.user = self.timer_interrupts = 0
        self.traps = {}

    def copy(self) -> "Stats":
        return Stats(self.supervisor, self.user, dict(self.traps), self.timer_interrupts)

    def as_dict(self) -> dict:
        return {
            "instructions": self.instructions,
            "supervisor": self.supervisor,
            "user": self.user,
            "traps": dict(sorted(self.traps.items())),
            "timer_interrupts": self.timer_interrupts,
        }
