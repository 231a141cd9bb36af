"""Breakpoints and watchpoints that never touch guest memory.

Breakpoints (``Z0`` and ``Z1`` alike) are address hooks, not ``ebreak`` bytes: the guest's
loads, the monitor's scanner and the equivalence checker see the guest's own code.  A
breakpoint at virtual address V hooks every *root* (physical storage) address where the
instruction at V may lie — through each mapping the machine has translated with, and V
itself for untranslated code — on every machine that executes the thread's code (the bare
machine; under a monitor the VM's virtual CPU, which interprets and emulates, and the host,
which runs the guest directly).  A translate hook hooks the physical address of every later
translation of V (a new address space), so a breakpoint in a user program catches each
process that maps it.  The hook stops the machine before the instruction executes only
when the pc really is V (another virtual alias of that physical code runs on).

Watchpoints (``Z2`` write, ``Z3`` read, ``Z4`` access) compare the virtual data addresses of
loads, stores and atomics with the watched ranges: while one is set, every machine running
the guest single-steps with a tracer that computes each instruction's effective address
from its operands and registers before it executes, and stops *before* an instruction that
would touch a watched byte.  That is what gdb expects of RISC-V (its watchpoints are
"non-steppable": gdb steps over the access itself, then shows the old and the new value
with the pc right after the access).  It costs the speed of the slow path, only while a
watchpoint exists.

What a watchpoint sees: the guest's own loads, stores, LR/SC and AMOs (RISC-V) and ``ld``/
``st``/``ldb``/``stb`` and the stack accesses of ``push``/``pop``/``pushf``/``popf``/``call``/
``ret`` (pgm), by virtual address, whichever machine executes them.  What it does not see:
instruction fetches, page-table walks (A/D updates), pgm's PSW swap on a trap, a device's
DMA (virtio writing a buffer), and the debugger's own writes.

Either way the machine stops by :class:`GuestStopped`, raised from the hook or the tracer
before the instruction executes: the machine's state is exactly that of the boundary
before it (counters settled, pc at it), and nothing of the instruction has happened.  The
debuggee catches it around the machine's (or the monitor's) run and puts things in order.
A thread resuming from the very pc and instruction count where it stopped steps over what
stopped it (gdb removes a breakpoint to step over it, a raw client need not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from hybridvmm.gdbstub.cpu import Access
from hybridvmm.machine.core import Machine
from hybridvmm.machine.hooks import HookHandle

if TYPE_CHECKING:
    from hybridvmm.gdbstub.debuggee import Debuggee, Thread

WATCH_KINDS = {2: "watch", 3: "rwatch", 4: "awatch"}
"""Z packet type → the stop reason gdb expects (write, read, access)."""


class GuestStopped(Exception):
    """Raised from a hook or the tracer: stop before the current instruction."""


@dataclass(frozen=True)
class Stop:
    """Why the guest stopped, in the terms of a stop reply.

    ``kind``: ``breakpoint``, ``watch``/``rwatch``/``awatch`` (``address`` = the watchpoint's),
    ``step``, ``interrupt`` (Ctrl-C), ``signal`` (the initial stop), ``exited`` (``code``)
    or ``terminated`` (``signal``: the run ended another way)."""

    tid: int
    kind: str
    address: int = 0
    signal: int = 5
    code: int = 0


@dataclass(frozen=True)
class Watch:
    kind: str
    address: int
    length: int

    def matches(self, access: Access) -> bool:
        if not access.overlaps(self.address, self.length):
            return False
        return self.kind == "awatch" or (self.kind == "watch") == access.write


class Points:
    """The breakpoints and watchpoints of one debugging session (see the module docstring)."""

    def __init__(self, debuggee: "Debuggee"):
        self.debuggee = debuggee
        self.breakpoints: set[int] = set()
        self.watches: list[Watch] = []
        self.hit: Stop | None = None
        """What stopped the guest since the last resume (set from a hook or the tracer)."""
        self.armed = True
        self._starts: dict[int, tuple[int, int]] = {}
        """Thread → (pc, instruction count) at the resume: a breakpoint or watchpoint at the
        instruction a thread resumes from is stepped over, not hit again before anything ran."""
        self._hooks: dict[tuple[int, int], tuple[Machine, HookHandle, set[int]]] = {}
        self._translate_hooks: dict[int, HookHandle] = {}
        self._tracers: dict[int, tuple[Machine, Any]] = {}

    # --- resuming -------------------------------------------------------------------------------
    def resuming(self) -> None:
        """The guest is about to run: forget the last hit, note where each thread stands."""
        self.hit = None
        self._starts = {t.tid: (t.view.pc, self.debuggee.count(t)) for t in self.debuggee.threads}

    # --- breakpoints ------------------------------------------------------------------------------
    def insert_breakpoint(self, address: int) -> None:
        if address in self.breakpoints:
            return
        self.breakpoints.add(address)
        for thread in self.debuggee.threads:
            self._hook_everywhere(thread, address)
            if thread.view.flush_for_breakpoints:
                for machine in thread.machines:
                    machine.flush_translations()
        for machine in self._all_machines():
            if id(machine) not in self._translate_hooks:
                self._translate_hooks[id(machine)] = machine.hook_translate(self._on_translate)

    def remove_breakpoint(self, address: int) -> None:
        self.breakpoints.discard(address)
        for key, (machine, handle, reasons) in list(self._hooks.items()):
            reasons.discard(address)
            if not reasons:
                handle.remove()
                del self._hooks[key]
        if not self.breakpoints:
            for handle in self._translate_hooks.values():
                handle.remove()
            self._translate_hooks.clear()

    def _hook_everywhere(self, thread: "Thread", address: int) -> None:
        roots = thread.view.breakpoint_roots(address)
        for machine in thread.machines:
            for root in roots:
                self._hook(machine, root - machine.storage.offset, address)

    def _hook(self, machine: Machine, index: int, address: int) -> None:
        key = (id(machine), index)
        entry = self._hooks.get(key)
        if entry is None:
            handle = machine.hook_address(index, self._on_address)
            self._hooks[key] = (machine, handle, {address})
        else:
            entry[2].add(address)

    def _on_translate(self, machine: Machine, vaddr: int, paddr: int, ins: Any) -> bool:
        if vaddr in self.breakpoints:
            self._hook(machine, paddr - machine.storage.offset, vaddr)
        return False

    def _on_address(self, machine: Machine, index: int) -> None:
        if not self.armed or self.hit is not None:
            return
        pc = machine.pc
        if pc not in self.breakpoints:
            return
        thread = self.debuggee.thread_of(machine)
        if thread is None:
            return
        if self._resumed_here(thread, machine):
            return
        self.hit = Stop(thread.tid, "breakpoint", pc)
        raise GuestStopped

    def _resumed_here(self, thread: "Thread", machine: Machine) -> bool:
        """Is ``thread`` still at the instruction it resumed from (nothing ran since)?"""
        start = self._starts.get(thread.tid)
        return start is not None and start[0] == machine.pc and start[1] == self.debuggee.count(thread, machine)

    # --- watchpoints --------------------------------------------------------------------------------
    def insert_watch(self, kind: str, address: int, length: int) -> None:
        watch = Watch(kind, address, max(1, length))
        if watch not in self.watches:
            self.watches.append(watch)
        for machine in self._all_machines():
            if id(machine) not in self._tracers:
                previous = machine.tracer
                self._tracers[id(machine)] = (machine, previous)
                machine.tracer = self._tracer(previous)

    def remove_watch(self, kind: str, address: int, length: int) -> None:
        watch = Watch(kind, address, max(1, length))
        if watch in self.watches:
            self.watches.remove(watch)
        if not self.watches:
            for machine, previous in self._tracers.values():
                machine.tracer = previous
            self._tracers.clear()

    def _tracer(self, previous: Callable | None) -> Callable[[Machine, Any], None]:
        def trace(machine: Machine, ins: Any) -> None:
            if previous is not None:
                previous(machine, ins)
            if self.hit is not None or not self.armed:
                return
            thread = self.debuggee.thread_of(machine)
            if thread is None:
                return
            for access in thread.view.accesses(machine, ins):
                for watch in self.watches:
                    if watch.matches(access):
                        if self._resumed_here(thread, machine):
                            return
                        self.hit = Stop(thread.tid, watch.kind, watch.address)
                        raise GuestStopped
        return trace

    # --- all of them ------------------------------------------------------------------------------------
    def _all_machines(self) -> list[Machine]:
        seen: dict[int, Machine] = {}
        for thread in self.debuggee.threads:
            for machine in thread.machines:
                seen.setdefault(id(machine), machine)
        return list(seen.values())

    def clear(self) -> None:
        """Remove every breakpoint and watchpoint (gdb detached)."""
        for address in list(self.breakpoints):
            self.remove_breakpoint(address)
        for watch in list(self.watches):
            self.remove_watch(watch.kind, watch.address, watch.length)
        self.hit = None
