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

Handling an exit decides an :class:`~hybridvmm.vmm.backend.Outcome` — the family's own
``handle_exit`` is asked first, then the generic handling above — and the
:class:`~hybridvmm.vmm.direct.DirectExecution` that owns the host carries it out: resume
direct execution (re-composing the host's mapping with the VM's possibly new virtual
state, re-arming the real timer) or stop the host so the monitor's loop can interpret,
switch VMs or finish.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from hybridvmm.machine import HALTED, TRAP_LOOP, Trap, TrapSignal
from hybridvmm.vmm import routines
from hybridvmm.vmm.backend import Outcome
from hybridvmm.vmm.direct import DirectExecution

if TYPE_CHECKING:
    from hybridvmm.vmm.vm import VM

CLUSTER = 16
"""Instructions emulated at most after one exit before the guest runs directly again."""

Emit = Callable[["VM", str, str], None]
"""``emit(vm, category, text)``: one trace line (only called while tracing)."""


class Dispatcher:
    """The host's trap handler (see the module docstring)."""

    def __init__(self, direct: DirectExecution, emit: Emit, tracing: bool = False,
                 on_emulated: Callable[["VM", int], None] | None = None):
        """``on_emulated(vm, address)`` hears of every exit whose instruction was emulated
        (adaptive translation counts them)."""
        self.direct = direct
        self.on_emulated = on_emulated
        self.virt = direct.virt
        self.emit = emit
        self.tracing = tracing
        """Whether to build trace lines at all (this is the hot exit path)."""

    def __call__(self, trap: Trap) -> None:
        direct = self.direct
        direct.host.progress()
        vm = direct.leave(trap.pc)
        vm.stats.bump(vm.stats.exits, self.virt.exit_cause(vm, trap))
        outcome = self.virt.handle_exit(vm, trap)
        if outcome is None:
            outcome = self.handle(vm, trap)
        direct.act(vm, outcome)

    def handle(self, vm: "VM", trap: Trap) -> Outcome:
        """The generic handling of an exit (see the module docstring)."""
        vcpu = vm.vcpu
        if trap.interrupt:
            vcpu.service_interrupts()
            if self.tracing:
                self.emit(vm, "exit", f"real timer at guest instruction {vm.guest_instructions}")
        elif trap.completed:
            if self.tracing:
                self.emit(vm, "exit", f"{trap.describe()}: reflected")
            routines.reflect(vcpu, trap)
        else:
            self.fault(vm, trap)
        return self.check(vm)

    def fault(self, vm: "VM", trap: Trap) -> None:
        physical = self.direct.host.physical_of(trap.address)
        patch = physical is not None and vm.patches.is_start(physical)
        tracing = self.tracing
        original = vm.vcpu.instruction_at(trap.address).name if patch else ""
        result = routines.emulate(vm.vcpu)
        if result.trap is not None:
            if tracing:
                self.emit(vm, "exit", f"{trap.describe()}: the guest's own {result.trap.name} trap, reflected")
            return
        self._emulated(vm, patch, original)
        if self.on_emulated is not None:
            self.on_emulated(vm, trap.address)
        if tracing:
            if patch:
                self.emit(vm, "patch", f"patch hit at 0x{trap.address:x}: emulated the original {original}")
            else:
                self.emit(vm, "exit", f"{trap.describe()}: emulated")
        self.cluster(vm)

    @staticmethod
    def _emulated(vm: "VM", patch: bool, original: str) -> None:
        vm.stats.emulated += 1
        if patch:
            vm.stats.patches_hit += 1
            vm.stats.bump(vm.stats.patch_hits, original)

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
        return ins, patch, patch or self.virt.traps_directly(self.direct.host, vcpu, ins)

    def cluster(self, vm: "VM") -> None:
        """Emulate the instructions that follow while each would trap again."""
        vcpu = vm.vcpu
        direct = self.direct
        for _ in range(CLUSTER):
            if vm.done or vcpu.halted or vcpu.stop_reason is not None or vm.guest_instructions >= vm.stop_at:
                return
            if not direct.runs_directly(vm):
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
            self._emulated(vm, patch, ins.name)
            vm.stats.clustered += 1
            if self.tracing:
                self.emit(vm, "exit", f"{ins.name} at 0x{ins.address:x}: emulated in the same exit")

    @staticmethod
    def check(vm: "VM") -> Outcome:
        vcpu = vm.vcpu
        if vcpu.halted:
            vm.finish(HALTED)
            return Outcome.STOP
        stop = vcpu.stop_reason
        if stop is not None and stop[0] == TRAP_LOOP:
            vm.finish(TRAP_LOOP, stop[1])
            return Outcome.STOP
        return Outcome.RESUME
