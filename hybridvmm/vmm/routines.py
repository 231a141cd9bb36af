"""The interpreter routines: Popek and Goldberg's third module, here one mechanism for all.

A VM's virtual CPU is a machine of the guest's own ISA over its window, holding the
virtual mode, interrupt enable, relocation, timer and PSW area, and running the ISA's own
semantics.  So the routine for any privileged or sensitive instruction is the same: execute
that instruction on the virtual CPU.  If the virtual supervisor executed it, its effect
lands on the virtual state (emulation); if the guest was in virtual user mode, or the
instruction faults against the *virtual* R, the virtual CPU takes the guest's own trap
through the guest's own vectors (reflection) — exactly as the bare machine would.
"""

from __future__ import annotations

from hybridvmm.machine import StepResult, Trap
from hybridvmm.machine.core import Machine


def emulate(vcpu: Machine) -> StepResult:
    """Execute the instruction at the virtual pc against the virtual state (one guest
    instruction; a trap it raises is delivered through the guest's vectors)."""
    return vcpu.step()


def reflect(vcpu: Machine, trap: Trap) -> None:
    """Deliver ``trap`` (raised by guest code running directly) into the guest, then any
    interrupt that became due, as the bare machine does after a trap."""
    vcpu.take(trap)
    vcpu.service_interrupts()


def interpret(vcpu: Machine, budget: int):
    """Interpret guest code for up to ``budget`` instructions (until it halts, stops, or a
    hook stops it)."""
    return vcpu.run(budget)
