"""The ISA-agnostic machine: code caches, the run loop, traps, hooks, stats, snapshots.

An ISA subclass supplies the state and the semantics; this class supplies execution.

Execution model
    Each instruction is translated once per address mapping into a handler closure that
    performs it and returns the next pc (register numbers, immediates, targets and the
    mapping are baked in).  ``run`` executes *chunks*: ``pc = fast[pc]()`` in a tight
    loop, for at most as many instructions as remain before the next timed event
    (``_countdown``) and the caller's limit, so the loop itself checks nothing per
    instruction.  Anything that needs the exact state — a system instruction, a hooked
    address — has a hot-loop entry that raises :class:`SyncSignal`; the loop settles its
    counters and runs that instruction on the slow path (``_slow_step``).  Traps arrive as
    :class:`TrapSignal` and are delivered between instructions.

Subclass contract (all "protected" — the public API is documented by each ISA module)
    ``_context_key()``            hashable key of the current address mapping
    ``_new_context(key)``         a :class:`Context` for it (``pbase``: root address of
                                  virtual 0; ``env``: whatever the semantics bake in)
    ``_translate(ctx, vaddr)``    decode and call ``_install``, or raise TrapSignal
    ``_deliver(trap)``            take a trap through the machine's own vectors
    ``_expired()``                the countdown reached zero (e.g. raise a timer request)
    ``_interrupt_due()``          at a boundary: the interrupt to take now, or None
    ``reset(entry)``, ``cpu_state()``, ``set_cpu_state(state)``
    and keeps ``self.user`` (bool) current; calls ``_remap()`` whenever the mapping changes.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable

from hybridvmm.errors import UserError
from hybridvmm.image import Image
from hybridvmm.isa import ISA, Decoder, Instruction
from hybridvmm.machine.codecache import CodeCache, Context, Handler
from hybridvmm.machine.console import Console
from hybridvmm.machine.hooks import AddressHook, HookHandle, Hooks, ModeHook, OutputHook, TrapHook
from hybridvmm.machine.results import HALTED, MAX_STEPS, STOPPED, TRAP_LOOP, RunResult, StepResult
from hybridvmm.machine.snapshot import Snapshot
from hybridvmm.machine.stats import Stats
from hybridvmm.machine.storage import Storage
from hybridvmm.machine.traps import SyncSignal, Trap, TrapSignal

TRAP_LOOP_LIMIT = 16
"""Traps in a row without any instruction completing before ``run`` gives up with
``trap-loop``: through the vectors, any such run (a vector that cannot even fetch its
first instruction); with a ``trap_handler``, the same cause at the same pc each time (a
monitor that makes no progress), so a monitor emulating instruction after instruction
is never stopped."""

_UNLIMITED = 1 << 62

TrapHandler = Callable[[Trap], Any]
Tracer = Callable[["Machine", Instruction], Any]


def _sync_entry() -> int:
    raise SyncSignal


class Machine:
    """Base class of every ISA's machine (see the module docstring for the contract)."""

    cause_names: dict[int, str] = {}
    default_storage: int = 1 << 20
    """Storage bytes a machine of this model gets unless told otherwise."""

    def __init__(self, isa: ISA, storage: Storage):
        self.isa = isa
        self.decoder = Decoder(isa)
        self.storage = storage
        self.code = CodeCache(storage, isa.max_length)
        self.hooks = Hooks(self._address_hooks_changed)
        self.stats = Stats()
        self.console = Console()
        self.trap_handler: TrapHandler | None = None
        """When set, every trap and interrupt is passed to it *instead of* the in-storage
        vectors (a monitor's dispatcher).  The machine state is the trap point with
        ``pc`` = the PSW pc of the trap; whatever the handler leaves is where execution
        resumes.  ``deliver(trap)`` performs the ordinary vectoring if wanted."""
        self.tracer: Tracer | None = None
        """When set, ``run`` single-steps and calls ``tracer(machine, instruction)``
        before each instruction executes."""
        self.pc = 0
        self.user = False
        self.halted = False
        self._countdown = 0
        self._loaded_countdown = False
        self._stop_reason: tuple[str, str] | None = None
        self._trap_chain = 0
        self._last_trap: tuple[int, int] | None = None
        self._events: list[Trap] | None = None
        self._ctx: Context | None = None
        self._fast: dict[int, Handler] = {}

    # --- mapping ---------------------------------------------------------------------
    def _remap(self) -> None:
        """Switch to the translations of the current mapping (after R or similar changed)."""
        key = self._context_key()
        ctx = self.code.get(key)
        if ctx is None:
            ctx = self.code.put(self._new_context(key))
        self._ctx = ctx
        self._fast = ctx.fast

    def _install(self, ctx: Context, vaddr: int, ins: Instruction, real: Handler, system: bool) -> None:
        """Record a translation; system instructions and hooked addresses leave the hot loop."""
        hooked = bool(self.hooks.address) and (ctx.pbase - self.storage.offset + vaddr) in self.hooks.address
        self.code.add(ctx, vaddr, ins, _sync_entry if system or hooked else real, real)

    def _address_hooks_changed(self, address: int) -> None:
        p = self.storage.offset + address
        self.code.drop_physical(p, p + 1)

    def instruction_at(self, vaddr: int) -> Instruction:
        """The decoded instruction at ``vaddr`` under the current mapping (TrapSignal if it cannot be fetched)."""
        ctx = self._ctx
        ins = ctx.insns.get(vaddr)
        if ins is None:
            self._translate(ctx, vaddr)
            ins = ctx.insns[vaddr]
        return ins

    # --- execution -------------------------------------------------------------------
    def run(self, max_steps: int | None = None) -> RunResult:
        """Execute until halt, ``stop()``, a trap loop, or ``max_steps`` completed instructions."""
        limit = _UNLIMITED if max_steps is None else max_steps
        done = 0
        self._stop_reason = None
        if not self.halted:
            self._boundary()
        while True:
            if self.halted:
                return RunResult(HALTED, done, self.pc)
            if self._stop_reason is not None:
                reason, detail = self._stop_reason
                self._stop_reason = None
                return RunResult(reason, done, self.pc, detail)
            left = limit - done
            if left <= 0:
                return RunResult(MAX_STEPS, done, self.pc)
            if self.tracer is not None:
                done += self._slow_step()
                continue
            cd = self._countdown
            budget = cd if 0 < cd < left else left
            fast = self._fast
            pc = self.pc
            i = 0
            try:
                for i in range(budget):
                    pc = fast[pc]()
            except SyncSignal:
                self.pc = pc
                if i:
                    self._retire(i)
                    done += i
                done += self._slow_step()
                continue
            except TrapSignal as sig:
                self.pc = pc
                if i:
                    self._retire(i)
                    done += i
                if sig.completed:
                    self._retire(1)
                    done += 1
                self._take(sig)
                self._boundary()
                continue
            except KeyError:
                if pc in fast:
                    raise
                self.pc = pc
                if i:
                    self._retire(i)
                    done += i
                try:
                    self._translate(self._ctx, pc)
                except TrapSignal as sig:
                    self._take(sig)
                    self._boundary()
                continue
            self.pc = pc
            self._retire(budget)
            done += budget
            self._boundary()

    def step(self) -> StepResult:
        """Execute exactly one instruction (taking first an interrupt already due).

        ``trap`` is the trap the instruction itself raised (a fault, or a system call),
        ``events`` every trap and interrupt taken during the step, in order.
        """
        if self.halted:
            return StepResult(False, None, (), True)
        events: list[Trap] = []
        self._events = events
        try:
            self._boundary()
            before = len(events)
            completed = self._slow_step()
        finally:
            self._events = None
        own = next((t for t in events[before:] if not t.interrupt), None)
        return StepResult(bool(completed), own, tuple(events), self.halted)

    def _slow_step(self) -> int:
        """One instruction with exact state: hooks, tracer, privilege, timer.  Returns 1 if it completed."""
        pc = self.pc
        ctx = self._ctx
        real = ctx.real.get(pc)
        if real is None:
            try:
                self._translate(ctx, pc)
            except TrapSignal as sig:
                self._take(sig)
                self._boundary()
                return 0
            real = ctx.real[pc]
        if self.hooks.address:
            address = ctx.pbase - self.storage.offset + pc
            hooks = self.hooks.address.get(address)
            if hooks:
                for h in list(hooks):
                    h.fn(self, address)
                if self.pc != pc or self.halted or self._stop_reason is not None or self._ctx is not ctx:
                    return 0
                real = ctx.real.get(pc)
                if real is None:  # the hook rewrote the code under us
                    return 0
        if self.tracer is not None:
            self.tracer(self, ctx.insns[pc])
        user = self.user
        try:
            nxt = real()
        except TrapSignal as sig:
            if sig.completed:
                self._retire_one(user)
            self._take(sig)
            self._boundary()
            return 1 if sig.completed else 0
        self.pc = nxt
        self._retire_one(user)
        if self.hooks.mode and self.user != user:
            self._mode_changed(user)
        self._boundary()
        return 1

    def _retire(self, n: int) -> None:
        """``n`` instructions completed in the current mode: count them, advance the timer."""
        if self.user:
            self.stats.user += n
        else:
            self.stats.supervisor += n
        self._trap_chain = 0
        cd = self._countdown
        if cd:
            cd -= n
            if cd <= 0:
                self._countdown = 0
                self._expired()
            else:
                self._countdown = cd

    def _retire_one(self, user: bool) -> None:
        if user:
            self.stats.user += 1
        else:
            self.stats.supervisor += 1
        self._trap_chain = 0
        if self._loaded_countdown:  # the instruction that set the countdown does not count against it
            self._loaded_countdown = False
            return
        cd = self._countdown
        if cd:
            if cd == 1:
                self._countdown = 0
                self._expired()
            else:
                self._countdown = cd - 1

    def _boundary(self) -> None:
        trap = self._interrupt_due()
        if trap is not None:
            self._take(trap)

    def _take(self, what: TrapSignal | Trap) -> None:
        """A trap happened: count it, run trap hooks, then the monitor or the vectors take it."""
        trap = what.trap(self.cause_names.get(what.cause, str(what.cause))) if isinstance(what, TrapSignal) else what
        traps = self.stats.traps
        traps[trap.name] = traps.get(trap.name, 0) + 1
        self.pc = trap.pc
        if self._events is not None:
            self._events.append(trap)
        for h in list(self.hooks.trap):
            h.fn(self, trap)
        # Trap-loop guard: through the vectors, any run of traps with no instruction
        # completing; with a monitor, the same trap again and again (it made no progress).
        monitor = self.trap_handler
        if monitor is None or (trap.cause, trap.pc) == self._last_trap:
            self._trap_chain += 1
        else:
            self._trap_chain = 1
        self._last_trap = (trap.cause, trap.pc)
        if self._trap_chain > TRAP_LOOP_LIMIT:
            self._stop_reason = (TRAP_LOOP, f"{TRAP_LOOP_LIMIT} traps without completing an instruction; last: {trap.describe()}")
            return
        user = self.user
        if monitor is not None:
            monitor(trap)
        else:
            self._deliver(trap)
        if self.hooks.mode and self.user != user:
            self._mode_changed(user)

    def _mode_changed(self, was_user: bool) -> None:
        for h in list(self.hooks.mode):
            h.fn(self, was_user, self.user)

    def deliver(self, trap: Trap) -> None:
        """Take ``trap`` through the machine's own vectors (for a ``trap_handler`` that
        decides to let the guest see it)."""
        self.pc = trap.pc
        self._deliver(trap)

    def close(self) -> None:
        """Forget all translations and stop watching storage (for a machine discarded
        while its storage lives on, e.g. a VM's machine over a window)."""
        self.code.close()

    def stop(self, detail: str = "") -> None:
        """Ask ``run`` to return (from a hook or trap handler) after the current instruction."""
        self._stop_reason = (STOPPED, detail)

    # --- hooks ---------------------------------------------------------------------------
    def hook_address(self, address: int, fn: AddressHook) -> HookHandle:
        """Call ``fn(machine, address)`` before the instruction at storage ``address`` executes."""
        return self.hooks.add_address(address, fn)

    def hook_trap(self, fn: TrapHook) -> HookHandle:
        """Call ``fn(machine, trap)`` for every trap and interrupt, before it is taken."""
        return self.hooks.add_trap(fn)

    def hook_output(self, fn: OutputHook) -> HookHandle:
        """Call ``fn(machine, byte)`` for every console output byte."""
        return self.hooks.add_output(fn)

    def hook_mode(self, fn: ModeHook) -> HookHandle:
        """Call ``fn(machine, was_user, is_user)`` whenever an instruction or a trap changes the mode."""
        return self.hooks.add_mode(fn)

    def _console_out(self, value: int) -> None:
        self.console.write_byte(value)
        for h in list(self.hooks.output):
            h.fn(self, value & 0xFF)

    # --- storage -------------------------------------------------------------------------
    def read(self, address: int, length: int) -> bytes:
        """Bytes of storage (absolute: not relocated, not bounds-checked by R)."""
        return self.storage.read(address, length)

    def write(self, address: int, data: bytes) -> None:
        """Write storage (absolute); decoded code there is dropped."""
        self.storage.write(address, data)

    def load(self, image: Image, entry: int | None = None) -> None:
        """Copy an image's sections into storage and reset with pc at its entry."""
        for s in image.sections:
            if s.address < 0 or s.address + len(s.data) > self.storage.size:
                raise UserError(
                    f"{image.source or 'image'}: section '{s.name}' [0x{s.address:x}, 0x{s.end:x}) does not fit "
                    f"in storage of 0x{self.storage.size:x} bytes"
                )
            self.storage.write(s.address, bytes(s.data))
        self.reset(image.entry if entry is None else entry)

    # --- snapshots -----------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Everything needed to come back here exactly: storage, CPU and system state,
        console, counters."""
        return Snapshot(self.isa.name, self.storage.snapshot(), self.cpu_state(), self.console.state(), self.stats.copy(), self.halted)

    def restore(self, snap: Snapshot) -> None:
        if snap.isa != self.isa.name:
            raise ValueError(f"snapshot of {snap.isa} cannot be restored on {self.isa.name}")
        self.storage.restore(snap.storage)
        self.set_cpu_state(snap.cpu)
        self.console.set_state(snap.console)
        self.stats = snap.stats.copy()
        self.halted = snap.halted
        self._stop_reason = None
        self._trap_chain = 0

    # --- ISA responsibilities --------------------------------------------------------------
    def _context_key(self) -> Hashable:
        raise NotImplementedError

    def _new_context(self, key: Hashable) -> Context:
        raise NotImplementedError

    def _translate(self, ctx: Context, vaddr: int) -> None:
        raise NotImplementedError

    def _deliver(self, trap: Trap) -> None:
        raise NotImplementedError

    def _expired(self) -> None:
        """The countdown reached zero."""

    def _interrupt_due(self) -> Trap | None:
        return None

    def reset(self, entry: int | None = None) -> None:
        raise NotImplementedError

    def cpu_state(self) -> dict[str, Any]:
        raise NotImplementedError

    def psw_summary(self) -> dict[str, Any]:
        """The machine's final program status as data (``run --stats/--json``)."""
        return {"pc": self.pc, "mode": "user" if self.user else "supervisor"}

    def set_cpu_state(self, state: dict[str, Any]) -> None:
        raise NotImplementedError
