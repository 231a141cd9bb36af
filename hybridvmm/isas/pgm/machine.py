"""pgm — the Popek–Goldberg teaching machine: instruction semantics and system model.

The semantics are written once, as *handler factories*: ``factory(m, ins, env)`` returns a
closure that performs one decoded instruction instance on the state object ``m`` (a
:class:`PgmMachine`) with storage accessed through the address mapping ``env`` (R) and
returns the next pc.  The state object may be the real machine, a VM's virtual machine
over a window of the real storage (its own M, IE, R and timer, optionally sharing the real
register file), or a throw-away machine the classifier set up.

Public API (what the monitor and the classifier code against)
--------------------------------------------------------------
Build::

    from hybridvmm.isas import build_machine
    m = build_machine("pgm-x86")                    # any pgm variant, 1 MiB storage
    m = build_machine("pgm-virt", storage_size=0x1000)
    m = build_machine("pgm", image=image)            # storage sized for and loaded with an image

State (all read/write; registers hold unsigned 32-bit values)::

    m.regs            list of 16 ints (r14 = fp, r15 = sp); mutate in place, never rebind
    m.flags           NZCV as 4 bits: N=8, Z=4, C=2, V=1
    m.pc              virtual pc
    m.user            M (True = user mode); m.mode is "user" / "supervisor"
    m.ie              interrupt enable
    m.base, m.bound   R; set both with m.set_r(base, bound)
    m.timer           instructions left before the timer interrupt request (0 = off)
    m.timer_pending   a timer interrupt requested but not yet delivered (IE was 0)
    m.halted
    m.set_state(regs=..., flags=..., pc=..., user=..., ie=..., base=..., bound=...,
                timer=..., timer_pending=...)      # any subset
    m.state() -> PgmState                           # frozen, comparable copy of all of it
    m.read(a, n) / m.write(a, data)                 # absolute storage (drops stale code)
    m.read_virtual(a, n) / m.write_virtual(a, data) # through R (None / ValueError outside)
    m.psw() -> (status, pc, base, bound);  m.load_psw(status, pc, base, bound)

Execute::

    r = m.step()          # exactly one instruction (an interrupt already due is taken first)
    r.completed           # the instruction finished (False for a fault)
    r.trap                # Trap raised by the instruction itself, or None
    r.trap.cause / .name  # e.g. 1 / "privileged"; .pc is the PSW pc; .code the svc number
    r.events              # every trap and interrupt taken in the step, in order
    m.run(max_steps)      # RunResult(reason="halted" | "max-steps" | "stopped" | "trap-loop")

Traps go through the in-storage vectors unless ``m.trap_handler`` is set: then every trap
and interrupt is handed to ``m.trap_handler(trap)`` and *nothing* else happens — the state
is left at the trap point (registers, flags, storage as before a fault; ``m.pc`` = the PSW
pc) and execution resumes from whatever the handler leaves.  The classifier sets
``m.trap_handler = lambda trap: None`` to observe a trap without the PSW swap; a monitor
takes every trap in its dispatcher and calls ``m.deliver(trap)`` to vector one normally.

A run stops with ``trap-loop`` when traps keep coming with no instruction completing
(through the vectors: 16 in a row; with a trap_handler: the same cause at the same pc 16
times, i.e. a monitor that makes no progress).  Steps counted by ``run`` are completed
*machine* instructions: a monitor that emulates instructions counts those itself.

Hooks (typed, removable with ``handle.remove()``, free when none is installed)::

    m.hook_address(addr, fn)   # fn(m, addr) before the instruction at storage address addr
    m.hook_trap(fn)            # fn(m, trap) for every trap/interrupt, before it is taken
    m.hook_output(fn)          # fn(m, byte) for every console byte
    m.hook_mode(fn)            # fn(m, was_user, is_user) when an instruction or trap changes M
    m.stop(detail)             # from any hook/handler: run() returns "stopped"
    m.tracer = fn              # fn(m, instruction) before every instruction (single-steps)

Snapshots: ``snap = m.snapshot()`` / ``m.restore(snap)`` (storage, CPU and system state,
console, stats).  ``m.instruction_at(vaddr)`` decodes under the current R.

A VM's virtual machine for interpreter routines::

    vm = PgmMachine(isa, storage=real.storage.window(alloc_base, alloc_size),
                    share_registers_with=real)
    vm.set_state(user=..., ie=..., base=..., bound=..., timer=..., pc=real.pc)
    vm.step()             # the same semantics against the VM's virtual M, IE, R, timer

The window's address 0 is the VM's absolute 0 (its old/new PSWs live there); its R is
relative to the window; stores by either machine drop both machines' stale decoded code.
``vm.run(n)`` interprets at full speed; ``vm.hook_mode`` can stop it when the guest
enters user mode.  ``vm.close()`` releases it early (otherwise it is collected).

Semantics not obvious from the spec's ``doc`` strings
----------------------------------------------------
* Flags (as on ARM): add/adc/addi set C = carry out of bit 31; sub/cmp/cmpi/neg compute
  ra + ~rb + 1 and set C = NOT borrow (C = 1 when ra >= rb unsigned); V = signed overflow.
  Logic ops, mul, divu, remu and the immediate shifts set N and Z only.  shl/shr/sar set N,
  Z and C = the last bit shifted out; a shift by 0 leaves C alone.  Nothing else sets flags.
* Storage: a virtual address a (unsigned 32-bit; address arithmetic wraps) of an access of
  ``size`` bytes is valid iff a + size <= R.bound and base + a + size <= storage size; the
  physical address is R.base + a.  Word accesses need a % 4 == 0 (checked first: cause
  misaligned), then bounds (cause bounds).  Instruction fetch is checked the same way, with
  a pc that is not a multiple of 2 being misaligned.  This holds in both modes.
* push writes the value before the decrement (``push sp`` pushes the old sp); ``pop sp``
  leaves the popped value in sp.  call/callr/callrel push the address of the next
  instruction.  A fault (bounds, misaligned, privileged) changes nothing.
* Traps: the old PSW (status with cause in bits 8..15 and code in 16..23, pc, R.base,
  R.bound) is stored at the absolute ``old_psw`` location and the new PSW — its status
  sets M, IE and NZCV — is loaded from ``new_psw + psw_size * cause``.  The saved pc is the
  faulting instruction for faults (privileged, illegal, bounds, misaligned) and the next
  instruction for ``svc`` and the timer interrupt.  ``svc n`` stores n as the code;
  ``vmtrap n`` on the bare machine is an illegal-instruction fault with code n.
  ``rti`` loads M, IE, NZCV, pc and R from the old-PSW location.  A trap taken while a
  handler runs overwrites the old PSW (handlers that may nest save it first).
* Timer: ``settimer rX`` with n = rX > 0 arms it; every *completed* instruction after the
  settimer counts one (faults do not complete; svc and halt do); when the n-th completes a
  timer interrupt is requested and the timer turns off (one-shot).  With IE = 1 the
  interrupt is taken at that very boundary, before the next instruction (saved pc = the
  next instruction); with IE = 0 it stays pending and is taken at the boundary right after
  the instruction that sets IE = 1 (ei, popf, rti, or a trap whose new PSW has IE = 1).
  ``rdtime`` reads the count of instructions still to complete before the request,
  including itself (right after ``settimer`` with n it reads n).  ``settimer`` also
  discards a pending request; 0 turns the timer off.
* halt completes (pc = next instruction) and stops the machine.
* Ports: ``out rX, 0`` writes the low byte of rX to the console; ``in rX, 1`` reads the
  next input byte (0xFFFFFFFF when none); ``in rX, 2`` gives the number of input bytes
  left.  Other ports read 0 and ignore writes.
* User mode: an instruction whose spec says it traps in user mode raises a privileged
  trap there before doing anything.  Otherwise the same semantics run: ``jrstu`` enters
  user mode (a plain jump when already there), ``popf`` leaves IE alone in user mode,
  ``pushf``/``srr``/``rdtime`` reveal the real M and IE, R, and timer.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Hashable

from hybridvmm.errors import DecodeError, UserError
from hybridvmm.isa import ISA, load_isa
from hybridvmm.machine.codecache import Context
from hybridvmm.machine.core import Machine
from hybridvmm.machine.storage import Storage
from hybridvmm.machine.traps import Trap, TrapSignal
from hybridvmm.isas.pgm.env import (
    CAUSE_SHIFT,
    CODE_SHIFT,
    DEFAULT_STORAGE,
    FLAGS_SHIFT,
    M32,
    MIN_STORAGE,
    PSW_WORDS,
    PgmEnv,
    REGISTERS,
    STATUS_IE,
    STATUS_M,
    flags_from_cells,
    set_flag_cells,
)
from hybridvmm.isas.pgm.semantics import SEMANTICS, Semantic, privileged_entry, privileged_guard

SUPERVISOR, USER = 0, 1
"""pgm's privilege levels (``Machine.priv``)."""


