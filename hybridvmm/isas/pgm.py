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
from typing import Any, Callable, Hashable

from hybridvmm.errors import DecodeError, UserError
from hybridvmm.isa import ISA, Instruction, load_isa
from hybridvmm.machine.codecache import Context, Handler
from hybridvmm.machine.core import Machine
from hybridvmm.machine.storage import Storage
from hybridvmm.machine.traps import Trap, TrapSignal

M32 = 0xFFFFFFFF
NBIT = 0x80000000
NZ_BOTH = 1 << 32
"""The N/Z cell value meaning N = 1 and Z = 1 at once (only popf/PSW loads produce it)."""

SP = 15
REGISTERS = 16
DEFAULT_STORAGE = 1 << 20
MIN_STORAGE = 0x100
PSW_WORDS = ("status", "pc", "base", "bound")
"""A PSW is four words in this order (status, pc, R.base, R.bound)."""

STATUS_M = 1
STATUS_IE = 2
FLAGS_SHIFT = 4
CAUSE_SHIFT = 8
CODE_SHIFT = 16


# --- flags ---------------------------------------------------------------------------
# The flags live in a two-element list ``F`` shared by every handler of a machine:
#   F[0]  N/Z: N = F[0] >= 0x80000000, Z = (F[0] & 0xFFFFFFFF) == 0
#         (a 32-bit result, or NZ_BOTH for the combination no result can produce);
#   F[1]  C/V, lazily: a tuple (a, b, s) of the last addition s = a + b (+ carry), with
#         C = s >> 32 and V = ((a ^ s) & (b ^ s)) >> 31 & 1.
# Producers store results without computing flags; branches derive what they test.

def _cv_record(c: int, v: int) -> tuple[int, int, int]:
    """A (a, b, s) record whose derived C and V are the given bits."""
    return (v << 31, v << 31, c << 32)


def flags_from_cells(F: list) -> int:
    """NZCV (N=8, Z=4, C=2, V=1) from a flags cell."""
    nz = F[0]
    a, b, s = F[1]
    n = 1 if nz >= NBIT else 0
    z = 0 if nz & M32 else 1
    c = (s >> 32) & 1
    v = (((a ^ s) & (b ^ s)) >> 31) & 1
    return n << 3 | z << 2 | c << 1 | v


def set_flag_cells(F: list, nzcv: int) -> None:
    """Store NZCV (N=8, Z=4, C=2, V=1) into a flags cell."""
    n, z = nzcv >> 3 & 1, nzcv >> 2 & 1
    F[0] = NZ_BOTH if n and z else NBIT if n else 0 if z else 1
    F[1] = _cv_record(nzcv >> 1 & 1, nzcv & 1)


