"""RISC-V under the monitor: what deprivileging guest M, S and U over a composed mapping must get right.

Each guest here is a few lines of firmware and kernel written to exercise one thing —
a live PTE edited without a fence, MPRV, TVM/TSR/TW, wfi, a counter read, an access past
the VM's RAM — and every one must be *exactly* equivalent to the bare machine in every
mode (console, every trap with its tval and target mode, final registers, CSRs, memory).
"""

from __future__ import annotations

import pytest

from hybridvmm.asm import assemble
from hybridvmm.guests import build_guest
from hybridvmm.isas.riscv.constants import RAM_BASE, USER
from hybridvmm.isas.riscv.pmp import R as PMP_R, W as PMP_W, X as PMP_X
from hybridvmm.vmm import Monitor
from hybridvmm.vmm.compare import compare_images

MODES = ["pure", "interpret", "hybrid", "patch", "bt"]

BOOT = """
        .org 0x80000000
        .entry _start
_start:
        la      t0, m_trap
        csrw    mtvec, t0
        li      t0, -1
        csrw    pmpaddr0, t0
        li      t0, 0x1f
        csrw    pmpcfg0, t0
"""
"""M-mode boot: a trap vector and PMP open to S and U."""

M_TRAP_PASS = """
m_trap:
        csrr    s10, mcause
        csrr    s11, mtval
        li      t0, 0x100000
        li      t1, 0x5555
        sw      t1, 0(t0)
1:      j       1b
"""
"""An M trap handler that records mcause/mtval and ends the run (test finisher: pass)."""

TO_S = """
        li      t0, 0x1800
        csrc    mstatus, t0
        li      t0, 0x800
        csrs    mstatus, t0
        la      t0, s_code
        csrw    mepc, t0
        mret
"""


def equivalent_everywhere(source: str, **kwargs) -> None:
    image = assemble(source, "rv32")
    [c] = compare_images([image], MODES, "rv32", 200_000, **kwargs)
    assert c.bare.reason == "halted", c.bare
    bad = [(r.mode, r.divergence.describe()) for r in c.rows if not r.equivalent]
    assert bad == []
    return c


def test_a_live_pte_edited_without_a_fence_is_seen_as_on_bare():
    """S maps VA → A, reads through it (a TLB fill), remaps VA → B without sfence.vma and
    reads again — the bare machine still reads A (its TLB) — then fences and reads B.  The
    host's composition shares the guest's TLB, so every mode reads what bare reads."""
    source = BOOT + """
        la      t0, s_trap
        csrw    stvec, t0
        li      t0, 0x80040000          # root table
        li      t1, 0x80041000          # leaf table for VA 0x00400000
        srli    t2, t1, 2
        ori     t2, t2, 1               # V: a pointer
        sw      t2, 4(t0)               # root[1]
        li      t2, (0x80000000 >> 2) | 0xcf   # RAM megapage: V R W X A D (not U)
        li      t3, 0x800
        add     t3, t0, t3
        sw      t2, 0(t3)               # root[512]
        li      t2, (0x80050000 >> 2) | 0xc7   # VA 0x400000 -> A: V R W A D
        sw      t2, 0(t1)
        li      t2, 0x11111111
        li      t3, 0x80050000
        sw      t2, 0(t3)               # A holds 0x11111111
        li      t2, 0x22222222
        li      t3, 0x80051000
        sw      t2, 0(t3)               # B holds 0x22222222
        li      t0, 0x80000000 | (0x80040000 >> 12)
        csrw    satp, t0
        sfence.vma
""" + TO_S + """
s_code:
        li      a0, 0x00400000
        lw      s1, 0(a0)               # through the TLB: A
        li      t1, 0x80041000
        li      t2, (0x80051000 >> 2) | 0xc7
        sw      t2, 0(t1)               # remap VA -> B, no fence
        lw      s2, 0(a0)               # still A on the bare machine: its TLB entry
        sfence.vma a0
        lw      s3, 0(a0)               # B
        ecall
s_trap:
        j       s_trap
""" + M_TRAP_PASS
    c = equivalent_everywhere(source)
    x = c.bare.state["x"]
    assert (x[9], x[18], x[19]) == (0x11111111, 0x11111111, 0x22222222)


