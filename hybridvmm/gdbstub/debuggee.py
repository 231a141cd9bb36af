"""What gdb debugs: the bare machine (one thread) or a monitor's VMs (one thread each).

Both run the guest in chunks and look at the socket between them (Ctrl-C, a hang-up), stop
the moment a breakpoint or watchpoint hits (:mod:`hybridvmm.gdbstub.points`), and step one
*guest* instruction: until the thread has completed one more instruction (a trap on the
way is taken, and the handler's first instruction is the one that completes).

Under the monitor the loop is the monitor's own — slices, round robin, the real timer armed
for the slice's end — driven one slice (at most :data:`CHUNK` guest instructions) at a time
through the monitor's public pieces (``switch_to``, ``run_slice``), so a
stop can happen mid-slice and the run goes on from there exactly as it would have.  The
registers and memory gdb sees are the VM's virtual CPU's: the guest's view, whichever of
the host or the interpreter ran its last instruction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Callable

from hybridvmm.gdbstub.cpu import CpuView, GuestMemory, cpu_view
from hybridvmm.gdbstub.points import GuestStopped, Points, Stop
from hybridvmm.machine import HALTED, MAX_STEPS, STOPPED, TRAP_LOOP, Machine, RunResult

CHUNK = 20_000
"""Guest instructions between two looks at the socket (a few milliseconds)."""
SIGINT, SIGTRAP, SIGABRT, SIGSEGV, SIGXCPU = 2, 5, 6, 11, 24
ENDINGS = {MAX_STEPS: SIGXCPU, TRAP_LOOP: SIGSEGV}
"""How a run that did not halt ends for gdb: ``Program terminated with signal …``."""

Poll = Callable[[], bool]


@dataclass
class Thread:
    """One gdb thread: a guest CPU and the machines that execute its code."""

    tid: int
    name: str
    view: CpuView
    machines: list[Machine]
    vm: Any = None


class Debuggee:
    """The common part of the bare machine and the monitor (see the module docstring)."""

    threads: list[Thread]

    def __init__(self) -> None:
        self.points = Points(self)

    def thread(self, tid: int) -> Thread | None:
        if tid in (0, -1):
            return self.threads[0]
        return next((t for t in self.threads if t.tid == tid), None)

    def select(self, thread: Thread) -> None:
        """Make ``thread``'s registers the ones its view reads."""

    def count(self, thread: Thread, machine: Machine | None = None) -> int:
        """Instructions ``thread`` has completed, exact even from inside a hook of ``machine``."""
        raise NotImplementedError

    def thread_of(self, machine: Machine) -> Thread | None:
        """The thread whose code ``machine`` is executing now."""
        raise NotImplementedError

    def resume(self, step: Thread | None, poll: Poll, only: set[int] | None = None) -> Stop:
        """Run until something stops it: step one instruction of ``step``, or else run the
        threads in ``only`` (None: all of them)."""
        raise NotImplementedError

    def finished(self) -> bool:
        raise NotImplementedError

    def final(self) -> Stop:
        """The stop reply of a run that is over."""
        raise NotImplementedError

    def run_to_end(self) -> None:
        """gdb detached: run on without it, to the end."""
        raise NotImplementedError

    def end(self, reason: str, detail: str) -> None:
        """gdb killed the guest or went away: the run ends now."""
        raise NotImplementedError

    def _breakpoint_moved(self, stop: Stop) -> bool:
        """A breakpoint hit whose thread is no longer at the breakpoint (an interrupt was
        taken at that boundary before the instruction could run): not a stop."""
        if stop.kind != "breakpoint":
            return False
        thread = self.thread(stop.tid)
        self.select(thread)
        return thread.view.pc != stop.address


