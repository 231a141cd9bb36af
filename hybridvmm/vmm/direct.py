"""Direct execution: the one object that puts a VM on the host and takes it off again.

While a VM runs directly, the host is *ahead* of the VM's virtual CPU: it executes the
guest's instructions in real user mode, and only the host knows how many it has run.
Every way out — an exit through the dispatcher, or the host stopping on its own when its
instruction budget ends — goes through :meth:`DirectExecution.leave`, which credits those
instructions to the virtual CPU (advancing its virtual timer exactly), hands it the pc and
whatever else only the host held (``VirtModel.leave``), and stops the real timer.  After
an exit, :meth:`DirectExecution.act` carries out the dispatcher's :class:`Outcome`: enter
again, or hand the CPU to the monitor's loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from hybridvmm.machine import RunResult
from hybridvmm.machine.core import Machine
from hybridvmm.vmm.backend import Outcome, VirtModel
from hybridvmm.vmm.modes import Mode

if TYPE_CHECKING:
    from hybridvmm.vmm.vm import VM


class DirectExecution:
    """Owns the host while VMs run directly on it (see the module docstring)."""

    def __init__(self, host: Machine, virt: VirtModel, mode: Mode):
        self.host = host
        self.virt = virt
        self.mode = mode
        self.vm: "VM | None" = None
        """The VM running directly now (the host is ahead of its virtual CPU), or None."""
        self.synced = 0
        """Host instructions already credited to :attr:`vm`."""
        self.escapes: list[str] = []
        """Resource-control violations seen at entry (none, ever, is the claim)."""
        self.on_enter: Callable[["VM"], None] | None = None
        """Told of every entry (the monitor installs the VM's patch views on the host)."""

    def runs_directly(self, vm: "VM") -> bool:
        """Does the mode run the guest's current code directly (and may it run at all)?"""
        vcpu = vm.vcpu
        return self.mode.runs_directly(vcpu.mode) and self.virt.may_run_directly(vcpu)

    def run(self, vm: "VM", budget: int) -> RunResult:
        """Run ``vm`` directly for at most ``budget`` guest instructions (fewer if an exit
        hands the CPU back to the loop)."""
        self.enter(vm)
        result = self.host.run(budget)
        if self.vm is vm:  # the host stopped on its own (its budget), not through an exit
            self.leave(self.host.pc)
            vm.vcpu.service_interrupts()
        return result

    def enter(self, vm: "VM") -> None:
        """Resume the VM directly on the host from its virtual state."""
        host, vcpu = self.host, vm.vcpu
        if self.on_enter is not None:
            self.on_enter(vm)
        left = vm.target - vm.guest_instructions
        countdown = vcpu.countdown
        self.virt.enter(host, vcpu, min(countdown, left) if countdown else left)
        self.synced = host.stats.instructions
        self.vm = vm
        if self.virt.host_escapes(host, vm.window):
            self.escapes.append(f"{vm.name}: the host's mapping left the window at pc 0x{vcpu.pc:x}")

    def credit(self) -> None:
        """Credit the instructions the host ran since the last sync to the VM."""
        vm = self.vm
        n = self.host.stats.instructions - self.synced
        if n:
            self.synced += n
            vm.stats.bump(vm.stats.direct, vm.vcpu.mode, n)
            vm.vcpu.elapse(n)

    def leave(self, pc: int) -> "VM":
        """Take the VM off the host at guest ``pc``: credit, sync, stop the real timer."""
        vm = self.vm
        self.credit()
        vm.vcpu.pc = pc
        self.virt.leave(self.host, vm.vcpu)
        self.vm = None
        return vm

    def act(self, vm: "VM", outcome: Outcome) -> None:
        """After an exit: enter again, or stop the host so the monitor's loop takes over."""
        vcpu = vm.vcpu
        # (When this run stops short of the slice's end — a lock-step pause — every exit
        # returns to the loop, which re-enters with an exact instruction budget.)
        if (outcome is Outcome.RESUME and not vm.done and vcpu.stop_reason is None
                and vm.guest_instructions < vm.stop_at and vm.stop_at >= vm.target and self.runs_directly(vm)):
            self.enter(vm)
        else:
            self.host.stop("monitor")