def test_mprv_loads_take_mpp_s_translation_and_run_interpreted():
    """M sets MPRV with MPP = S: its loads translate as S's would.  The monitor interprets
    M while MPRV is set (its fetches and its loads need different mappings)."""
    source = BOOT + """
        li      t0, 0x80040000
        li      t2, (0x80000000 >> 2) | 0xcf
        li      t3, 0x800
        add     t3, t0, t3
        sw      t2, 0(t3)               # RAM megapage, identity (S)
        li      t0, 0x80000000 | (0x80040000 >> 12)
        csrw    satp, t0
        li      t0, 0x800
        csrs    mstatus, t0             # MPP = S
        li      t0, 0x20000
        csrs    mstatus, t0             # MPRV
        li      a0, 0x80000000
        lw      s1, 0(a0)               # through S's mapping (identity): the first instruction word
        li      t0, 0x20000
        csrc    mstatus, t0
        lw      s2, 0(a0)
        ecall
""" + M_TRAP_PASS
    c = equivalent_everywhere(source)
    assert c.bare.state["x"][9] == c.bare.state["x"][18] != 0
    pure = next(r for r in c.rows if r.mode == "pure")
    assert pure.run.vm.stats.interpreted_instructions > 0   # the MPRV stretch


@pytest.mark.parametrize("bit, instruction", [(0x100000, "csrw satp, zero"), (0x400000, "sret"), (0x200000, "wfi")])
def test_tvm_tsr_tw_make_a_guest_supervisor_trap_to_its_firmware(bit, instruction):
    """TVM, TSR and TW set by the guest's M-mode make the guest's S-mode satp write, sret
    and wfi illegal — delivered to guest M with the instruction as mtval."""
    source = BOOT + f"""
        li      t0, {bit}
        csrs    mstatus, t0
""" + TO_S + f"""
s_code:
        {instruction}
        j       s_code
""" + M_TRAP_PASS
    c = equivalent_everywhere(source)
    assert c.bare.state["x"][26] == 2                          # illegal instruction, in M


def test_wfi_idles_the_guest_until_its_timer_in_every_mode():
    source = (BOOT + """
        li      t0, 0x200bff8
        lw      t1, 0(t0)
        addi    t1, t1, 2000
        li      t0, 0x2004000
        sw      t1, 0(t0)
        sw      zero, 4(t0)
        li      t0, 0x80
        csrw    mie, t0
        csrsi   mstatus, 8
idle:   wfi
        j       idle
""" + M_TRAP_PASS)
    c = equivalent_everywhere(source)
    assert c.bare.instructions < 40 and c.bare.state["x"][26] == 1 << 31 | 7    # the timer, at once
    pure = next(r for r in c.rows if r.mode == "pure")
    assert sum(pure.run.vm.stats.exits.values()) < 10                          # no exit per idle loop


def test_an_access_past_the_vms_ram_is_an_access_fault_in_every_mode():
    """The window is exactly the guest's RAM: an access beyond it faults as on bare, and the
    host performed nothing there."""
    source = BOOT + TO_S + """
s_code:
        li      a0, 0x80100000          # the first byte past 1 MiB of RAM
        lw      a1, 0(a0)
        j       s_code
""" + M_TRAP_PASS
    c = equivalent_everywhere(source)
    assert c.bare.state["x"][26] == 5 and c.bare.state["x"][27] == 0x80100000     # load access fault


def test_counter_passthrough_diverges_on_the_counter_read_and_trap_does_not():
    image = build_guest("rvcounters", "rv32")
    [trap] = compare_images([image], ["pure", "hybrid"], "rv32")
    assert all(r.equivalent and r.predicted for r in trap.rows)
    [naive] = compare_images([image], ["pure", "hybrid", "interpret"], "rv32", virt_options={"counters": "passthrough"})
    rows = {r.mode: r for r in naive.rows}
    assert rows["interpret"].equivalent and rows["interpret"].predicted
    for mode in ("pure", "hybrid"):
        row = rows[mode]
        assert not row.equivalent and not row.predicted and not row.unexpected
        assert row.divergence.responsible.text == "csrrs s1,time,zero"
        assert row.divergence.responsible.label == "U-mode"


