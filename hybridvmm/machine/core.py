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
    ``MODES``                     privilege level → mode name, most privileged first
                                  (class attribute; no default)
    ``honours_code_overlay``      True if its loads consult ``load_overlay`` (class
                                  attribute; default False: nothing may be patched)
    ``_context_key()``            hashable key of the current address mapping
    ``_new_context(key)``         a :class:`Context` for it (``pbase``: root address of
                                  virtual 0, or None for a paged mapping; ``env``:
                                  whatever the semantics bake in)
    ``_translate(ctx, vaddr)``    decode (through ``code_view`` when set) and call
                                  ``_install``, or raise TrapSignal
    ``_deliver(trap)``            take a trap through the machine's own vectors
    ``_expired()``                the countdown reached zero (e.g. raise a timer request)
    ``_interrupt_due()``          at a boundary: the interrupt to take now, or None
    ``reset(entry)``, ``cpu_state()``, ``set_cpu_state(state)``
    and keeps ``self.priv`` current; calls ``_remap()`` whenever the mapping changes.

Public API for monitors (ISA-agnostic)
    ``take(trap)``                a trap or interrupt as the machine's own: counted,
                                  hooked, then the ``trap_handler`` or the vectors
    ``elapse(n)``                 ``n`` instructions completed elsewhere (executed
                                  directly on a host): counted in the current mode, the
                                  countdown advanced (and expiring) as if they ran here
    ``arm_countdown(n)``          program the countdown (the interval timer); 0 = off
    ``service_interrupts()``      take an interrupt that is due, without executing
    ``progress()``                (from a trap handler) the monitor made progress
    ``hook_translate(fn)``        first translation of an address (a code-cache miss)
    ``flush_translations()``      forget all decoded code (the mapping changed wholesale)
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, ClassVar, Hashable

from hybridvmm.asm.disassembler import format_instruction
from hybridvmm.errors import UserError
from hybridvmm.image import Image
from hybridvmm.isa import ISA, Instruction, shared_decoder
from hybridvmm.machine.codecache import CodeCache, Context, Handler
from hybridvmm.machine.console import Console
from hybridvmm.machine.hooks import AddressHook, HookHandle, Hooks, ModeHook, OutputHook, TranslateHook, TrapHook
from hybridvmm.machine.overlay import CodeOverlay
from hybridvmm.machine.results import HALTED, MAX_STEPS, STOPPED, TRAP_LOOP, RunResult, StepResult
from hybridvmm.machine.snapshot import Snapshot
from hybridvmm.machine.stats import Stats
from hybridvmm.machine.storage import Storage
from hybridvmm.machine.blocks import BLOCK_MAX, THRESHOLD, BlockCompiler
from hybridvmm.machine.inline import inline_piece
from hybridvmm.machine.traps import RetranslateSignal, SyncSignal, Trap, TrapSignal

TRAP_LOOP_LIMIT = 16
"""Traps in a row without any instruction completing before ``run`` gives up with
``trap-loop``: through the vectors, any such run (a vector that cannot even fetch its
first instruction); with a ``trap_handler``, the same cause at the same pc each time
unless the handler reports ``progress()`` (a monitor emulating instruction after
instruction, even the same one, is never stopped)."""

_UNLIMITED = 1 << 62
SAMPLE_CHUNK = 8192
"""While compiling, the run loop's chunks are at most this long, so that it samples where the
guest is often enough to find its hot code (:mod:`hybridvmm.machine.blocks`)."""
COLD_CHUNKS = 8
"""Chunks a mapping runs on the plain loop after one where its blocks ran under two
instructions a dispatch (then it tries its blocks again)."""

TrapHandler = Callable[[Trap], Any]
Tracer = Callable[["Machine", Instruction], Any]


def _sync_entry() -> int:
    raise SyncSignal


def _ignore_address_change(address: int) -> None:
    """The hook registry of a closed machine (it runs no more)."""


