"""The dispatcher: every trap and interrupt of the host machine enters here.

It is the host's ``trap_handler``.  Each entry (an *exit* from direct execution) first
brings the VM's virtual CPU up to date — the instructions the host ran directly are
credited to it, so its virtual timer is exact — then classifies the event:

``timer`` interrupt
    the real interval timer, the monitor's own: the VM's virtual timer ran out (its
    interrupt is delivered if the guest's IE allows) or its slice did;
a trap that *completed* its instruction (a system call)
    the guest's own: reflected into the guest through its PSW area;
any other trap (a fault)
    re-executed by the interpreter routine against the virtual state: a privileged
    instruction of the virtual supervisor (executed deprivileged, so it trapped) is
    emulated; a patch the monitor made runs the original instruction; anything else — a
    privileged instruction in virtual user mode, a bounds fault against the *virtual* R, an
    illegal instruction, a ``vmtrap`` the guest wrote itself — faults the same way on the
    virtual CPU and is thereby reflected exactly as the bare machine would deliver it.

After an emulated instruction the dispatcher looks at the next one: if it would trap
too (a privileged instruction, a patch), it is emulated right away instead of resuming
the guest only to take another exit — the exit *clustering* of Agesen et al., "Software
Techniques for Avoiding Hardware Virtualization Exits" (USENIX ATC 2012).  A kernel's
``pushf; di; out; popf`` costs one exit, not four.  (Agesen et al. also interpret a few
innocuous instructions to reach the next trapping one.  Here that does not pay: an exit
costs about as much as interpreting three instructions, and looking four ahead saved
12–20 % of the exits on the user-heavy workloads but cost 20–30 % more time in the
dispatcher, so the cluster ends at the first instruction that would not trap.)

Then it either resumes direct execution (re-composing the host's R with the VM's
possibly new virtual R, re-arming the real timer) or stops the host so the monitor's loop
can interpret, switch VMs or finish.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hybridvmm.machine import HALTED, TRAP_LOOP, Trap, TrapSignal
from hybridvmm.vmm import routines

if TYPE_CHECKING:
    from hybridvmm.vmm.monitor import Monitor
    from hybridvmm.vmm.vm import VM

CLUSTER = 16
"""Instructions emulated at most after one exit before the guest runs directly again."""


class Dispatcher:
    """The host's trap handler (see the module docstring)."""

    def __init__(self, monitor: "Monitor"):
        self.monitor = monitor

    def __call__(self, trap: Trap) -> None:
        monitor = self.monitor
        vm = monitor.current
        host = monitor.host
        monitor.virt.quiesce(host)
        host.progress()
        monitor.credit(vm)
        vm.stats.bump(vm.stats.exits, trap.name)
        vcpu = vm.vcpu
        vcpu.pc = trap.pc
        tracing = monitor.tracing
        if trap.interrupt:
            vcpu.service_interrupts()
            if tracing:
                monitor.emit(vm, "exit", f"real timer at guest instruction {vm.guest_instructions}")
        elif trap.completed:
            if tracing:
                monitor.emit(vm, "exit", f"{trap.describe()}: reflected")
            routines.reflect(vcpu, trap)
        else:
            self.fault(vm, trap)
        self.check(vm)
        monitor.resume_or_stop(vm)

    def fault(self, vm: "VM", trap: Trap) -> None:
        physical = self.monitor.host.physical_of(trap.address)
        patch = physical is not None and vm.patches.is_start(physical)
        tracing = self.monitor.tracing
        original = vm.vcpu.instruction_at(trap.address).name if patch else ""
        result = routines.emulate(vm.vcpu)
        if result.trap is not None:
            if tracing:
                self.monitor.emit(vm, "exit", f"{trap.describe()}: the guest's own {result.trap.name} trap, reflected")
            return
        vm.stats.emulated += 1
        if patch:
            vm.stats.patches_hit += 1
            vm.stats.bump(vm.stats.patch_hits, original)
            if tracing:
                self.monitor.emit(vm, "patch", f"patch hit at 0x{trap.address:x}: emulated the original {original}")
        elif tracing:
            self.monitor.emit(vm, "exit", f"{trap.describe()}: emulated")
        self.cluster(vm)

    def _traps(self, vm: "VM", address: int):
        """(instruction at ``address``, is it a patch, would it trap directly), or None if
        the interpreter cannot fetch it."""
        vcpu = vm.vcpu
        try:
            ins = vcpu.instruction_at(address)
        except TrapSignal:
            return None
        physical = vcpu.physical_of(address)
        patch = physical is not None and vm.patches.is_start(physical)
        return ins, patch, patch or self.monitor.virt.traps_directly(ins)

    def cluster(self, vm: "VM") -> None:
        """Emulate the instructions that follow while each would trap again."""
        monitor = self.monitor
        vcpu = vm.vcpu
        virt = monitor.virt
        for _ in range(CLUSTER):
            if vm.done or vcpu.halted or vcpu.stop_reason is not None or vm.guest_instructions >= vm.stop_at:
                return
            if monitor.mode.interprets(vcpu.mode, virt.user_mode):
                return
            found = self._traps(vm, vcpu.pc)
            if found is None:
                return
            ins, patch, traps = found
            if not traps:
                return
            result = routines.emulate(vcpu)
            if result.trap is not None:
                return
            vm.stats.emulated += 1
            vm.stats.clustered += 1
            if patch:
                vm.stats.patches_hit += 1
                vm.stats.bump(vm.stats.patch_hits, ins.name)
            if monitor.tracing:
                monitor.emit(vm, "exit", f"{ins.name} at 0x{ins.address:x}: emulated in the same exit")

    def check(self, vm: "VM") -> None:
        vcpu = vm.vcpu
        if vcpu.halted:
            vm.finish(HALTED)
            return
        stop = vcpu.stop_reason
        if stop is not None and stop[0] == TRAP_LOOP:
            vm.finish(TRAP_LOOP, stop[1])