# --- the per-mapping environment baked into handlers ------------------------------------
class PgmEnv:
    """Storage access under one R: what every handler of that mapping bakes in.

    ``eb`` is the effective bound (R.bound clipped to the storage behind R.base);
    ``pb`` the root storage index of virtual address 0; ``words`` the native word view
    when it can serve aligned word accesses at this base, else None.
    """

    __slots__ = ("base", "bound", "eb", "pb", "mem", "words", "marks", "invalidate",
                 "fault", "load32", "store32", "load8", "store8")

    def __init__(self, machine: "PgmMachine", base: int, bound: int):
        st = machine.storage
        self.base, self.bound = base, bound
        self.eb = eb = max(0, min(bound, st.size - base))
        self.pb = pb = st.offset + base
        self.mem = mem = st.data
        self.marks = marks = st.marks
        self.invalidate = inval = st.invalidate_physical
        words = st.words if st.words is not None and pb % 4 == 0 else None
        self.words = words
        c_mis, c_bnd = machine.cause["misaligned"], machine.cause["bounds"]

        def fault(a: int, size: int, pc: int, name: str) -> None:
            cause = c_mis if size > 1 and a % size else c_bnd
            raise TrapSignal(cause, pc, pc, 0, name, a)

        self.fault = fault
        eb4 = eb - 4

        if words is not None:
            def load32(a: int, pc: int, name: str) -> int:
                if a & 3 or a > eb4:
                    fault(a, 4, pc, name)
                return words[(pb + a) >> 2]

            def store32(a: int, v: int, pc: int, name: str) -> None:
                if a & 3 or a > eb4:
                    fault(a, 4, pc, name)
                w = (pb + a) >> 2
                words[w] = v
                if marks[w]:
                    inval(w << 2, (w << 2) + 4)
        else:
            def load32(a: int, pc: int, name: str) -> int:
                if a & 3 or a > eb4:
                    fault(a, 4, pc, name)
                p = pb + a
                return int.from_bytes(mem[p:p + 4], "little")

            def store32(a: int, v: int, pc: int, name: str) -> None:
                if a & 3 or a > eb4:
                    fault(a, 4, pc, name)
                p = pb + a
                mem[p:p + 4] = v.to_bytes(4, "little")
                if marks[p >> 2] or marks[(p + 3) >> 2]:
                    inval(p, p + 4)

        def load8(a: int, pc: int, name: str) -> int:
            if a >= eb:
                fault(a, 1, pc, name)
            return mem[pb + a]

        def store8(a: int, v: int, pc: int, name: str) -> None:
            if a >= eb:
                fault(a, 1, pc, name)
            p = pb + a
            mem[p] = v & 0xFF
            if marks[p >> 2]:
                inval(p, p + 1)

        self.load32, self.store32, self.load8, self.store8 = load32, store32, load8, store8


# --- the semantics table -----------------------------------------------------------------
Factory = Callable[["PgmMachine", Instruction, PgmEnv], Handler]


@dataclass(frozen=True)
class Semantic:
    """How to build an instruction's handler; ``system`` = needs the exact machine state
    (reads or changes M, IE, R, the timer, devices), so it runs off the hot loop."""

    factory: Factory
    system: bool = False


SEMANTICS: dict[str, Semantic] = {}
"""Instruction name → semantics.  A machine may be built with overrides (a mutated ISA)."""


def semantic(*names: str, system: bool = False) -> Callable[[Factory], Factory]:
    def register(factory: Factory) -> Factory:
        for n in names:
            SEMANTICS[n] = Semantic(factory, system)
        return factory
    return register


def _ops(ins: Instruction, *names: str) -> tuple[int, ...]:
    return tuple(ins.operands[n] for n in names)


# ---- moves, no flags --------------------------------------------------------------------
@semantic("nop")
def _nop(m, ins, env):
    nxt = ins.next_address

    def nop() -> int:
        return nxt
    return nop


@semantic("mov")
def _mov(m, ins, env):
    r, (ra, rb), nxt = m.regs, _ops(ins, "ra", "rb"), ins.next_address

    def mov() -> int:
        r[ra] = r[rb]
        return nxt
    return mov


@semantic("movi", "movl")
def _movi(m, ins, env):
    r, nxt = m.regs, ins.next_address
    ra = ins.operands["ra"]
    value = (ins.operands["simm"] if "simm" in ins.operands else ins.operands["imm32"]) & M32

    def movi() -> int:
        r[ra] = value
        return nxt
    return movi


# ---- arithmetic with NZCV ---------------------------------------------------------------
@semantic("add")
def _add(m, ins, env):
    r, F, (ra, rb), nxt = m.regs, m._f, _ops(ins, "ra", "rb"), ins.next_address

    def add() -> int:
        a = r[ra]
        b = r[rb]
        s = a + b
        v = s & M32
        r[ra] = v
        F[0] = v
        F[1] = (a, b, s)
        return nxt
    return add


@semantic("adc")
def _adc(m, ins, env):
    r, F, (ra, rb), nxt = m.regs, m._f, _ops(ins, "ra", "rb"), ins.next_address

    def adc() -> int:
        a = r[ra]
        b = r[rb]
        s = a + b + (F[1][2] >> 32 & 1)
        v = s & M32
        r[ra] = v
        F[0] = v
        F[1] = (a, b, s)
        return nxt
    return adc