# --- the bare machine ----------------------------------------------------------------------------------
class BareDebuggee(Debuggee):
    """One machine, one thread (id 1)."""

    def __init__(self, machine: Machine, max_steps: int, session: Any = None):
        self.m = machine
        self.threads = [Thread(1, "bare", cpu_view(machine, GuestMemory(machine.storage)), [machine])]
        super().__init__()
        self.max_steps = max_steps
        self.start = machine.stats.instructions
        self.session = session
        self.result: RunResult | None = None

    def count(self, thread: Thread, machine: Machine | None = None) -> int:
        return self.m.stats.instructions

    def thread_of(self, machine: Machine) -> Thread | None:
        return self.threads[0] if machine is self.m else None

    def _done(self) -> int:
        return self.m.stats.instructions - self.start

    def _run(self, budget: int) -> RunResult:
        if self.session is not None:
            self.session.pump()
        return self.m.run(budget)

    def _left(self) -> int:
        """Instructions left before the limit; at the limit, the run's end is recorded."""
        left = self.max_steps - self._done()
        if left <= 0:
            self.result = RunResult(MAX_STEPS, self._done(), self.m.pc)
        return left

    def _ended(self, result: RunResult) -> bool:
        """Record the end of the run if ``result`` (not stopped by gdb) is one."""
        if result.reason in (HALTED, TRAP_LOOP, STOPPED):
            self.result = RunResult(result.reason, self._done(), self.m.pc, result.detail)
        else:
            self._left()
        return self.result is not None

    def resume(self, step: Thread | None, poll: Poll, only: set[int] | None = None) -> Stop:
        try:
            return self._resume(step, poll)
        finally:
            if self.session is not None:  # what the guest printed shows while it is stopped
                self.session.flush()

    def _resume(self, step: Thread | None, poll: Poll) -> Stop:
        if self.result is not None:
            return self.final()
        self.points.resuming()
        while True:
            left = self._left()
            if left <= 0:
                return self.final()
            try:
                result = self._run(1 if step is not None else min(CHUNK, left))
            except GuestStopped:  # before the instruction a breakpoint or watchpoint names
                return self.points.hit
            if self._ended(result):
                return self.final()
            if step is not None:
                return Stop(1, "step")
            if poll():
                return Stop(1, "interrupt", signal=SIGINT)

    def finished(self) -> bool:
        return self.result is not None

    def final(self) -> Stop:
        r = self.result
        if r.reason == HALTED:
            return Stop(1, "exited", code=(self.m.exit_code or 0) & 0xFF)
        return Stop(1, "terminated", signal=ENDINGS.get(r.reason, SIGABRT))

    def run_to_end(self) -> None:
        self.points.clear()
        while self.result is None:
            left = self._left()
            if left > 0:
                self._ended(self._run(min(CHUNK * 10, left)))

    def end(self, reason: str, detail: str) -> None:
        self.points.clear()
        if self.result is None:
            self.result = RunResult(reason, self._done(), self.m.pc, detail)


