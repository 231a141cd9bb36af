"""The PLIC, register by register: priorities, pending, per-context enables and thresholds,
claim/complete, QEMU's gateway (a signalled level, masked while claimed), and its two
outputs into the hart — MEIP, and SEIP OR-ed with the software-writable bit — with an
S-mode guest that takes its interrupt as cause 9, bare and under every monitor mode."""

from __future__ import annotations

import pytest

from devrig import machine
from hybridvmm.asm import assemble
from hybridvmm.isas.riscv.constants import MEI, SEI
from hybridvmm.isas.riscv.machine import RiscvMachine
from hybridvmm.machine.console import ConsoleInput
from hybridvmm.vmm import COMPARE_MODES
from hybridvmm.vmm.compare import compare_images

PLIC = 0x0C00_0000
PENDING, ENABLE0, ENABLE1 = PLIC + 0x1000, PLIC + 0x2000, PLIC + 0x2080
THRESHOLD0, CLAIM0 = PLIC + 0x20_0000, PLIC + 0x20_0004
THRESHOLD1, CLAIM1 = PLIC + 0x20_1000, PLIC + 0x20_1004


@pytest.fixture
def m():
    return RiscvMachine("rv32", 0x10000)


def rd(m, address, size=4):
    return m.bus.read(address, size)


def wr(m, address, value, size=4):
    return m.bus.write(address, size, value)


def mip(m, bit):
    return m.csr.mip >> bit & 1


def test_priorities_are_three_bits_and_source_0_does_not_exist(m):
    wr(m, PLIC + 4 * 10, 0xF)
    wr(m, PLIC, 5)
    assert rd(m, PLIC + 4 * 10) == 7 and rd(m, PLIC) == 0
    wr(m, PLIC + 4 * 95, 9)
    assert rd(m, PLIC + 4 * 95) == 1


def test_pending_follows_the_signalled_level_and_ignores_writes(m):
    m.plic.signal(10, True)
    m.plic.signal(33, True)
    assert rd(m, PENDING) == 1 << 10 and rd(m, PENDING + 4) == 1 << 1
    wr(m, PENDING, 0)
    assert rd(m, PENDING) == 1 << 10
    m.plic.signal(10, False)
    assert rd(m, PENDING) == 0


def test_enables_per_context_without_source_0(m):
    wr(m, ENABLE0, 0xFFFF_FFFF)
    wr(m, ENABLE1 + 4, 0x2)
    assert rd(m, ENABLE0) == 0xFFFF_FFFE and rd(m, ENABLE0 + 4) == 0
    assert rd(m, ENABLE1) == 0 and rd(m, ENABLE1 + 4) == 2


def test_only_word_accesses_inside_and_zero_elsewhere(m):
    assert rd(m, PLIC + 4 * 10, 1) is None and rd(m, PLIC + 4 * 10, 8) is None and rd(m, PLIC + 2) is None
    assert not wr(m, PLIC + 4 * 10, 1, 2)
    assert rd(m, PLIC + 0x20_2000) == 0 and wr(m, PLIC + 0x20_2000, 1)   # a third context: none here
    assert rd(m, PLIC + 0x5F_FFFC) == 0 and m.bus.read(PLIC + 0x60_0000, 4) is None


def setup_sources(m, ctx_enable, threshold, *prios):
    for irq, prio in prios:
        wr(m, PLIC + 4 * irq, prio)
    wr(m, ctx_enable, sum(1 << irq for irq, _ in prios))
    wr(m, threshold, 0)


def test_claim_takes_the_highest_priority_then_the_lowest_id(m):
    setup_sources(m, ENABLE0, THRESHOLD0, (1, 1), (10, 1), (7, 3))
    for irq in (10, 1, 7):
        m.plic.signal(irq, True)
    assert rd(m, CLAIM0) == 7
    assert rd(m, CLAIM0) == 1                      # the tie of 1 and 10: the lower id
    assert rd(m, CLAIM0) == 10
    assert rd(m, CLAIM0) == 0 and rd(m, PENDING) == 0


def test_the_threshold_masks_priorities_at_or_below_it(m):
    setup_sources(m, ENABLE0, THRESHOLD0, (10, 2))
    m.plic.signal(10, True)
    wr(m, THRESHOLD0, 2)
    assert rd(m, THRESHOLD0) == 2 and not mip(m, MEI) and rd(m, CLAIM0) == 0
    wr(m, THRESHOLD0, 9)
    assert rd(m, THRESHOLD0) == 1 and mip(m, MEI)
    wr(m, PLIC + 4 * 10, 0)                        # priority 0: never
    assert not mip(m, MEI)


def test_a_claimed_source_waits_for_its_completion(m):
    setup_sources(m, ENABLE0, THRESHOLD0, (10, 1))
    m.plic.signal(10, True)
    assert mip(m, MEI) and rd(m, CLAIM0) == 10
    assert not mip(m, MEI) and rd(m, PENDING) == 0
    m.plic.signal(10, True)                        # signalled again while in service
    assert rd(m, PENDING) == 1 << 10 and not mip(m, MEI) and rd(m, CLAIM0) == 0
    wr(m, CLAIM0, 10)                              # complete
    assert mip(m, MEI) and rd(m, CLAIM0) == 10