@semantic("sub")
def _sub(m, ins, env):
    r, F, (ra, rb), nxt = m.regs, m._f, _ops(ins, "ra", "rb"), ins.next_address

    def sub() -> int:
        a = r[ra]
        b = r[rb] ^ M32
        s = a + b + 1
        v = s & M32
        r[ra] = v
        F[0] = v
        F[1] = (a, b, s)
        return nxt
    return sub


@semantic("cmp")
def _cmp(m, ins, env):
    r, F, (ra, rb), nxt = m.regs, m._f, _ops(ins, "ra", "rb"), ins.next_address

    def cmp() -> int:
        a = r[ra]
        b = r[rb] ^ M32
        s = a + b + 1
        F[0] = s & M32
        F[1] = (a, b, s)
        return nxt
    return cmp


@semantic("neg")
def _neg(m, ins, env):
    r, F, ra, nxt = m.regs, m._f, ins.operands["ra"], ins.next_address

    def neg() -> int:
        b = r[ra] ^ M32
        s = b + 1
        v = s & M32
        r[ra] = v
        F[0] = v
        F[1] = (0, b, s)
        return nxt
    return neg


@semantic("addi")
def _addi(m, ins, env):
    r, F, (ra, rb, k), nxt = m.regs, m._f, _ops(ins, "ra", "rb", "simm"), ins.next_address
    b = k & M32

    def addi() -> int:
        a = r[rb]
        s = a + b
        v = s & M32
        r[ra] = v
        F[0] = v
        F[1] = (a, b, s)
        return nxt
    return addi


@semantic("cmpi")
def _cmpi(m, ins, env):
    r, F, (ra, k), nxt = m.regs, m._f, _ops(ins, "ra", "simm"), ins.next_address
    b = (k & M32) ^ M32

    def cmpi() -> int:
        a = r[ra]
        s = a + b + 1
        F[0] = s & M32
        F[1] = (a, b, s)
        return nxt
    return cmpi


# ---- logic and multiply/divide: N and Z only -----------------------------------------------
def _binary_nz(op: Callable[[int, int], int], name: str) -> Factory:
    def factory(m, ins, env):
        r, F, (ra, rb), nxt = m.regs, m._f, _ops(ins, "ra", "rb"), ins.next_address
        if name == "and":
            def h() -> int:
                v = r[ra] & r[rb]
                r[ra] = v
                F[0] = v
                return nxt
        elif name == "or":
            def h() -> int:
                v = r[ra] | r[rb]
                r[ra] = v
                F[0] = v
                return nxt
        elif name == "xor":
            def h() -> int:
                v = r[ra] ^ r[rb]
                r[ra] = v
                F[0] = v
                return nxt
        elif name == "mul":
            def h() -> int:
                v = (r[ra] * r[rb]) & M32
                r[ra] = v
                F[0] = v
                return nxt
        else:
            def h() -> int:
                v = op(r[ra], r[rb])
                r[ra] = v
                F[0] = v
                return nxt
        h.__name__ = name
        return h
    return factory


def _divu(a: int, b: int) -> int:
    return a // b if b else M32


def _remu(a: int, b: int) -> int:
    return a % b if b else a


for _name, _op in (("and", None), ("or", None), ("xor", None), ("mul", None), ("divu", _divu), ("remu", _remu)):
    SEMANTICS[_name] = Semantic(_binary_nz(_op, _name))


@semantic("tst")
def _tst(m, ins, env):
    r, F, (ra, rb), nxt = m.regs, m._f, _ops(ins, "ra", "rb"), ins.next_address

    def tst() -> int:
        F[0] = r[ra] & r[rb]
        return nxt
    return tst


@semantic("not")
def _not(m, ins, env):
    r, F, ra, nxt = m.regs, m._f, ins.operands["ra"], ins.next_address

    def not_() -> int:
        v = r[ra] ^ M32
        r[ra] = v
        F[0] = v
        return nxt
    return not_


