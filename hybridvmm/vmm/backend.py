"""What the monitor needs from an ISA family: its virtualization model (a protocol).

The monitor (:mod:`hybridvmm.vmm.monitor`, the dispatcher, the lazy patcher) names no ISA.
Everything that differs between ISAs — how a guest runs directly in real user mode, how
its relocation composes with the storage the allocator gave it, what a world switch must
save — comes from an object of this shape, registered as the ``virt`` of the family in
:mod:`hybridvmm.isas` (``hybridvmm/isas/pgm_virt.py`` is pgm's).  A RISC-V model slots in
beside it by implementing the same methods (entering U-mode with a shadow translation of
the guest's page tables, for instance) without a change here.
"""

from __future__ import annotations

from typing import Any, Protocol

from hybridvmm.isa import Instruction
from hybridvmm.machine.core import Machine
from hybridvmm.machine.storage import Storage


class VirtModel(Protocol):
    """One ISA family's virtualization model."""

    user_mode: str
    """The mode name of unprivileged code (what the hybrid monitor runs directly)."""

    def new_host(self, storage_size: int) -> Machine:
        """The real machine every VM runs on, with ``storage_size`` bytes of storage."""

    def new_vcpu(self, host: Machine, window: Storage) -> Machine:
        """A VM's virtual CPU over ``window``: its own system state, the host's registers."""

    def enter(self, host: Machine, vcpu: Machine, countdown: int) -> None:
        """Make the host run the VM's code directly from the virtual CPU's state: real user
        mode, the guest's mapping composed with its window, the real timer armed for
        ``countdown`` instructions."""

    def quiesce(self, host: Machine) -> None:
        """The monitor has the CPU: stop the real timer, forget what it had pending."""

    def save(self, host: Machine) -> Any:
        """What a world switch saves of the registers the VMs share with the host."""

    def restore(self, host: Machine, world: Any) -> None:
        """Load a saved world into the host."""

    def code_space(self, vcpu: Machine) -> tuple[int, int]:
        """Where the guest's code lies now: (window base, bound) of its address space."""

    def traps_directly(self, ins: Instruction) -> bool:
        """Would ``ins`` trap if the host executed it directly in real user mode?"""

    def host_escapes(self, host: Machine, window: Storage) -> bool:
        """Resource control: does the host's current mapping reach outside ``window``?"""