# --- state and the machine ---------------------------------------------------------------------------
@dataclass(frozen=True)
class PgmState:
    """Every register of the pgm machine: program-visible and system state (not storage)."""

    regs: tuple[int, ...]
    flags: int
    pc: int
    user: bool
    ie: bool
    base: int
    bound: int
    timer: int
    timer_pending: bool
    halted: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {f.name: (list(getattr(self, f.name)) if f.name == "regs" else getattr(self, f.name)) for f in fields(self)}


class PgmMachine(Machine):
    """The pgm machine (any variant).  See the module docstring for the API."""

    default_storage = DEFAULT_STORAGE
    MODES = {SUPERVISOR: "supervisor", USER: "user"}
    honours_code_overlay = True  # every load path of PgmEnv and the PSW reads consults it

    def __init__(
        self,
        isa: ISA | str = "pgm",
        storage_size: int = DEFAULT_STORAGE,
        *,
        storage: Storage | None = None,
        share_registers_with: "PgmMachine | None" = None,
        semantics: dict[str, Semantic] | None = None,
    ):
        isa = load_isa(isa) if isinstance(isa, str) else isa
        if "pgm" not in isa.lineage:
            raise UserError(f"{isa.name} is not a pgm variant")
        if storage is None:
            storage = Storage(max(storage_size, MIN_STORAGE))
        super().__init__(isa, storage)
        system = isa.system
        self.cause: dict[str, int] = dict(system["causes"])
        self.cause_names = {v: k for k, v in self.cause.items()}
        self.old_psw: int = system["old_psw"]
        self.new_psw: int = system["new_psw"]
        self.psw_size: int = system.get("psw_size", 16)
        self.load_address: int = system.get("load_address", 0)
        self.ports: dict[str, int] = dict(system.get("ports", {}))
        self.alignment = isa.alignment
        self.semantics = dict(SEMANTICS)
        if semantics:
            self.semantics.update(semantics)
        missing = sorted(set(isa.instructions) - set(self.semantics))
        if missing:
            raise UserError(f"{isa.name}: no semantics for {', '.join(missing)}")
        if share_registers_with is not None:
            self.regs = share_registers_with.regs
            self.flag_cells = share_registers_with.flag_cells
        else:
            self.regs = [0] * REGISTERS
            self.flag_cells: list = [0, (0, 0, 0)]
            """NZCV kept lazily (see :mod:`hybridvmm.isas.pgm.env`); shared by every handler."""
        self.ie = False
        self.base = 0
        self.bound = self.storage.size
        self.timer_pending = False
        self.reset(self.load_address)

    # --- registers and system state ------------------------------------------------------
    @property
    def user(self) -> bool:
        """M: True in user mode."""
        return self.priv == USER

    @user.setter
    def user(self, value: bool) -> None:
        self.priv = USER if value else SUPERVISOR

    @property
    def gprs(self) -> list[int]:
        return self.regs

    @property
    def block_locals(self) -> tuple:
        """The registers and the lazy flag cells, kept in locals by compiled blocks."""
        return (self.regs, self.flag_cells)

    @property
    def flags(self) -> int:
        return flags_from_cells(self.flag_cells)

    @flags.setter
    def flags(self, nzcv: int) -> None:
        set_flag_cells(self.flag_cells, nzcv)

    @property
    def timer(self) -> int:
        return self.countdown

    @timer.setter
    def timer(self, value: int) -> None:
        self.arm_countdown(value & M32)

    @property
    def R(self) -> tuple[int, int]:
        return self.base, self.bound

    def set_r(self, base: int, bound: int) -> None:
        """Load R; the next fetch and every access after it go through the new mapping."""
        self.base, self.bound = base & M32, bound & M32
        self._remap()

    def reset(self, entry: int | None = None) -> None:
        """Power-on state: supervisor, IE = 0, R = (0, storage size), timer off, registers
        and flags zero, pc = ``entry`` (default: the spec's load address)."""
        self.regs[:] = [0] * REGISTERS
        set_flag_cells(self.flag_cells, 0)
        self.pc = self.load_address if entry is None else entry & M32
        self.user = False
        self.ie = False
        self.arm_countdown(0)
        self.timer_pending = False
        self.halted = False
        self.set_r(0, self.storage.size)

    def state(self) -> PgmState:
        return PgmState(tuple(self.regs), self.flags, self.pc, self.user, self.ie, self.base, self.bound,
                        self.countdown, self.timer_pending, self.halted)

    def set_state(self, **values: Any) -> None:
        """Set any subset of the :class:`PgmState` fields (``regs`` may be partial: a dict
        ``{number: value}`` or a full sequence)."""
        unknown = set(values) - {f.name for f in fields(PgmState)}
        if unknown:
            raise TypeError(f"unknown state field(s): {', '.join(sorted(unknown))}")
        if "regs" in values:
            regs = values["regs"]
            items = regs.items() if isinstance(regs, dict) else enumerate(regs)
            for i, v in items:
                self.regs[i] = v & M32
        if "flags" in values:
            self.flags = values["flags"]
        if "pc" in values:
            self.pc = values["pc"] & M32
        for name in ("user", "ie", "timer_pending", "halted"):
            if name in values:
                setattr(self, name, bool(values[name]))
        if "timer" in values:
            self.timer = values["timer"]
        if "base" in values or "bound" in values:
            self.set_r(values.get("base", self.base), values.get("bound", self.bound))

    def cpu_state(self) -> dict[str, Any]:
        return self.state().as_dict()

    def set_cpu_state(self, state: dict[str, Any]) -> None:
        self.set_state(**state)

    # --- PSW ---------------------------------------------------------------------------------
    def status_word(self, cause: int = 0, code: int = 0) -> int:
        """The status word: M, IE, NZCV and (in a saved PSW) the trap cause and code."""
        return ((STATUS_M if self.user else 0) | (STATUS_IE if self.ie else 0) | self.flags << FLAGS_SHIFT
                | (cause & 0xFF) << CAUSE_SHIFT | (code & 0xFF) << CODE_SHIFT)

    def psw(self, cause: int = 0, code: int = 0) -> tuple[int, int, int, int]:
        """The current PSW as (status, pc, base, bound)."""
        return self.status_word(cause, code), self.pc, self.base, self.bound

    def load_psw(self, status: int, pc: int, base: int, bound: int) -> None:
        """Load a PSW: M, IE and NZCV from the status (cause/code bits ignored), pc and R."""
        self.user = bool(status & STATUS_M)
        self.ie = bool(status & STATUS_IE)
        set_flag_cells(self.flag_cells, status >> FLAGS_SHIFT & 0xF)
        self.pc = pc & M32
        self.set_r(base, bound)

    def read_psw(self, address: int) -> tuple[int, int, int, int]:
        """A PSW stored at absolute ``address`` (as the guest stored it, under a load overlay)."""
        words = self.storage.read_words(address, len(PSW_WORDS))
        overlay = self.load_overlay
        if overlay is not None:
            p = self.storage.offset + address
            words = tuple(overlay.original_word(p + 4 * i) if overlay.patched[(p >> 2) + i] else w
                          for i, w in enumerate(words))
        return words  # type: ignore[return-value]

    def write_psw(self, address: int, psw: tuple[int, int, int, int]) -> None:
        """Store a PSW at absolute ``address``."""
        self.storage.write_words(address, psw)

    def vector_address(self, cause: int) -> int:
        """Where the new PSW of ``cause`` is stored."""
        return self.new_psw + self.psw_size * cause

    def _deliver(self, trap: Trap) -> None:
        """The PSW swap: store the running PSW at old_psw, load the cause's new PSW."""
        self.write_psw(self.old_psw, self.psw(trap.cause, trap.code))
        self.load_psw(*self.read_psw(self.vector_address(trap.cause)))

    def psw_summary(self) -> dict[str, Any]:
        """The PSW as data, flags spelled out (for ``run --stats/--json``)."""
        status, pc, base, bound = self.psw()
        f = self.flags
        return {
            "status": status,
            "pc": pc,
            "base": base,
            "bound": bound,
            "mode": self.mode,
            "ie": self.ie,
            "flags": "".join(ch if f >> (3 - i) & 1 else "-" for i, ch in enumerate("NZCV")),
            "timer": self.timer,
            "timer_pending": self.timer_pending,
        }

    # --- timer ----------------------------------------------------------------------------------
    def _expired(self) -> None:
        self.timer_pending = True

    def _interrupt_due(self) -> Trap | None:
        if self.timer_pending and self.ie:
            self.timer_pending = False
            self.stats.timer_interrupts += 1
            cause = self.cause["timer"]
            return Trap(cause, self.cause_names[cause], self.pc, self.pc, interrupt=True)
        return None

    # --- storage through R ---------------------------------------------------------------------
    def _virtual_range(self, address: int, length: int) -> int | None:
        eb = max(0, min(self.bound, self.storage.size - self.base))
        if address < 0 or address + length > eb:
            return None
        return self.base + address

    def read_virtual(self, address: int, length: int) -> bytes | None:
        """Bytes at virtual ``address`` through R, or None if any of them is outside R."""
        p = self._virtual_range(address, length)
        return None if p is None else self.storage.read(p, length)

    def write_virtual(self, address: int, data: bytes) -> None:
        """Write through R (ValueError outside R); decoded code there is dropped."""
        p = self._virtual_range(address, len(data))
        if p is None:
            raise ValueError(f"[0x{address:x}, 0x{address + len(data):x}) is outside R = (0x{self.base:x}, 0x{self.bound:x})")
        self.storage.write(p, data)

    # --- translation ------------------------------------------------------------------------------
    def _context_key(self) -> Hashable:
        overlay = self.load_overlay
        if overlay is not None:
            lo = self.storage.offset + self.base
            hi = lo + max(0, min(self.bound, self.storage.size - self.base))
            if not overlay.touches(lo, hi):
                overlay = None
        return (self.base, self.bound, overlay)

    def _new_context(self, key: Hashable) -> Context:
        base, bound, overlay = key  # type: ignore[misc]
        env = PgmEnv(self, base, bound, overlay)
        return Context(key, env.pb, env)

    def _translate(self, ctx: Context, vaddr: int) -> None:
        env: PgmEnv = ctx.env
        if vaddr % self.alignment:
            raise TrapSignal(self.cause["misaligned"], vaddr, vaddr, fault_address=vaddr)
        p = env.pb + vaddr
        mem, at = env.mem, p
        room = env.eb - vaddr
        if self.code_view is not None and room > 0:
            alt = self.code_view(p)
            if alt is not None:
                mem, at = alt, 0
        length = self.decoder.length_at(mem, at) if room >= self.isa.parcel_bytes else None
        if length is None or length > room:
            raise TrapSignal(self.cause["bounds"], vaddr, vaddr, fault_address=vaddr)
        try:
            ins = self.decoder.decode(mem, vaddr, at)
        except DecodeError:
            raise TrapSignal(self.cause["illegal"], vaddr, vaddr) from None
        sem = self.semantics[ins.name]
        real = sem.factory(self, ins, env)
        if ins.spec.traps_in_user_mode:
            self._install(ctx, vaddr, ins, privileged_guard(self, real, ins), True, entry=privileged_entry(self, ins))
        else:
            self._install(ctx, vaddr, ins, real, sem.system)