@semantic("andi", "ori", "xori", "muli")
def _logic_imm(m, ins, env):
    r, F, (ra, rb, k), nxt = m.regs, m._f, _ops(ins, "ra", "rb", "simm"), ins.next_address
    kk = k & M32
    name = ins.name
    if name == "andi":
        def h() -> int:
            v = r[rb] & kk
            r[ra] = v
            F[0] = v
            return nxt
    elif name == "ori":
        def h() -> int:
            v = r[rb] | kk
            r[ra] = v
            F[0] = v
            return nxt
    elif name == "xori":
        def h() -> int:
            v = r[rb] ^ kk
            r[ra] = v
            F[0] = v
            return nxt
    else:
        def h() -> int:
            v = (r[rb] * kk) & M32
            r[ra] = v
            F[0] = v
            return nxt
    return h


# ---- shifts -------------------------------------------------------------------------------
def _set_carry(F: list, c: int) -> None:
    """C = c, V unchanged."""
    a, b, s = F[1]
    v = (((a ^ s) & (b ^ s)) >> 31) & 1
    F[1] = _cv_record(c, v)


@semantic("shl", "shr", "sar")
def _shift(m, ins, env):
    r, F, (ra, rb), nxt = m.regs, m._f, _ops(ins, "ra", "rb"), ins.next_address
    kind = ins.name

    def shift() -> int:
        n = r[rb] & 31
        a = r[ra]
        if n == 0:
            v = a
        elif kind == "shl":
            v = (a << n) & M32
            _set_carry(F, (a >> (32 - n)) & 1)
        else:
            sa = a - (1 << 32) if kind == "sar" and a & NBIT else a
            v = (sa >> n) & M32
            _set_carry(F, (sa >> (n - 1)) & 1)
        r[ra] = v
        F[0] = v
        return nxt
    shift.__name__ = kind
    return shift


@semantic("shli", "shri", "sari")
def _shift_imm(m, ins, env):
    r, F, (ra, rb, k), nxt = m.regs, m._f, _ops(ins, "ra", "rb", "simm"), ins.next_address
    n = k & 31
    if ins.name == "shli":
        def h() -> int:
            v = (r[rb] << n) & M32
            r[ra] = v
            F[0] = v
            return nxt
    elif ins.name == "shri":
        def h() -> int:
            v = r[rb] >> n
            r[ra] = v
            F[0] = v
            return nxt
    else:
        def h() -> int:
            a = r[rb]
            v = ((a - (1 << 32) if a & NBIT else a) >> n) & M32
            r[ra] = v
            F[0] = v
            return nxt
    return h


# ---- storage ------------------------------------------------------------------------------
@semantic("ld")
def _ld(m, ins, env):
    r, (ra, rb, k), nxt, pc = m.regs, _ops(ins, "ra", "rb", "simm"), ins.next_address, ins.address
    words, pb, eb4, fault = env.words, env.pb, env.eb - 4, env.fault
    if words is None:
        load32 = env.load32

        def ld_slow() -> int:
            r[ra] = load32((r[rb] + k) & M32, pc, "ld")
            return nxt
        return ld_slow

    def ld() -> int:
        a = (r[rb] + k) & M32
        if a & 3 or a > eb4:
            fault(a, 4, pc, "ld")
        r[ra] = words[(pb + a) >> 2]
        return nxt
    return ld


@semantic("st")
def _st(m, ins, env):
    r, (ra, rb, k), nxt, pc = m.regs, _ops(ins, "ra", "rb", "simm"), ins.next_address, ins.address
    words, pb, eb4, fault, marks, inval = env.words, env.pb, env.eb - 4, env.fault, env.marks, env.invalidate
    if words is None:
        store32 = env.store32

        def st_slow() -> int:
            store32((r[rb] + k) & M32, r[ra], pc, "st")
            return nxt
        return st_slow

    def st() -> int:
        a = (r[rb] + k) & M32
        if a & 3 or a > eb4:
            fault(a, 4, pc, "st")
        w = (pb + a) >> 2
        words[w] = r[ra]
        if marks[w]:
            inval(w << 2, (w << 2) + 4)
        return nxt
    return st