class Machine:
    """Base class of every ISA's machine (see the module docstring for the contract)."""

    compile_default = True
    """Whether new machines compile hot blocks (``--no-compile`` turns it off everywhere)."""
    cause_names: dict[int, str] = {}
    default_storage: int = 1 << 20
    """Storage bytes a machine of this model gets unless told otherwise."""
    physical_base: int = 0
    """The (guest-)physical address of storage byte 0."""
    MODES: ClassVar[dict[int, str]]
    """Privilege level → mode name, most privileged first (the order is the privilege rank,
    :meth:`priv_rank`); a model with three levels (M/S/U) lists three.  Every model defines
    it: level numbers mean different modes in different families."""
    honours_code_overlay: ClassVar[bool] = False
    """Whether the model's loads consult ``load_overlay`` (a :class:`CodeOverlay`).  One
    that does not must not run under patches, so a monitor refuses to patch its guests."""

    def __init__(self, isa: ISA, storage: Storage):
        if not getattr(type(self), "MODES", None):
            raise TypeError(f"{type(self).__name__} must define MODES (privilege level → mode name, "
                            "most privileged first)")
        self.isa = isa
        self.decoder = shared_decoder(isa)
        self.storage = storage
        self.code = CodeCache(storage, isa.max_length)
        self.hooks = Hooks(self._address_hooks_changed)
        self.stats = Stats(tuple(self.MODES.values()))
        self.console = Console()
        self.trap_handler: TrapHandler | None = None
        """When set, every trap and interrupt is passed to it *instead of* the in-storage
        vectors (a monitor's dispatcher).  The machine state is the trap point with
        ``pc`` = the PSW pc of the trap; whatever the handler leaves is where execution
        resumes.  ``deliver(trap)`` performs the ordinary vectoring if wanted."""
        self.tracer: Tracer | None = None
        """When set, ``run`` single-steps and calls ``tracer(machine, instruction)``
        before each instruction executes."""
        self.code_view: Callable[[int], Any] | None = None
        """When set, ``code_view(paddr)`` returns the bytes to *decode* at root address
        ``paddr`` where they differ from storage (None where they do not): a monitor
        serves the original instructions under its patches this way."""
        self.load_overlay: CodeOverlay | None = None
        """When set (only on a model that ``honours_code_overlay``), loads of words it marks
        (``patched[root word]``) return its ``original_word(p)`` / ``original_byte(p)``: the
        guest's own bytes under a monitor's patches.  ISA models consult it only for
        mappings it ``touches(lo, hi)``, so storage without patches loads at full speed."""
        self.pc = 0
        self.priv = next(iter(self.MODES))
        """The current privilege level: the most privileged until the model's ``reset``
        sets its own."""
        self.halted = False
        self.exit_code: int | None = None
        """The outcome a guest reported when it ended itself (through a host-interface word
        or a test-finisher device: 0 = success), set together with ``halted``; None when the
        guest reported none (it merely halted, or is still running)."""
        self.exit_message = ""
        """What the guest's outcome means in words (e.g. ``test 3 failed``), or empty."""
        self.exact = False
        """True while an instruction executes on the slow path (counters settled, pc
        current).  A handler that must not run inside the hot loop's chunk — a device
        access, which must see the exact instruction count and may end the chunk — raises
        :class:`SyncSignal` before changing anything when it is False, and is run again
        exactly."""
        self._countdown = 0
        self._loaded_countdown = False
        self._stop_reason: tuple[str, str] | None = None
        self._trap_chain = 0
        self._last_trap: tuple[int, int] | None = None
        self._chain_start: tuple[Trap, Instruction | None] | None = None
        """The trap that began the current run of traps, and the instruction that raised it
        (what a trap loop is reported by: the last trap of a loop is rarely its cause)."""
        self._events: list[Trap] | None = None
        self._ctx: Context | None = None
        self._entry: dict[int, Handler] = {}
        self._left = [0]
        """Instructions the run loop may still run in the current chunk while it dispatches
        compiled blocks (each dispatch takes one off; a block takes off the rest it ran)."""
        self._resume = [None]
        """Where a compiled block stopped for a trap or the exact path (that instruction's pc)."""
        self._in_block = [0]
        """1 while a compiled block runs; a store into decoded code makes it 2 (the block stops)."""
        self._block_runs = [0]
        """Dispatches of compiled blocks (to tell apart what ran in blocks)."""
        self.block_instructions = 0
        """Instructions run inside compiled blocks so far."""
        self.exact_steps = 0
        """Instructions run on the exact path because they needed the exact state (system
        instructions: under binary translation, the callouts)."""
        self.callouts = 0
        """Under binary translation: system instructions run by their exact routine from
        translated code (and device accesses that stopped a translated block)."""
        self.compile_eager = False
        """Compile every block the first time it is reached (binary translation), not only hot ones."""
        self.compile = self.compile_default
        """Compile hot blocks (the per-instruction path runs everything else, and all while this
        is False)."""
        self.blocks = BlockCompiler(self, self.block_piece)

    # --- mapping ---------------------------------------------------------------------
    def _remap(self) -> None:
        """Switch to the translations of the current mapping (after R or similar changed)."""
        key = self._context_key()
        ctx = self.code.get(key)
        if ctx is None:
            ctx = self.code.put(self._new_context(key))
        self._ctx = ctx
        self._entry = ctx.entry

    @property
    def mode(self) -> str:
        """The current privilege mode's name."""
        return self.MODES[self.priv]

    @classmethod
    def priv_rank(cls, priv: int) -> int:
        """How privileged level ``priv`` is: 0 for the least privileged mode, one more per
        mode above it (from the order of ``MODES``).  Compare ranks, never level numbers:
        0 is supervisor on pgm and user on RISC-V."""
        order = list(cls.MODES)
        return len(order) - 1 - order.index(priv)

    def _install(self, ctx: Context, vaddr: int, ins: Instruction, exact: Handler, system: bool,
                 paddr: int | None = None, entry: Handler | None = None) -> None:
        """Record a translation made from root address ``paddr`` (default: linear,
        ``ctx.pbase + vaddr``); system instructions and hooked addresses leave the hot
        loop (a system instruction's own ``entry`` may decide that itself, raising
        SyncSignal only when it needs the exact state).  Translate hooks run first; one
        that changed the code there (a monitor that patched it) makes the caller
        translate again."""
        if paddr is None:
            paddr = ctx.pbase + vaddr
        if self.hooks.translate:
            changed = False
            for h in list(self.hooks.translate):
                if h.fn(self, vaddr, paddr, ins):
                    changed = True
            if changed:
                raise RetranslateSignal
        hooked = bool(self.hooks.address) and (paddr - self.storage.offset) in self.hooks.address
        if hooked:
            entry = _sync_entry
        elif system:
            entry = entry or _sync_entry
        else:
            entry = exact
        self.code.add(ctx, vaddr, paddr, ins, entry, exact)
        if hooked or system:
            ctx.sync.add(vaddr)

    def _translate_current(self, vaddr: int) -> None:
        """Translate ``vaddr`` under the current mapping, again if a translate hook changed
        the code (or the mapping's context was replaced meanwhile)."""
        for _ in range(8):
            try:
                self._translate(self._ctx, vaddr)
                return
            except RetranslateSignal:
                self._remap()
        raise RuntimeError(f"translate hooks keep changing the code at 0x{vaddr:x}")

    def physical_of(self, vaddr: int) -> int | None:
        """The root address the current mapping's translation at ``vaddr`` came from
        (None if ``vaddr`` is not translated)."""
        return self._ctx.physical.get(vaddr)

    def refresh_mapping(self) -> None:
        """Pick the translations for the current mapping again (something the mapping's
        context depends on changed, e.g. a load overlay started covering it)."""
        self._remap()

    def flush_translations(self) -> None:
        """Forget every translation of every mapping (e.g. page tables changed)."""
        self.code.clear()
        self.code.contexts.clear()
        self._remap()

    def _address_hooks_changed(self, address: int) -> None:
        p = self.storage.offset + address
        self.code.drop_physical(p, p + 1)

    def instruction_at(self, vaddr: int) -> Instruction:
        """The decoded instruction at ``vaddr`` under the current mapping (TrapSignal if it cannot be fetched)."""
        ins = self._ctx.insns.get(vaddr)
        if ins is None:
            self._translate_current(vaddr)
            ins = self._ctx.insns[vaddr]
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
            ctx = self._ctx
            compiling = self.compile
            if compiling and budget > SAMPLE_CHUNK:
                budget = SAMPLE_CHUNK
            pc = self.pc
            i = 0
            if self.compile_eager:
                done += self._run_translating(ctx, budget)
                continue
            if compiling and ctx.blocks and ctx.cold <= 0:
                # blocks in this mapping: dispatch on `hot`, counting down L (blocks count too)
                fast = ctx.hot
                L = self._left
                L[0] = budget
                runs = self._block_runs
                before = runs[0]
                d = 0
                try:
                    while L[0] > 0:
                        pc = fast[pc]()
                        L[0] -= 1
                        d += 1
                except BaseException as exc:
                    n = budget - L[0]
                    done += self._chunk_stopped(exc, pc, n, fast)
                    continue
                n = budget
                self.block_instructions += n - (d - (runs[0] - before))
                if d * 2 > n:
                    # fewer than two instructions a dispatch: the blocks do not cover this
                    # code, whose dispatches the plain loop makes faster; look again later
                    ctx.cold = COLD_CHUNKS
            else:
                if ctx.cold > 0:
                    ctx.cold -= 1
                fast = self._entry
                try:
                    for i in range(budget):
                        pc = fast[pc]()
                except BaseException as exc:
                    done += self._chunk_stopped(exc, pc, i, fast)
                    continue
                n = budget
            self.pc = pc
            self._retire(n)
            done += n
            if compiling:
                self._sample(pc)
            self._boundary()

    def _run_translating(self, ctx: Context, budget: int) -> int:
        """One chunk with every block compiled on first arrival (binary translation: the
        code is translated before it runs; a system instruction, which no block holds, is a
        *callout* to its exact routine).  Returns the instructions completed."""
        pc = self.pc
        fast, blocks, insns, sync = ctx.hot, ctx.blocks, ctx.insns, ctx.sync
        compile_block = self.blocks.compile
        L = self._left
        L[0] = budget
        runs = self._block_runs
        before = runs[0]
        d = calls = 0
        try:
            while L[0] > 0:
                if pc not in blocks:
                    if pc not in insns:
                        try:
                            self._translate_current(pc)
                        except TrapSignal:
                            pass                   # the dispatch below takes the fetch fault
                        if self._ctx is not ctx:
                            break
                    if pc in sync:
                        calls += 1
                    elif pc in insns:
                        compile_block(ctx, pc, eager=True)
                pc = fast[pc]()
                L[0] -= 1
                d += 1
        except BaseException as exc:
            n = budget - L[0]
            self.callouts += calls
            self.block_instructions += max(0, n - (d - (runs[0] - before)))
            return self._chunk_stopped(exc, pc, n, fast)
        n = budget - L[0]
        self.callouts += calls
        self.block_instructions += n - (d - (runs[0] - before))
        self.pc = pc
        if n:
            self._retire(n)
        self._boundary()
        return n

    def _chunk_stopped(self, exc: BaseException, pc: int, n: int, fast: dict) -> int:
        """A chunk ended early with ``exc`` after ``n`` completed instructions, the stopping one
        at ``pc`` (or where a compiled block stopped): count them, then do what the exception
        asks; returns the instructions completed, the stopping one's included if it did."""
        pc = self.pc = self._stopped_at(pc)
        untranslated = isinstance(exc, KeyError) and pc not in fast
        if not (untranslated or isinstance(exc, (SyncSignal, TrapSignal, KeyboardInterrupt))):
            raise exc
        if n:
            self._retire(n)
        if isinstance(exc, SyncSignal):
            self.exact_steps += 1
            if self.compile_eager and pc not in self._ctx.sync:
                self.callouts += 1                 # a device access stopped a translated block
            return n + self._slow_step()
        if isinstance(exc, TrapSignal):
            if exc.completed:
                self._retire(1)
                n += 1
            self._take(exc)
            self._boundary()
            return n
        if isinstance(exc, KeyboardInterrupt):  # Ctrl-C: what completed stays counted, for the report
            raise exc
        try:                                       # untranslated: translate it, the loop runs it next
            self._translate_current(pc)
        except TrapSignal as sig:
            self._take(sig)
            self._boundary()
        return n

    def _stopped_at(self, pc: int) -> int:
        """The pc a chunk stopped at: where a compiled block stopped, else the dispatch's."""
        resume = self._resume
        if resume[0] is not None:
            pc, resume[0] = resume[0], None
        return pc

    def _sample(self, pc: int) -> None:
        """Tiering: the loop is at ``pc`` between chunks; compile its block once it is hot."""
        ctx = self._ctx
        if pc in ctx.blocks:
            return
        samples = ctx.samples
        count = samples.get(pc, 0)
        if count < 0:
            return                                 # no block worth compiling starts here
        count += 1
        if count >= THRESHOLD:
            block = self.blocks.compile(ctx, pc)
            if block is None:
                samples[pc] = -1
            else:
                samples.pop(pc, None)
                self.blocks.compile_loop_head(ctx, block)
        else:
            samples[pc] = count

    def store_invalidator(self, storage: Storage) -> Callable[[int, int], None]:
        """What a store that overwrote watched ``storage`` (decoded code) calls with the root
        range it wrote: drop what was decoded there, and tell a running compiled block to
        stop after this instruction (its own code may be what changed)."""
        invalidate_storage = storage.invalidate_physical
        in_block = self._in_block

        def invalidate(start: int, end: int) -> None:
            invalidate_storage(start, end)
            if in_block[0]:
                in_block[0] = 2
        return invalidate

    block_locals: tuple = ()
    """Lists a compiled block may keep in Python locals while it runs (the register file):
    see :func:`~hybridvmm.machine.blocks.keep_in_locals`."""

    def block_piece(self, ins: Instruction, ctx: Context, handler: Handler, k: int):
        """``ins`` as piece ``k`` of a compiled block: its handler's own body inlined
        (:mod:`hybridvmm.machine.inline`), or None to call the handler there."""
        return inline_piece(ins, ctx.exact[ins.address], k)

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
        exact = self._ctx.exact.get(pc)
        if exact is None:
            try:
                self._translate_current(pc)
            except TrapSignal as sig:
                self._take(sig)
                self._boundary()
                return 0
            exact = self._ctx.exact[pc]
        ctx = self._ctx
        if self.hooks.address:
            address = ctx.physical[pc] - self.storage.offset
            hooks = self.hooks.address.get(address)
            if hooks:
                for h in list(hooks):
                    h.fn(self, address)
                if self.pc != pc or self.halted or self._stop_reason is not None or self._ctx is not ctx:
                    return 0
                exact = ctx.exact.get(pc)
                if exact is None:  # the hook rewrote the code under us
                    return 0
        if self.tracer is not None:
            self.tracer(self, ctx.insns[pc])
        priv = self.priv
        self.exact = True
        try:
            nxt = exact()
        except TrapSignal as sig:
            self.exact = False
            if sig.completed:
                self._retire_one(priv)
            self._take(sig)
            self._boundary()
            return 1 if sig.completed else 0
        finally:
            self.exact = False
        self.pc = nxt
        self._retire_one(priv)
        if self.hooks.mode and self.priv != priv:
            self._mode_changed(priv)
        self._boundary()
        return 1

    def _retire(self, n: int) -> None:
        """``n`` instructions completed in the current mode: count them, advance the timer."""
        self.stats.count(self.MODES[self.priv], n)
        self._trap_chain = 0
        cd = self._countdown
        if cd:
            cd -= n
            if cd <= 0:
                self._countdown = 0
                self._expired()
            else:
                self._countdown = cd

    def _retire_one(self, priv: int) -> None:
        self.stats.count(self.MODES[priv], 1)
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
        if self._trap_chain == 1:
            self._chain_start = (trap, None if trap.interrupt else self._ctx.insns.get(trap.address))
        self._last_trap = (trap.cause, trap.pc)
        if self._trap_chain > TRAP_LOOP_LIMIT:
            self._stop_reason = (TRAP_LOOP, self._trap_loop_detail(trap))
            return
        priv = self.priv
        if monitor is not None:
            monitor(trap)
        else:
            self._deliver(trap)
        if self.hooks.mode and self.priv != priv:
            self._mode_changed(priv)

    def _trap_loop_detail(self, last: Trap) -> str:
        """A trap loop in words: the trap that began it first — its instruction disassembled,
        where it had one — then the last."""
        first, ins = self._chain_start or (last, None)
        if ins is not None:
            first = replace(first, instruction=format_instruction(ins, self.isa))
        return (f"{first.describe()}, then {TRAP_LOOP_LIMIT} traps without completing an instruction; "
                f"the last: {last.describe()}")

    def _mode_changed(self, was: int) -> None:
        for h in list(self.hooks.mode):
            h.fn(self, self.MODES[was], self.MODES[self.priv])

    # --- the public API for monitors ----------------------------------------------------------
    def take(self, trap: Trap) -> None:
        """Take ``trap`` as this machine's own (a monitor reflecting a guest's trap into its
        virtual machine): counted, seen by the trap hooks, then handed to the
        ``trap_handler`` or delivered through the vectors, exactly as if raised here.
        ``trap.pc`` is the pc saved in the old PSW."""
        self._take(trap)

    def elapse(self, n: int) -> None:
        """``n`` instructions completed elsewhere on this machine's behalf (a monitor ran
        them directly on the host): count them in the current mode and advance the
        countdown, which expires (``_expired``) if it reaches zero.  Interrupts that
        became due are left for :meth:`service_interrupts`."""
        if n > 0:
            self._retire(n)

    @property
    def countdown(self) -> int:
        """Instructions left before the countdown expires (0 = off)."""
        return self._countdown

    def arm_countdown(self, n: int, *, skip_current: bool = False) -> None:
        """Program the countdown to expire after ``n`` more completed instructions (0 = off).
        ``skip_current``: the instruction executing now (the one that arms it, e.g. a
        set-timer instruction) does not count against it."""
        self._countdown = n
        self._loaded_countdown = bool(skip_current and n)

    def service_interrupts(self) -> None:
        """Take an interrupt that is due now, without executing an instruction."""
        if not self.halted:
            self._boundary()

    def progress(self) -> None:
        """Called by a trap handler that made progress (emulated an instruction), so the
        trap-loop guard never stops a monitor that is working correctly."""
        self._trap_chain = 0
        self._last_trap = None

    @property
    def stop_reason(self) -> tuple[str, str] | None:
        """Why the machine asked to stop (``stop()``, a trap loop), until ``run`` reports it."""
        return self._stop_reason

    def deliver(self, trap: Trap) -> None:
        """Take ``trap`` through the machine's own vectors (for a ``trap_handler`` that
        decides to let the guest see it)."""
        self.pc = trap.pc
        self._deliver(trap)

    def close(self) -> None:
        """The machine is discarded: forget all translations, stop watching storage, and
        break the reference cycles a running machine is made of (its handlers, hooks and
        devices all refer back to it), so that it is freed at once rather than by the
        garbage collector.  Its state stays readable (registers, storage, statistics)."""
        self.code.close()
        self._ctx = None
        self._entry = {}
        self.trap_handler = None
        self.tracer = None
        self.code_view = None
        self.load_overlay = None
        self.hooks = Hooks(_ignore_address_change)
        self.blocks.forget()

    def stop(self, detail: str = "", reason: str = STOPPED) -> None:
        """Ask ``run`` to return (from a hook or trap handler) after the current instruction,
        with ``reason`` (``STOPPED``, or ``YIELDED`` for a monitor taking the CPU back)."""
        self._stop_reason = (reason, detail)

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
        """Call ``fn(machine, was, now)`` (mode names) whenever an instruction or a trap changes the mode."""
        return self.hooks.add_mode(fn)

    def hook_translate(self, fn: TranslateHook) -> HookHandle:
        """Call ``fn(machine, vaddr, paddr, instruction)`` when an address is first
        translated under a mapping (a code-cache miss), before the translation is
        installed; a hook that changes the code there returns True and the address is
        translated again.  Costs nothing on the hot path."""
        return self.hooks.add_translate(fn)

    def console_out(self, value: int) -> None:
        """A byte the guest wrote to its console device: to the console and the output hooks.
        A prompted console session that is over (its prompt is back after the last line)
        ends the run here, as the guest's own successful end would."""
        console = self.console
        console.write_byte(value)
        for h in list(self.hooks.output):
            h.fn(self, value & 0xFF)
        if console.finished and not self.halted:
            self.halted = True
            self.exit_code = 0
            self.exit_message = "the console session is over: its prompt is back after the last line"

    # --- storage -------------------------------------------------------------------------
    def read(self, address: int, length: int) -> bytes:
        """Bytes of storage (absolute: not relocated, not bounds-checked by R)."""
        return self.storage.read(address, length)

    def write(self, address: int, data: bytes) -> None:
        """Write storage (absolute); decoded code there is dropped."""
        self.storage.write(address, data)

    def read_physical(self, paddr: int, length: int) -> bytes | None:
        """``length`` bytes at physical ``paddr`` (None if any lies outside storage), for
        readers that know no ISA (a compliance signature).  Physical addresses are storage
        addresses here; a model whose RAM sits elsewhere (RISC-V) overrides this."""
        if paddr < 0 or length < 0 or paddr + length > self.storage.size:
            return None
        return self.storage.read(paddr, length)

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

    @classmethod
    def storage_needed(cls, image: Image) -> int:
        """Storage bytes this model needs to hold ``image``: its highest address, for a
        model whose storage address 0 is address 0 (a model that maps storage elsewhere,
        e.g. RAM at a base address, says so here)."""
        return image.high

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
        return {"pc": self.pc, "mode": self.mode}

    @property
    def gprs(self) -> list[int]:
        """The general registers by number, as the one list the model keeps them in (shared
        with a monitor's host while a VM's world is loaded)."""
        raise NotImplementedError

    def system_registers(self) -> dict[str, int]:
        """The system registers a register dump shows beside :meth:`psw_summary` (by name;
        none unless the ISA has more than its status word)."""
        return {}

    def set_cpu_state(self, state: dict[str, Any]) -> None:
        raise NotImplementedError
