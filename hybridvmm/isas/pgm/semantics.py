"""pgm instruction semantics, written once as handler factories.

``factory(m, ins, env)`` returns a closure that performs one decoded instruction instance
on the state object ``m`` with storage reached through the mapping ``env`` and returns the
next pc.  The same factories serve the bare machine, a VM's virtual machine and the
classifier (see :mod:`hybridvmm.isas.pgm.machine` for the API and the exact semantics).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from hybridvmm.isa import Instruction
from hybridvmm.machine.codecache import Handler
from hybridvmm.machine.semantics import Factory, Semantic, registrar
from hybridvmm.machine.traps import SyncSignal, TrapSignal

if TYPE_CHECKING:
    from hybridvmm.isas.pgm.machine import PgmMachine
from hybridvmm.isas.pgm.env import (
    FLAGS_SHIFT,
    M32,
    NBIT,
    PgmEnv,
    SP,
    STATUS_IE,
    _cv_record,
    set_flag_cells,
)


# --- the semantics table -----------------------------------------------------------------
SEMANTICS: dict[str, Semantic] = {}
"""Instruction name → semantics.  A machine may be built with overrides (a mutated ISA)."""

semantic = registrar(SEMANTICS)


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
    r, F, (ra, rb), nxt = m.regs, m.flag_cells, _ops(ins, "ra", "rb"), ins.next_address

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
    r, F, (ra, rb), nxt = m.regs, m.flag_cells, _ops(ins, "ra", "rb"), ins.next_address

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
    r, F, (ra, rb), nxt = m.regs, m.flag_cells, _ops(ins, "ra", "rb"), ins.next_address

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
    r, F, (ra, rb), nxt = m.regs, m.flag_cells, _ops(ins, "ra", "rb"), ins.next_address

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
    r, F, ra, nxt = m.regs, m.flag_cells, ins.operands["ra"], ins.next_address

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
    r, F, (ra, rb, k), nxt = m.regs, m.flag_cells, _ops(ins, "ra", "rb", "simm"), ins.next_address
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
    r, F, (ra, k), nxt = m.regs, m.flag_cells, _ops(ins, "ra", "simm"), ins.next_address
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
        r, F, (ra, rb), nxt = m.regs, m.flag_cells, _ops(ins, "ra", "rb"), ins.next_address
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
    r, F, (ra, rb), nxt = m.regs, m.flag_cells, _ops(ins, "ra", "rb"), ins.next_address

    def tst() -> int:
        F[0] = r[ra] & r[rb]
        return nxt
    return tst


@semantic("not")
def _not(m, ins, env):
    r, F, ra, nxt = m.regs, m.flag_cells, ins.operands["ra"], ins.next_address

    def not_() -> int:
        v = r[ra] ^ M32
        r[ra] = v
        F[0] = v
        return nxt
    return not_


@semantic("andi", "ori", "xori", "muli")
def _logic_imm(m, ins, env):
    r, F, (ra, rb, k), nxt = m.regs, m.flag_cells, _ops(ins, "ra", "rb", "simm"), ins.next_address
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
    r, F, (ra, rb), nxt = m.regs, m.flag_cells, _ops(ins, "ra", "rb"), ins.next_address
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
    r, F, (ra, rb, k), nxt = m.regs, m.flag_cells, _ops(ins, "ra", "rb", "simm"), ins.next_address
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
    overlay = env.overlay
    if overlay is not None:
        patched, original_word = overlay.patched, overlay.original_word

        def ld_overlay() -> int:
            a = (r[rb] + k) & M32
            if a & 3 or a > eb4:
                fault(a, 4, pc, "ld")
            w = (pb + a) >> 2
            r[ra] = original_word(w << 2) if patched[w] else words[w]
            return nxt
        return ld_overlay

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
    overlay = env.overlay
    if overlay is not None:
        patched, original_byte = overlay.patched, overlay.original_byte

        def ldb_overlay() -> int:
            a = (r[rb] + k) & M32
            if a >= eb:
                fault(a, 1, pc, "ldb")
            p = pb + a
            r[ra] = original_byte(p) if patched[p >> 2] else mem[p]
            return nxt
        return ldb_overlay

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
    overlay = env.overlay
    if overlay is not None:
        patched, original_word = overlay.patched, overlay.original_word

        def pop_overlay() -> int:
            a = r[SP]
            if a & 3 or a > eb4:
                fault(a, 4, pc, "pop")
            w = (pb + a) >> 2
            v = original_word(w << 2) if patched[w] else words[w]
            r[SP] = (a + 4) & M32
            r[ra] = v
            return nxt
        return pop_overlay

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
    overlay = env.overlay
    if overlay is not None:
        patched, original_word = overlay.patched, overlay.original_word

        def ret_overlay() -> int:
            a = r[SP]
            if a & 3 or a > eb4:
                fault(a, 4, pc, "ret")
            w = (pb + a) >> 2
            t = original_word(w << 2) if patched[w] else words[w]
            r[SP] = (a + 4) & M32
            return t
        return ret_overlay

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
        F, t, n = m.flag_cells, ins.target, ins.next_address
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
        set_flag_cells(m.flag_cells, status >> FLAGS_SHIFT & 0xF)
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
        r[ra] = m.countdown
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
        m.arm_countdown(r[ra], skip_current=True)
        m.timer_pending = False
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
            m.console_out(r[ra] & 0xFF)
        return nxt
    return out


@semantic("jrstu", system=True)
def _jrstu(m, ins, env):
    target = ins.target

    def jrstu() -> int:
        m.user = True
        return target
    return jrstu


def privileged_guard(m: "PgmMachine", real: Handler, ins: Instruction) -> Handler:
    """Wrap a handler with the user-mode check of an instruction that traps there."""
    cause, pc, name = m.cause["privileged"], ins.address, ins.name

    def privileged() -> int:
        if m.user:
            raise TrapSignal(cause, pc, pc, 0, name)
        return real()
    return privileged


def privileged_entry(m: "PgmMachine", ins: Instruction) -> Handler:
    """The hot-loop entry of an instruction that traps in user mode: in user mode it traps
    right there (a fault changes nothing, so no exact state is needed); in supervisor mode
    it leaves the hot loop for the exact path, as every system instruction does."""
    cause, pc, name = m.cause["privileged"], ins.address, ins.name

    def privileged_fast() -> int:
        if m.priv:
            raise TrapSignal(cause, pc, pc, 0, name)
        raise SyncSignal(pc)
    return privileged_fast

