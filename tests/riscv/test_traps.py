"""Trap entry and return, delegation, privilege checks of system instructions, interrupts by priority."""

from __future__ import annotations

import pytest

from hybridvmm.isas.riscv.constants import (
    ECALL_S, ECALL_U, ILLEGAL, MACHINE, MEI, MIE, MPIE, MPP, MPRV, MSI, MTI, SEI, SIE, SPIE, SPP, SSI,
    STI, SUPERVISOR, TSR, TVM, TW, USER,
)

from rvrig import CODE

MTVEC, STVEC = 0x80004000, 0x80005000
IRQ = 0x80000000


def vectored_rig(rig):
    t = rig(vectors=True)
    t.m.set_csr("mtvec", MTVEC)
    t.m.set_csr("stvec", STVEC)
    return t


def test_ecall_from_u_enters_m_with_exact_state(rig):
    t = vectored_rig(rig)
    t.exec("ecall", priv=USER, csrs={"mstatus": MIE})
    m = t.m
    assert (m.pc, m.priv) == (MTVEC, MACHINE)
    assert (m.get_csr("mepc"), m.get_csr("mcause"), m.get_csr("mtval")) == (CODE, ECALL_U, 0)
    ms = m.get_csr("mstatus")
    assert ms & MPP == 0 and ms & MPIE and not ms & MIE


def test_mret_restores_privilege_and_interrupt_enable(rig):
    t = vectored_rig(rig)
    t.exec("mret", csrs={"mepc": 0x80003000, "mstatus": (SUPERVISOR << 11) | MPIE | MPRV})
    m = t.m
    assert (m.pc, m.priv) == (0x80003000, SUPERVISOR)
    ms = m.get_csr("mstatus")
    assert ms & MIE and ms & MPIE and ms & MPP == 0 and not ms & MPRV


def test_mret_to_m_keeps_mprv(rig):
    t = vectored_rig(rig)
    t.exec("mret", csrs={"mepc": 0x80003000, "mstatus": (MACHINE << 11) | MPRV})
    assert t.m.priv == MACHINE and t.m.get_csr("mstatus") & MPRV


@pytest.mark.parametrize("priv,cause", [(USER, ECALL_U), (SUPERVISOR, ECALL_S)])
def test_delegated_exceptions_enter_s(rig, priv, cause):
    t = vectored_rig(rig)
    t.exec("ecall", priv=priv, csrs={"medeleg": 1 << cause, "mstatus": SIE})
    m = t.m
    assert (m.pc, m.priv) == (STVEC, SUPERVISOR)
    assert (m.get_csr("sepc"), m.get_csr("scause"), m.get_csr("mcause")) == (CODE, cause, 0)
    ms = m.get_csr("mstatus")
    assert bool(ms & SPP) == (priv == SUPERVISOR) and ms & SPIE and not ms & SIE


def test_delegation_never_applies_to_traps_from_m(rig):
    t = vectored_rig(rig)
    t.exec("ebreak", csrs={"medeleg": 0xFFFF})
    assert t.m.priv == MACHINE and t.m.pc == MTVEC and t.m.get_csr("mcause") == 3 and t.m.get_csr("mtval") == CODE


def test_sret_returns_to_spp(rig):
    t = vectored_rig(rig)
    t.exec("sret", priv=SUPERVISOR, csrs={"sepc": 0x80003000, "mstatus": SPIE})
    m = t.m
    assert (m.pc, m.priv) == (0x80003000, USER)
    ms = m.get_csr("mstatus")
    assert ms & SIE and ms & SPIE and not ms & SPP


def test_sret_from_m_drops_to_spp_and_clears_mprv(rig):
    t = vectored_rig(rig)
    t.exec("sret", csrs={"sepc": 0x80003000, "mstatus": SPP | MPRV})
    assert t.m.priv == SUPERVISOR and not t.m.get_csr("mstatus") & MPRV