@semantic("ldb")
def _ldb(m, ins, env):
    r, (ra, rb, k), nxt, pc = m.regs, _ops(ins, "ra", "rb", "simm"), ins.next_address, ins.address
    mem, pb, eb, fault = env.mem, env.pb, env.eb, env.fault

    def ldb() -> int:
        a = (r[rb] + k) & M32
        if a >= eb:
            fault(a, 1, pc, "ldb")
        r[ra] = mem[pb + a]
        return nxt
    return ldb


@semantic("stb")
def _stb(m, ins, env):
    r, (ra, rb, k), nxt, pc = m.regs, _ops(ins, "ra", "rb", "simm"), ins.next_address, ins.address
    mem, pb, eb, fault, marks, inval = env.mem, env.pb, env.eb, env.fault, env.marks, env.invalidate

    def stb() -> int:
        a = (r[rb] + k) & M32
        if a >= eb:
            fault(a, 1, pc, "stb")
        p = pb + a
        mem[p] = r[ra] & 0xFF
        if marks[p >> 2]:
            inval(p, p + 1)
        return nxt
    return stb


@semantic("push")
def _push(m, ins, env):
    r, ra, nxt, pc = m.regs, ins.operands["ra"], ins.next_address, ins.address
    words, pb, eb4, fault, marks, inval = env.words, env.pb, env.eb - 4, env.fault, env.marks, env.invalidate
    if words is None:
        store32 = env.store32

        def push_slow() -> int:
            a = (r[SP] - 4) & M32
            store32(a, r[ra], pc, "push")
            r[SP] = a
            return nxt
        return push_slow

    def push() -> int:
        a = (r[SP] - 4) & M32
        if a & 3 or a > eb4:
            fault(a, 4, pc, "push")
        w = (pb + a) >> 2
        words[w] = r[ra]
        if marks[w]:
            inval(w << 2, (w << 2) + 4)
        r[SP] = a
        return nxt
    return push


@semantic("pop")
def _pop(m, ins, env):
    r, ra, nxt, pc = m.regs, ins.operands["ra"], ins.next_address, ins.address
    words, pb, eb4, fault = env.words, env.pb, env.eb - 4, env.fault
    if words is None:
        load32 = env.load32

        def pop_slow() -> int:
            a = r[SP]
            v = load32(a, pc, "pop")
            r[SP] = (a + 4) & M32
            r[ra] = v
            return nxt
        return pop_slow

    def pop() -> int:
        a = r[SP]
        if a & 3 or a > eb4:
            fault(a, 4, pc, "pop")
        v = words[(pb + a) >> 2]
        r[SP] = (a + 4) & M32
        r[ra] = v
        return nxt
    return pop


# ---- control flow -----------------------------------------------------------------------------
@semantic("br", "jmp")
def _jump(m, ins, env):
    target = ins.target

    def jump() -> int:
        return target
    return jump


@semantic("jmpr")
def _jmpr(m, ins, env):
    r, ra = m.regs, ins.operands["ra"]

    def jmpr() -> int:
        return r[ra]
    return jmpr


def _call_factory(m, ins, env, ra: int | None):
    """call/callrel (static target) and callr (target register ``ra``, read before the push)."""
    r, nxt, pc, name, target = m.regs, ins.next_address, ins.address, ins.name, ins.target
    words, pb, eb4, fault, marks, inval = env.words, env.pb, env.eb - 4, env.fault, env.marks, env.invalidate
    if words is None:
        store32 = env.store32

        def call_slow() -> int:
            t = target if ra is None else r[ra]
            a = (r[SP] - 4) & M32
            store32(a, nxt, pc, name)
            r[SP] = a
            return t
        return call_slow

    if ra is None:
        def call() -> int:
            a = (r[SP] - 4) & M32
            if a & 3 or a > eb4:
                fault(a, 4, pc, name)
            w = (pb + a) >> 2
            words[w] = nxt
            if marks[w]:
                inval(w << 2, (w << 2) + 4)
            r[SP] = a
            return target
        return call

    def callr() -> int:
        t = r[ra]
        a = (r[SP] - 4) & M32
        if a & 3 or a > eb4:
            fault(a, 4, pc, name)
        w = (pb + a) >> 2
        words[w] = nxt
        if marks[w]:
            inval(w << 2, (w << 2) + 4)
        r[SP] = a
        return t
    return callr