def test_a_completion_does_not_resample_a_line_still_high(m):
    """QEMU's gateway: the pending bit is what the device last signalled, and a claim clears
    it; a UART whose transmitter stays empty asks once per character, not forever."""
    setup_sources(m, ENABLE0, THRESHOLD0, (10, 1))
    m.plic.signal(10, True)
    assert rd(m, CLAIM0) == 10
    wr(m, CLAIM0, 10)
    assert not mip(m, MEI) and rd(m, CLAIM0) == 0


def test_contexts_drive_meip_and_seip(m):
    setup_sources(m, ENABLE1, THRESHOLD1, (1, 1))
    m.plic.signal(1, True)
    assert mip(m, SEI) and not mip(m, MEI) and m.get_csr("sip") >> SEI & 1 == 0   # sip shows it once delegated
    m.set_csr("mideleg", 1 << SEI)
    assert m.get_csr("sip") >> SEI & 1
    assert rd(m, CLAIM0) == 0 and rd(m, CLAIM1) == 1 and not mip(m, SEI)
    m.set_csr("mip", 1 << MEI)                     # MEIP is not software's
    assert not mip(m, MEI)


def test_seip_is_the_software_bit_or_the_plic(m):
    setup_sources(m, ENABLE1, THRESHOLD1, (1, 1))
    m.plic.signal(1, True)
    m.csr.table[0x344].write(m.get_csr("mip") | 1 << 1)   # csrs mip, SSIP: the line is not latched
    assert mip(m, SEI) and mip(m, 1)
    m.plic.signal(1, False)
    assert not mip(m, SEI)
    m.set_csr("mip", 1 << SEI)                     # the software bit alone
    assert mip(m, SEI)
    m.plic.signal(1, True)
    m.plic.signal(1, False)
    assert mip(m, SEI)                             # the line going away leaves the software bit
    m.set_csr("mip", 0)
    assert not mip(m, SEI)


def test_state_round_trips_through_a_snapshot(m):
    setup_sources(m, ENABLE1, THRESHOLD1, (3, 2))
    m.set_csr("mip", 1 << SEI)
    m.plic.signal(3, True)
    snap = m.snapshot()
    assert rd(m, CLAIM1) == 3
    m.restore(snap)
    assert rd(m, PENDING) == 1 << 3 and m.plic.lines.seip_soft == 1 and rd(m, CLAIM1) == 3


S_MODE = """
        .org 0x80000000
        .entry _start
_start:
        li    t0, -1                      # PMP: everything for S
        csrw  pmpaddr0, t0
        li    t0, 0x1f
        csrw  pmpcfg0, t0
        li    t0, 1 << 9                  # delegate the supervisor external interrupt
        csrw  mideleg, t0
        la    t0, m_trap
        csrw  mtvec, t0
        li    t0, 0x800                   # MPP = S
        csrs  mstatus, t0
        la    t0, s_main
        csrw  mepc, t0
        mret
m_trap:
        li    t0, 0x100000
        li    t1, 0x23333
        sw    t1, 0(t0)
        j     m_trap
s_main:
        la    t0, s_trap
        csrw  stvec, t0
        li    s0, 0x10000000
        li    t0, 1
        sb    t0, 1(s0)                   # UART IER: received data
        li    t1, 0x0c000000
        sw    t0, 40(t1)                  # source 10: priority 1
        li    t1, 0x0c002080              # context 1 = S-mode
        li    t0, 1 << 10
        sw    t0, 0(t1)
        li    t0, 1 << 9
        csrs  sie, t0
        csrsi sstatus, 2
spin:
        j     spin
s_trap:
        csrr  t0, scause
        li    t1, 0x80000009
        bne   t0, t1, m_trap
        li    t1, 0x0c201004
        lw    t2, 0(t1)                   # claim
1:      lbu   t0, 5(s0)
        andi  t0, t0, 1
        beqz  t0, 2f
        lbu   t3, 0(s0)
        addi  t3, t3, 1                   # print the byte after it
        sb    t3, 0(s0)
        li    t4, '!'+1
        bne   t3, t4, 1b
        li    t0, 0x100000
        li    t1, 0x5555
        sw    t1, 0(t0)
2:      sw    t2, 0(t1)                   # complete
        sret
"""


def test_an_s_mode_guest_takes_the_plic_interrupt_as_cause_9_in_every_mode():
    image = assemble(S_MODE, "rv32")
    m = machine(image, feed=ConsoleInput(b"HAL!", interval=50))
    assert m.run(100_000).halted and m.exit_code == 0
    assert bytes(m.console.output) == b"IBM\"" and m.stats.traps == {"s-external": 4}
    [c] = compare_images([image], list(COMPARE_MODES), "rv32", 100_000, ConsoleInput(b"HAL!", interval=50))
    assert c.bare.console == b"IBM\"" and all(row.equivalent for row in c.rows), [
        (row.mode, row.divergence.describe()) for row in c.rows if row.divergence]


def test_mip_set_directly_is_the_software_bit_while_the_line_is_low(m):
    """Regression: the classifier's probe sets ``mip`` directly between experiments; a
    software SEIP bit remembered from an earlier one came back on the next CSR write."""
    m.set_csr("mip", 1 << SEI)
    m.csr.mip = 0                                  # a probe's next state
    m.set_csr("sip", 0)
    assert not mip(m, SEI)
