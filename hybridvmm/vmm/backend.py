"""What the monitor needs from an ISA family: its virtualization model (a protocol), and exit outcomes.

The monitor (:mod:`hybridvmm.vmm.monitor`, the dispatcher, the lazy patcher) names no ISA.
Everything that differs between ISAs — how a guest runs directly in real user mode, how
its mapping composes with the storage the allocator gave it, what a world switch must
save, which instructions trap when run deprivileged, what an exit was — comes from an
object of this shape, registered as the ``virt`` of the family in :mod:`hybridvmm.isas`
(pgm's relocation model in ``isas/pgm/virt.py``, RISC-V's shadow-paging model in
``isas/riscv/virt.py``).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Protocol

from hybridvmm.isa import Instruction
from hybridvmm.machine.core import Machine
from hybridvmm.machine.space import AddressSpace
from hybridvmm.machine.storage import Storage
from hybridvmm.machine.traps import Trap

if TYPE_CHECKING:
    from hybridvmm.vmm.vm import VM


class Outcome(enum.Enum):
    """What handling one exit decided (the shape of Firecracker's ``VcpuEmulation``)."""

    RESUME = "resume"
    """Go on running the guest directly."""
    TO_LOOP = "to-loop"
    """Hand the CPU to the monitor's loop (to interpret, switch VMs, or end a slice)."""
    STOP = "stop"
    """The VM is finished."""


class VirtModel(Protocol):
    """One ISA family's virtualization model."""

    def new_host(self, storage_size: int, windows: list[tuple[int, int]]) -> Machine:
        """The real machine every VM runs on, with ``storage_size`` bytes of storage, able to
        reach the ``windows`` (offset, size) from real user mode and nothing else."""

    def new_vcpu(self, host: Machine, window: Storage, vm_id: int) -> Machine:
        """VM ``vm_id``'s virtual CPU over ``window``: its own system state, the host's registers."""

    def enter(self, host: Machine, vcpu: Machine, countdown: int) -> None:
        """Make the host run the VM's code directly from the virtual CPU's state: real user
        mode, the guest's mapping composed with its window, the real timer armed for
        ``countdown`` instructions."""

    def leave(self, host: Machine, vcpu: Machine) -> None:
        """The monitor has the CPU: stop the real timer, forget what it had pending, and
        give the virtual CPU back what only the host held while the guest ran directly."""

    def save(self, host: Machine) -> Any:
        """What a world switch saves of the registers the VMs share with the host."""

    def restore(self, host: Machine, world: Any) -> None:
        """Load a saved world into the host."""

    def may_run_directly(self, vcpu: Machine) -> bool:
        """May the guest's current code run directly at all (beyond the mode's policy)?"""

    def code_space(self, vcpu: Machine) -> AddressSpace:
        """Where the guest's code lies now: its address space in the window."""

    def traps_directly(self, host: Machine, vcpu: Machine, ins: Instruction) -> bool:
        """Would this instance trap if the host executed it directly for this VM now?"""

    def handle_exit(self, vm: "VM", trap: Trap) -> Outcome | None:
        """The family's own handling of an exit, tried first (None: the generic one)."""

    def exit_cause(self, vm: "VM", trap: Trap) -> str:
        """The statistics name of an exit (``timer``, ``csr``, ``mmio`` …)."""

    def host_escapes(self, host: Machine, window: Storage) -> bool:
        """Resource control: can the host's current mapping reach outside ``window``?"""

    def close_vcpu(self, host: Machine, vcpu: Machine) -> None:
        """The VM is discarded: forget whatever the host keeps for it."""