@semantic("call", "callrel")
def _call(m, ins, env):
    return _call_factory(m, ins, env, None)


@semantic("callr")
def _callr(m, ins, env):
    return _call_factory(m, ins, env, ins.operands["ra"])


@semantic("ret")
def _ret(m, ins, env):
    r, pc = m.regs, ins.address
    words, pb, eb4, fault = env.words, env.pb, env.eb - 4, env.fault
    if words is None:
        load32 = env.load32

        def ret_slow() -> int:
            a = r[SP]
            t = load32(a, pc, "ret")
            r[SP] = (a + 4) & M32
            return t
        return ret_slow

    def ret() -> int:
        a = r[SP]
        if a & 3 or a > eb4:
            fault(a, 4, pc, "ret")
        t = words[(pb + a) >> 2]
        r[SP] = (a + 4) & M32
        return t
    return ret


def _branch(cond: str) -> Factory:
    """Conditional branches; each tests the lazily kept flags directly."""
    def factory(m, ins, env):
        F, t, n = m._f, ins.target, ins.next_address
        if cond == "eq":
            def h() -> int:
                return n if F[0] & M32 else t
        elif cond == "ne":
            def h() -> int:
                return t if F[0] & M32 else n
        elif cond == "mi":
            def h() -> int:
                return t if F[0] >= NBIT else n
        elif cond == "pl":
            def h() -> int:
                return n if F[0] >= NBIT else t
        elif cond == "ltu":
            def h() -> int:
                return n if F[1][2] >> 32 else t
        elif cond == "geu":
            def h() -> int:
                return t if F[1][2] >> 32 else n
        elif cond == "gtu":
            def h() -> int:
                return t if F[1][2] >> 32 and F[0] & M32 else n
        elif cond == "leu":
            def h() -> int:
                return n if F[1][2] >> 32 and F[0] & M32 else t
        elif cond == "lt":
            def h() -> int:
                a, b, s = F[1]
                return t if (F[0] >= NBIT) != bool((a ^ s) & (b ^ s) & NBIT) else n
        elif cond == "ge":
            def h() -> int:
                a, b, s = F[1]
                return n if (F[0] >= NBIT) != bool((a ^ s) & (b ^ s) & NBIT) else t
        elif cond == "gt":
            def h() -> int:
                a, b, s = F[1]
                return t if F[0] & M32 and (F[0] >= NBIT) == bool((a ^ s) & (b ^ s) & NBIT) else n
        else:  # le
            def h() -> int:
                a, b, s = F[1]
                return n if F[0] & M32 and (F[0] >= NBIT) == bool((a ^ s) & (b ^ s) & NBIT) else t
        h.__name__ = "b" + cond
        return h
    return factory


for _name, _cond in (("beq", "eq"), ("bne", "ne"), ("bmi", "mi"), ("bpl", "pl"), ("bltu", "ltu"), ("bgeu", "geu"),
                     ("bgtu", "gtu"), ("bleu", "leu"), ("blt", "lt"), ("bge", "ge"), ("bgt", "gt"), ("ble", "le")):
    SEMANTICS[_name] = Semantic(_branch(_cond))


# ---- traps -----------------------------------------------------------------------------------
@semantic("svc")
def _svc(m, ins, env):
    cause, code, pc, nxt = m.cause["svc"], ins.operands["code"], ins.address, ins.next_address

    def svc() -> int:
        raise TrapSignal(cause, nxt, pc, code, "svc", None, True)
    return svc


