"""What ``run`` and ``step`` report."""

from __future__ import annotations

from dataclasses import dataclass, field

from hybridvmm.machine.traps import Trap

HALTED = "halted"
MAX_STEPS = "max-steps"
STOPPED = "stopped"
TRAP_LOOP = "trap-loop"
YIELDED = "yielded"

REASONS = (HALTED, MAX_STEPS, STOPPED, TRAP_LOOP, YIELDED)
"""Why a run ended: the guest halted; the instruction budget ran out; a hook or monitor
called ``stop()``; traps kept being raised without any instruction completing (e.g. a
vector whose new PSW cannot fetch), which real hardware would call a machine check; a
monitor's hook handed the CPU back to the monitor's loop (``stop(reason=YIELDED)``: the
guest entered a mode the monitor runs another way), which ends nothing."""


@dataclass(frozen=True)
class RunResult:
    """The end of one ``run`` call: why it stopped, instructions completed, final pc."""

    reason: str
    steps: int
    pc: int
    detail: str = ""

    @property
    def halted(self) -> bool:
        return self.reason == HALTED


@dataclass(frozen=True)
class StepResult:
    """One ``step``: whether the instruction completed, the trap it raised (if any), and
    every trap or interrupt taken during the step in order (an interrupt due at the
    boundary before or after the instruction is taken inside the step)."""

    completed: bool
    trap: Trap | None
    events: tuple[Trap, ...] = field(default=())
    halted: bool = False

    @property
    def interrupt(self) -> Trap | None:
        for t in reversed(self.events):
            if t.interrupt:
                return t
        return None

    @property
    def trapped(self) -> bool:
        return self.trap is not None