@pytest.mark.parametrize("name,priv,mstatus,illegal", [
    ("mret", SUPERVISOR, 0, True), ("mret", USER, 0, True), ("mret", MACHINE, 0, False),
    ("sret", USER, 0, True), ("sret", SUPERVISOR, TSR, True), ("sret", SUPERVISOR, 0, False), ("sret", MACHINE, TSR, False),
    ("wfi", USER, 0, True), ("wfi", SUPERVISOR, TW, True), ("wfi", SUPERVISOR, 0, False), ("wfi", MACHINE, TW, False),
    ("sfence.vma", USER, 0, True), ("sfence.vma", SUPERVISOR, TVM, True), ("sfence.vma", SUPERVISOR, 0, False),
    ("sfence.vma", MACHINE, TVM, False),
])
def test_privilege_checks_of_system_instructions(rig, name, priv, mstatus, illegal):
    t = rig()
    ops = {"rs1": 0, "rs2": 0} if name == "sfence.vma" else {}
    res = t.exec(name, priv=priv, csrs={"mstatus": mstatus, "mepc": CODE, "sepc": CODE}, **ops)
    assert (res.trap is not None and res.trap.cause == ILLEGAL) == illegal
    if illegal:
        assert res.trap.code == int.from_bytes(t.enc(name, **ops), "little") and t.m.priv == priv


def test_wfi_completes_as_a_hint(rig):
    t = rig()
    res = t.exec("wfi")
    assert res.completed and t.m.pc == CODE + 4


# --- interrupts ------------------------------------------------------------------------------------------
def pend(t, *codes):
    """Make interrupts pending: S-level ones through mip, MSI through the CLINT, MTI/MEI directly."""
    for code in codes:
        t.m.csr.mip |= 1 << code


def test_an_enabled_interrupt_is_taken_before_the_next_instruction(rig):
    t = vectored_rig(rig)
    t.put(CODE, t.enc("addi", rd=5, rs1=0, imm_i=1))
    t.m.set_state(pc=CODE, csr={"mie": 1 << MTI, "mstatus": MIE})
    pend(t, MTI)
    t.put(MTVEC, t.enc("addi", rd=6, rs1=0, imm_i=2))
    res = t.m.step()                                  # the interrupt, then the handler's first instruction
    assert res.events[0].interrupt and res.events[0].cause == IRQ | MTI and res.events[0].pc == CODE
    assert t.m.get_csr("mepc") == CODE and t.m.get_csr("mcause") == IRQ | MTI and t.m.get_csr("mtval") == 0
    assert (t.x[5], t.x[6]) == (0, 2) and t.m.stats.timer_interrupts == 1


def test_interrupts_wait_for_mie_in_m_mode_but_not_below(rig):
    t = vectored_rig(rig)
    t.m.set_state(pc=CODE, csr={"mie": 1 << MSI})
    pend(t, MSI)
    t.m.service_interrupts()
    assert t.m.pc == CODE                                     # M-mode, MIE = 0: masked
    t.m.set_state(priv=USER)
    t.m.service_interrupts()
    assert t.m.pc == MTVEC and t.m.priv == MACHINE           # below M: always enabled


def test_vectored_mtvec_sends_interrupts_to_base_plus_4_cause(rig):
    t = vectored_rig(rig)
    t.m.set_state(pc=CODE, priv=USER, csr={"mtvec": MTVEC | 1, "mie": 1 << MTI})
    pend(t, MTI)
    t.m.service_interrupts()
    assert t.m.pc == MTVEC + 4 * MTI
    t.m.set_state(pc=CODE, priv=USER)
    t.m.csr.mip = 0
    t.exec("ecall", priv=USER)
    assert t.m.pc == MTVEC                                    # exceptions use the base