@semantic("vmtrap")
def _vmtrap(m, ins, env):
    cause, code, pc = m.cause["illegal"], ins.operands["code"], ins.address

    def vmtrap() -> int:
        raise TrapSignal(cause, pc, pc, code, "vmtrap")
    return vmtrap


# ---- system instructions (run off the hot loop, with the exact state) ------------------------------
@semantic("halt", system=True)
def _halt(m, ins, env):
    nxt = ins.next_address

    def halt() -> int:
        m.halted = True
        return nxt
    return halt


@semantic("rti", system=True)
def _rti(m, ins, env):
    def rti() -> int:
        m.load_psw(*m.read_psw(m.old_psw))
        return m.pc
    return rti


@semantic("ei", "di", system=True)
def _ei_di(m, ins, env):
    nxt, value = ins.next_address, ins.name == "ei"

    def set_ie() -> int:
        m.ie = value
        return nxt
    set_ie.__name__ = ins.name
    return set_ie


@semantic("pushf", system=True)
def _pushf(m, ins, env):
    r, nxt, pc, store32 = m.regs, ins.next_address, ins.address, env.store32

    def pushf() -> int:
        a = (r[SP] - 4) & M32
        store32(a, m.status_word(), pc, "pushf")
        r[SP] = a
        return nxt
    return pushf


@semantic("popf", system=True)
def _popf(m, ins, env):
    r, nxt, pc, load32 = m.regs, ins.next_address, ins.address, env.load32

    def popf() -> int:
        a = r[SP]
        status = load32(a, pc, "popf")
        r[SP] = (a + 4) & M32
        set_flag_cells(m._f, status >> FLAGS_SHIFT & 0xF)
        if not m.user:
            m.ie = bool(status & STATUS_IE)
        return nxt
    return popf


@semantic("srr", system=True)
def _srr(m, ins, env):
    r, (ra, rb), nxt = m.regs, _ops(ins, "ra", "rb"), ins.next_address

    def srr() -> int:
        r[ra] = m.base
        r[rb] = m.bound
        return nxt
    return srr


@semantic("rdtime", system=True)
def _rdtime(m, ins, env):
    r, ra, nxt = m.regs, ins.operands["ra"], ins.next_address

    def rdtime() -> int:
        r[ra] = m._countdown
        return nxt
    return rdtime


@semantic("setr", system=True)
def _setr(m, ins, env):
    r, (ra, rb), nxt = m.regs, _ops(ins, "ra", "rb"), ins.next_address

    def setr() -> int:
        m.set_r(r[ra], r[rb])
        return nxt
    return setr


@semantic("settimer", system=True)
def _settimer(m, ins, env):
    r, ra, nxt = m.regs, ins.operands["ra"], ins.next_address

    def settimer() -> int:
        m._countdown = r[ra]
        m.timer_pending = False
        m._loaded_countdown = True
        return nxt
    return settimer


@semantic("in", system=True)
def _in(m, ins, env):
    r, (ra, port), nxt = m.regs, _ops(ins, "ra", "port"), ins.next_address
    ports = m.ports

    def in_() -> int:
        if port == ports.get("console_in"):
            b = m.console.read_byte()
            r[ra] = M32 if b is None else b
        elif port == ports.get("console_status"):
            r[ra] = m.console.remaining() & M32
        else:
            r[ra] = 0
        return nxt
    return in_


@semantic("out", system=True)
def _out(m, ins, env):
    r, (ra, port), nxt = m.regs, _ops(ins, "ra", "port"), ins.next_address
    console_out = m.ports.get("console_out")

    def out() -> int:
        if port == console_out:
            m._console_out(r[ra] & 0xFF)
        return nxt
    return out


@semantic("jrstu", system=True)
def _jrstu(m, ins, env):
    target = ins.target

    def jrstu() -> int:
        m.user = True
        return target
    return jrstu


