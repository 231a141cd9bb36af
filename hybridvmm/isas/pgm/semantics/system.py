"""pgm's system instructions: they need the exact machine state (M, IE, R, the timer, the
console), so they run off the hot loop.  The one-line ones are rows of :data:`SYSTEM`; the
four with a decision or a storage access inside are written by hand.  An instruction that
traps in user mode is wrapped by :func:`privileged_guard` (the machine does it when it
translates one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hybridvmm.isa import Instruction
from hybridvmm.isas.pgm.env import FLAGS_SHIFT, M32, SP, STATUS_IE, set_flag_cells
from hybridvmm.isas.pgm.semantics import define, semantic
from hybridvmm.machine.codecache import Handler
from hybridvmm.machine.traps import SyncSignal, TrapSignal

if TYPE_CHECKING:
    from hybridvmm.isas.pgm.machine import PgmMachine

SYSTEM = {  # name: (format, handler)
    "halt": ("N", "m.halted = True; return nxt"),
    "rti": ("N", "m.load_psw(*m.read_psw(m.old_psw)); return m.pc"),
    "ei": ("N", "m.ie = True; return nxt"),
    "di": ("N", "m.ie = False; return nxt"),
    "srr": ("R2", "r[ra] = m.base; r[rb] = m.bound; return nxt"),
    "rdtime": ("R1", "r[ra] = m.countdown; return nxt"),
    "setr": ("R2", "m.set_r(r[ra], r[rb]); return nxt"),
    "settimer": ("R1", "m.arm_countdown(r[ra], skip_current=True); m.timer_pending = False; return nxt"),
    "jrstu": ("J32", "m.user = True; return target"),  # a plain jump in user mode
}

for _name, (_fmt, _body) in SYSTEM.items():
    define(_name, _fmt, BODY=_body, system=True)


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


@semantic("in", system=True)
def _in(m, ins, env):
    r, ra, port, nxt = m.regs, ins.operands["ra"], ins.operands["port"], ins.next_address
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
    r, ra, port, nxt = m.regs, ins.operands["ra"], ins.operands["port"], ins.next_address
    console_out = m.ports.get("console_out")

    def out() -> int:
        if port == console_out:
            m.console_out(r[ra] & 0xFF)
        return nxt
    return out


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