@pytest.mark.parametrize("pending,first", [
    ((MEI, MSI, MTI), MEI), ((MSI, MTI), MSI), ((MTI, SEI), MTI), ((SEI, SSI, STI), SEI), ((SSI, STI), SSI), ((STI,), STI),
])
def test_interrupt_priority(rig, pending, first):
    t = vectored_rig(rig)
    t.m.set_state(pc=CODE, priv=USER, csr={"mie": 0xAAA})
    pend(t, *pending)
    t.m.service_interrupts()
    assert t.m.get_csr("mcause") == IRQ | first


def test_delegated_interrupts_go_to_s_and_are_never_taken_in_m(rig):
    t = vectored_rig(rig)
    t.m.set_state(pc=CODE, csr={"mie": 1 << SSI, "mideleg": 1 << SSI, "mstatus": MIE | SIE})
    pend(t, SSI)
    t.m.service_interrupts()
    assert t.m.pc == CODE and t.m.priv == MACHINE
    t.m.set_state(priv=SUPERVISOR)
    t.m.service_interrupts()
    assert (t.m.pc, t.m.priv, t.m.get_csr("scause"), t.m.get_csr("sepc")) == (STVEC, SUPERVISOR, IRQ | SSI, CODE)


def test_s_mode_takes_delegated_interrupts_only_with_sie(rig):
    t = vectored_rig(rig)
    t.m.set_state(pc=CODE, priv=SUPERVISOR, csr={"mie": 1 << STI, "mideleg": 1 << STI, "mstatus": 0})
    pend(t, STI)
    t.m.service_interrupts()
    assert t.m.pc == CODE
    t.m.set_state(priv=USER)
    t.m.service_interrupts()
    assert t.m.pc == STVEC and t.m.get_csr("scause") == IRQ | STI


def test_m_level_interrupts_preempt_s_mode_regardless_of_sie(rig):
    t = vectored_rig(rig)
    t.m.set_state(pc=CODE, priv=SUPERVISOR, csr={"mie": 1 << MTI, "mstatus": 0})
    pend(t, MTI)
    t.m.service_interrupts()
    assert t.m.priv == MACHINE and t.m.get_csr("mstatus") & MPP == SUPERVISOR << 11


WFI_IDLE = """
        .org 0x80000000
        .entry start
start:
        la    t0, handler
        csrw  mtvec, t0
        li    t0, 0x200bff8
        lw    t1, 0(t0)               # mtime (low word)
        addi  t1, t1, 1000
        li    t0, 0x2004000
        sw    t1, 0(t0)               # mtimecmp = now + 1000
        sw    zero, 4(t0)
        li    t2, 0x80
        csrw  mie, t2                 # MTIE
        csrsi mstatus, 8              # MIE
idle:
        wfi
        j     idle
handler:
        csrr  s0, minstret
        csrr  s1, mcycle
        li    t0, 0x200bff8
        lw    s2, 0(t0)
        li    t0, 0x100000
        li    t1, 0x5555
        sw    t1, 0(t0)               # test finisher: pass
"""


def test_wfi_waits_for_the_timer_without_spinning(asm_machine):
    """wfi with nothing pending and the timer armed: time jumps to mtimecmp, so the
    interrupt arrives right after the first wfi, and no instruction is spent idling."""
    m = asm_machine(WFI_IDLE)
    m.run(10_000)
    assert m.halted and m.exit_code == 0
    retired, cycles, mtime = m.x[8], m.x[9], m.x[18]
    assert retired < 30 and cycles == retired + 1              # no loop around wfi ran
    assert m.idle_time > 900 and mtime == retired + 4 + m.idle_time   # time = retired + waited
    assert m.csr.mcause == 1 << 31 | 7 and m.csr.mepc == m.symbols["idle"] + 4   # right after the first wfi


def test_wfi_with_an_interrupt_pending_completes_at_once(rig):
    t = rig()
    t.m.csr.mie = 1 << 7
    t.m.csr.mip = 1 << 7
    res = t.exec("wfi")
    assert res.completed and t.m.idle_time == 0