def test_several_vms_each_end_by_themselves_and_a_spinner_stops_no_one():
    """A guest spinning with interrupts off, a riscv-test that ends through HTIF and rvminios
    ending through the test finisher share the host: each ends on its own terms."""
    spinner = assemble(BOOT + "spin: j spin\n" + M_TRAP_PASS, "rv32")
    vtest = build_guest("rvcounters", "rv32")
    monitor = Monitor([spinner, build_guest("rvminios", "rv32"), vtest], "pure", max_steps=400_000, slice_length=5000)
    monitor.run()
    spin, os_, counters = monitor.vms
    assert spin.outcome.reason == "max-steps" and spin.guest_instructions == 400_000
    assert os_.outcome.reason == "halted" and os_.vcpu.exit_code == 0
    assert counters.outcome.reason == "halted" and counters.vcpu.exit_code == 0
    assert bytes(os_.console.output).endswith(b"rvminios: stopping the machine\n")
    assert monitor.escapes == []


def test_the_hosts_pmp_opens_the_windows_to_u_mode_and_nothing_else():
    monitor = Monitor([build_guest("rvcounters", "rv32")] * 2, "pure")
    pmp = monitor.host.pmp
    for offset, size in monitor.allocation.windows:
        assert all(pmp.grants(RAM_BASE + offset, RAM_BASE + offset + size, p, USER) for p in (PMP_R, PMP_W, PMP_X))
    assert not pmp.check(RAM_BASE, 4, PMP_R, USER)                      # the monitor's own area
    assert not pmp.check(0x1000_0000, 1, PMP_W, USER)                   # a device


def test_code_rewritten_under_a_paged_scan_is_scanned_afresh_in_hybrid_and_patch():
    """The kernel rewrites a page of user code that the lazy scanner scanned through the
    user's page table: the paged space's scan is dropped and made again, and every mode
    runs the new code exactly as bare does (xv6 does this on every exec)."""
    source = BOOT + """
        la      t0, s_trap
        csrw    stvec, t0
        li      t0, 0x80040000
        li      t2, (0x80000000 >> 2) | 0xcf          # RAM megapage for S (not U)
        li      t3, 0x800
        add     t3, t0, t3
        sw      t2, 0(t3)
        li      t1, 0x80041000                        # leaf table for VA 0x00400000
        srli    t2, t1, 2
        ori     t2, t2, 1
        sw      t2, 4(t0)
        li      t2, (0x80050000 >> 2) | 0xdb          # VA 0x400000 -> 0x80050000: V R X U A
        sw      t2, 0(t1)
        li      t0, 0x80000000 | (0x80040000 >> 12)
        csrw    satp, t0
        sfence.vma
        li      t0, 0x100
        csrw    medeleg, t0                           # ecall from U -> S
""" + TO_S + """
s_code:
        la      a0, user_a
        call    s_copy
        li      s4, 0
s_enter:
        csrw    sepc, zero
        li      t0, 0x00400000
        csrw    sepc, t0
        li      t0, 0x100
        csrc    sstatus, t0                           # SPP = U
        sret
s_trap:
        addi    s4, s4, 1
        li      t0, 2
        beq     s4, t0, s_done
        la      a0, user_b                            # the user's code rewritten
        call    s_copy
        sfence.vma
        j       s_enter
s_done:
        ecall                                         # to M: the end
s_copy:                                               # copy 4 words from a0 to the user page
        li      t1, 0x80050000
        lw      t2, 0(a0)
        sw      t2, 0(t1)
        lw      t2, 4(a0)
        sw      t2, 4(t1)
        lw      t2, 8(a0)
        sw      t2, 8(t1)
        lw      t2, 12(a0)
        sw      t2, 12(t1)
        ret
user_a:
        addi    s1, s1, 1
        addi    s1, s1, 2
        ecall
        nop
user_b:
        addi    s2, s2, 5
        addi    s2, s2, 7
        ecall
        nop
""" + M_TRAP_PASS
    c = equivalent_everywhere(source)
    x = c.bare.state["x"]
    assert (x[9], x[18]) == (3, 12)
