"""ecall, ebreak, mret, sret, wfi, sfence.vma and fence.i.

Privilege is checked inside each instruction, as spike's ``require_privilege``: ``mret``
needs M; ``sret`` needs S or M, and M while ``mstatus.TSR`` = 1; ``sfence.vma`` needs S or M,
and M while ``TVM`` = 1; ``wfi`` is illegal in U-mode, and below M while ``TW`` = 1.  A legal ``wfi``
idles until an interrupt is pending: with one pending already, or none that the timer can
raise, it completes at once (a legal implementation of the hint); otherwise time
(``mtime``) jumps to the next timer event and it completes there, so an idle hart neither
spins nor changes how many instructions it retires (``RiscvMachine.idle``).
``sfence.vma`` drops the translations made through page tables — every one, or with
``rs1`` ≠ x0 those of the page (the megapage) holding that address — code and TLB alike,
as spike's ``flush_tlb`` also flushes its instruction cache.  ``fence.i`` has nothing to
do: stores already drop the decoded code they overwrite, in every context.
"""

from __future__ import annotations

from hybridvmm.isas.riscv.constants import BREAKPOINT, ECALL_M, ECALL_S, ECALL_U, MACHINE, SUPERVISOR, TSR, TVM, TW, USER
from hybridvmm.isas.riscv.semantics import semantic, illegal
from hybridvmm.machine.traps import TrapSignal

ECALL_CAUSE = {USER: ECALL_U, SUPERVISOR: ECALL_S, MACHINE: ECALL_M}


@semantic("ecall")
def _ecall(m, ins, env):
    pc = ins.address

    def ecall() -> int:
        raise TrapSignal(ECALL_CAUSE[m.priv], pc, pc, 0, "ecall")
    return ecall


@semantic("ebreak")
def _ebreak(m, ins, env):
    pc = ins.address

    def ebreak() -> int:
        raise TrapSignal(BREAKPOINT, pc, pc, 0, "ebreak", pc)
    return ebreak


@semantic("mret", system=True)
def _mret(m, ins, env):
    def mret() -> int:
        if m.priv != MACHINE:
            raise illegal(ins)
        return m.trap_return(MACHINE)
    return mret


@semantic("sret", system=True)
def _sret(m, ins, env):
    def sret() -> int:
        if m.priv < SUPERVISOR or (m.priv == SUPERVISOR and m.csr.mstatus & TSR):
            raise illegal(ins)
        return m.trap_return(SUPERVISOR)
    return sret


@semantic("wfi", system=True)
def _wfi(m, ins, env):
    nxt = ins.next_address

    def wfi() -> int:
        if m.priv == USER or (m.priv < MACHINE and m.csr.mstatus & TW):
            raise illegal(ins)
        m.idle()
        return nxt
    return wfi


@semantic("sfence.vma", system=True)
def _sfence_vma(m, ins, env):
    nxt, r, rs1 = ins.next_address, m.x, ins.operands["rs1"]

    def sfence_vma() -> int:
        if m.priv == USER or (m.priv == SUPERVISOR and m.csr.mstatus & TVM):
            raise illegal(ins)
        m.flush_virtual(r[rs1] if rs1 else None)
        return nxt
    return sfence_vma


@semantic("fence.i")
def _fence_i(m, ins, env):
    # The code cache is coherent with every store (code marks drop a translation the
    # moment its bytes are written), so no decoded instruction can be stale here: the
    # synchronisation fence.i asks for already holds.
    nxt = ins.next_address

    def fence_i() -> int:
        return nxt
    return fence_i
