"""pgm's virtualization model: what the ISA-agnostic monitor (:mod:`hybridvmm.vmm`) needs from pgm.

Popek and Goldberg's allocator composes the guest's relocation register with the storage it
gave the VM; on pgm that is R itself.  A VM's guest runs *directly* on the host machine in
real user mode with

    host R.base  = window offset + virtual R.base
    host R.bound = virtual R.bound clipped to what is left of the window above that base

so every address the guest can form lands inside its window (a base at or beyond the
window's end gets bound 0: every access faults, as it would against the VM's storage on
the bare machine).  The host's IE is always on and its interval timer is the monitor's:
it is programmed for the next event the monitor must see (the VM's virtual timer or the
end of its slice, whichever comes first).  The guest's own M, IE, R, timer and PSW area
live in its *virtual CPU*: a :class:`~hybridvmm.isas.pgm.machine.PgmMachine` over the window that
shares the host's register file and flags, running the same semantics — so interpreting
an instruction, emulating a trapped privileged one, or reflecting a trap through the
guest's own vectors are all just that machine executing.
"""

from __future__ import annotations

from dataclasses import dataclass

from hybridvmm.isa import ISA, Instruction
from hybridvmm.isas.pgm.machine import PgmMachine
from hybridvmm.machine.space import LinearSpace
from hybridvmm.machine.storage import Storage
from hybridvmm.machine.traps import Trap

M32 = 0xFFFFFFFF


@dataclass
class PgmWorld:
    """What a world switch saves of a VM that the virtual CPU does not hold itself: the
    shared register file and flags (Smith & Nair Fig. 8.4)."""

    regs: list[int]
    flag_cells: list


class PgmVirt:
    """The monitor backend for every pgm variant."""

    def __init__(self, isa: ISA):
        self.isa = isa

    def new_host(self, storage_size: int, windows: list[tuple[int, int]]) -> PgmMachine:
        """The real machine every VM runs on (R, recomposed at every entry, keeps each
        guest inside its window, so nothing needs setting up for ``windows``)."""
        host = PgmMachine(self.isa, storage_size)
        host.code.max_contexts = 256  # a context per composed R of every VM
        return host

    def new_vcpu(self, host: PgmMachine, window: Storage, vm_id: int) -> PgmMachine:
        """A VM's virtual CPU: its own M, IE, R, timer and vectors over ``window``."""
        return PgmMachine(self.isa, storage=window, share_registers_with=host)

    def compose(self, window: Storage, base: int, bound: int) -> tuple[int, int]:
        """Host R for a guest running under virtual R = (base, bound) in ``window``."""
        if base >= window.size:
            return window.offset, 0
        return window.offset + base, min(bound, window.size - base)

    def enter(self, host: PgmMachine, vcpu: PgmMachine, countdown: int) -> None:
        """Run the VM's code directly from its current state: real user mode, composed R,
        IE on, the real timer armed for ``countdown`` instructions."""
        host.user = True
        host.ie = True
        host.timer_pending = False
        host.halted = False
        base, bound = self.compose(vcpu.storage, vcpu.base, vcpu.bound)
        if base != host.base or bound != host.bound:
            host.set_r(base, bound)
        host.pc = vcpu.pc
        host.arm_countdown(countdown)

    def leave(self, host: PgmMachine, vcpu: PgmMachine) -> None:
        """The monitor has the CPU: the real timer is stopped and nothing is pending (the
        registers and flags are shared, so the virtual CPU has the rest already)."""
        host.timer_pending = False
        host.arm_countdown(0)

    def may_run_directly(self, vcpu: PgmMachine) -> bool:
        return True

    def code_space(self, vcpu: PgmMachine) -> LinearSpace:
        """Where the guest's code lies now, for the scanner: the linear space R = (base,
        bound) of its window."""
        return LinearSpace(vcpu.base, vcpu.bound, vcpu.storage.size)

    def traps_directly(self, host: PgmMachine, vcpu: PgmMachine, ins: Instruction) -> bool:
        """Would ``ins`` trap executed directly in real user mode (its spec says so)?"""
        return ins.spec.traps_in_user_mode

    def handle_exit(self, vm, trap: Trap) -> None:
        """pgm needs nothing beyond the generic handling."""
        return None

    def exit_cause(self, vm, trap: Trap) -> str:
        """pgm's trap names are already the causes (``privileged``, ``vmtrap``, ``timer`` …)."""
        return trap.name

    def close_vcpu(self, host: PgmMachine, vcpu: PgmMachine) -> None:
        """The host keeps nothing per VM beyond its code contexts, which the VM's storage drops."""

    def save(self, host: PgmMachine) -> PgmWorld:
        return PgmWorld(host.regs[:], host.flag_cells[:])

    def restore(self, host: PgmMachine, world: PgmWorld) -> None:
        host.regs[:] = world.regs
        host.flag_cells[:] = world.flag_cells

    def host_escapes(self, host: PgmMachine, window: Storage) -> bool:
        """Resource control: does host R reach outside ``window``?"""
        eb = max(0, min(host.bound, host.storage.size - host.base))
        return eb > 0 and not (window.offset <= host.base and host.base + eb <= window.offset + window.size)