def _privileged(m: "PgmMachine", real: Handler, ins: Instruction) -> Handler:
    """Wrap a handler with the user-mode check of an instruction that traps there."""
    cause, pc, name = m.cause["privileged"], ins.address, ins.name

    def privileged() -> int:
        if m.user:
            raise TrapSignal(cause, pc, pc, 0, name)
        return real()
    return privileged


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


def _is_pgm(isa: ISA) -> bool:
    seen = isa
    while True:
        if seen.name == "pgm":
            return True
        if not seen.extends:
            return False
        seen = load_isa(seen.extends)


class PgmMachine(Machine):
    """The pgm machine (any variant).  See the module docstring for the API."""

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
        if not _is_pgm(isa):
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
            self._f = share_registers_with._f
        else:
            self.regs = [0] * REGISTERS
            self._f = [0, (0, 0, 0)]
        self.ie = False
        self.base = 0
        self.bound = self.storage.size
        self.timer_pending = False
        self.reset(self.load_address)

    # --- registers and system state ------------------------------------------------------
    @property
    def flags(self) -> int:
        return flags_from_cells(self._f)

    @flags.setter
    def flags(self, nzcv: int) -> None:
        set_flag_cells(self._f, nzcv)

    @property
    def timer(self) -> int:
        return self._countdown

    @timer.setter
    def timer(self, value: int) -> None:
        self._countdown = value & M32

    @property
    def mode(self) -> str:
        return "user" if self.user else "supervisor"

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
        set_flag_cells(self._f, 0)
        self.pc = self.load_address if entry is None else entry & M32
        self.user = False
        self.ie = False
        self._countdown = 0
        self._loaded_countdown = False
        self.timer_pending = False
        self.halted = False
        self.set_r(0, self.storage.size)

    def state(self) -> PgmState:
        return PgmState(tuple(self.regs), self.flags, self.pc, self.user, self.ie, self.base, self.bound,
                        self._countdown, self.timer_pending, self.halted)

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
        set_flag_cells(self._f, status >> FLAGS_SHIFT & 0xF)
        self.pc = pc & M32
        self.set_r(base, bound)

    def read_psw(self, address: int) -> tuple[int, int, int, int]:
        """A PSW stored at absolute ``address``."""
        return self.storage.read_words(address, len(PSW_WORDS))  # type: ignore[return-value]

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
        return (self.base, self.bound)

    def _new_context(self, key: Hashable) -> Context:
        base, bound = key  # type: ignore[misc]
        env = PgmEnv(self, base, bound)
        return Context(key, env.pb, env)

    def _translate(self, ctx: Context, vaddr: int) -> None:
        env: PgmEnv = ctx.env
        if vaddr % self.alignment:
            raise TrapSignal(self.cause["misaligned"], vaddr, vaddr, fault_address=vaddr)
        p = env.pb + vaddr
        length = self.decoder.length_at(env.mem, p) if vaddr + self.isa.parcel_bytes <= env.eb else None
        if length is None or vaddr + length > env.eb:
            raise TrapSignal(self.cause["bounds"], vaddr, vaddr, fault_address=vaddr)
        try:
            ins = self.decoder.decode(env.mem, vaddr, p)
        except DecodeError:
            raise TrapSignal(self.cause["illegal"], vaddr, vaddr) from None
        sem = self.semantics[ins.name]
        real = sem.factory(self, ins, env)
        traps = ins.spec.traps_in_user_mode
        if traps:
            real = _privileged(self, real, ins)
        self._install(ctx, vaddr, ins, real, sem.system or traps)


def final_psw(m: PgmMachine) -> dict[str, Any]:
    """The PSW as data (for ``run --stats/--json``)."""
    status, pc, base, bound = m.psw()
    f = m.flags
    return {
        "status": status,
        "pc": pc,
        "base": base,
        "bound": bound,
        "mode": m.mode,
        "ie": m.ie,
        "flags": "".join(ch if f >> (3 - i) & 1 else "-" for i, ch in enumerate("NZCV")),
        "timer": m.timer,
        "timer_pending": m.timer_pending,
    }