# --- the monitor's VMs ------------------------------------------------------------------------------------
class MonitorDebuggee(Debuggee):
    """A monitor's VMs, thread N = VM N (``vmN``)."""

    def __init__(self, monitor: Any):
        self.monitor = monitor
        host = monitor.host
        self.threads = [Thread(vm.index, vm.name, cpu_view(vm.vcpu, GuestMemory(vm.window, vm.patches)),
                               [vm.vcpu, host], vm) for vm in monitor.vms]
        super().__init__()
        self.turn = 0
        """Index of the VM whose slice runs next (the monitor's round robin)."""

    # --- where things are ------------------------------------------------------------------------
    def select(self, thread: Thread) -> None:
        self.monitor.switch_to(thread.vm)

    def count(self, thread: Thread, machine: Machine | None = None) -> int:
        vm = thread.vm
        n = vm.vcpu.stats.instructions
        direct = self.monitor.direct
        if direct.vm is vm:  # running directly: the host is ahead of the virtual CPU
            n += self.monitor.host.stats.instructions - direct.synced
        return n

    def thread_of(self, machine: Machine) -> Thread | None:
        if machine is self.monitor.host:
            vm = self.monitor.direct.vm
            return None if vm is None else self.threads[vm.index - 1]
        return next((t for t in self.threads if t.vm.vcpu is machine), None)

    # --- running ---------------------------------------------------------------------------------------

    def _slice(self, vm: Any, limit: int | None = None) -> bool:
        """Run ``vm`` for (the rest of) its slice, at most :data:`CHUNK` instructions and not
        past ``limit`` guest instructions, or until a hit; True when its slice is over."""
        mon = self.monitor
        if not mon.begin_slice(vm):
            return True
        mon.switch_to(vm)
        stop = min(vm.target, vm.guest_instructions + CHUNK)
        if limit is not None:
            stop = min(stop, limit)
        start = time.perf_counter()
        try:
            mon.run_slice(vm, stop)
        except GuestStopped:
            direct = mon.direct
            if direct.vm is vm:  # stopped on the host: take the VM off it, as the host's own end would
                direct.leave(mon.host.pc)
                vm.vcpu.service_interrupts()
        vm.stats.wall_s += time.perf_counter() - start
        mon.report_progress()
        return vm.done or vm.guest_instructions >= vm.target

    def _hit(self) -> Stop | None:
        hit = self.points.hit
        if hit is not None and self._breakpoint_moved(hit):
            self.points.hit = None
            return None
        return hit

    def resume(self, step: Thread | None, poll: Poll, only: set[int] | None = None) -> Stop:
        vms = self.monitor.vms
        if step is not None:
            vm = step.vm
            self.points.resuming()
            goal = vm.guest_instructions + 1
            while not vm.done and vm.guest_instructions < goal and self.points.hit is None:
                if self._slice(vm, goal):
                    self.turn = (vm.index) % len(vms)
            hit = self._hit()
            if hit is not None:
                return hit
            return self.final() if self.finished() else Stop(step.tid, "step")
        self.points.resuming()
        runnable = [vm for vm in vms if only is None or vm.index in only] or list(vms)
        while True:
            if self.finished():
                return self.final()
            if all(vm.done for vm in runnable):  # what gdb let run is over: the others wait
                return self.final_of(next(vm for vm in runnable))
            while vms[self.turn].done or vms[self.turn] not in runnable:
                self.turn = (self.turn + 1) % len(vms)
            vm = vms[self.turn]
            if self._slice(vm):
                self.turn = (self.turn + 1) % len(vms)
            hit = self._hit()
            if hit is not None:
                return hit
            if poll():
                return Stop(vm.index, "interrupt", signal=SIGINT)

    def finished(self) -> bool:
        return all(vm.done for vm in self.monitor.vms)

    def final(self) -> Stop:
        vms = self.monitor.vms
        bad = next((vm for vm in vms if vm.outcome.reason != HALTED), None)
        if bad is not None:
            return Stop(bad.index, "terminated", signal=ENDINGS.get(bad.outcome.reason, SIGABRT))
        code = max((vm.vcpu.exit_code or 0) for vm in vms)
        return Stop(vms[0].index, "exited", code=code & 0xFF)

    def final_of(self, vm: Any) -> Stop:
        """A thread's own end, while others are still to run: reported as a stop of it."""
        return Stop(vm.index, "signal", signal=SIGTRAP)

    def run_to_end(self) -> None:
        self.points.clear()
        self.monitor.run()

    def end(self, reason: str, detail: str) -> None:
        self.points.clear()
        for vm in self.monitor.vms:
            vm.finish(reason, detail)

    def vm_stats(self, vm: Any) -> Any:
        """The VM's monitor statistics as they stand (the monitor fills in the per-mode
        counts only at the end of a run)."""
        return replace(vm.stats, by_mode=dict(vm.vcpu.stats.by_mode), reflected=dict(vm.vcpu.stats.traps))
