"""Sv32: walks through 4 KiB pages and megapages, A/D, every fault cause, SUM/MXR/MPRV, sfence.vma."""

from __future__ import annotations

import pytest

from hybridvmm.isas.riscv.constants import (
    FETCH_PAGE, LOAD_ACCESS, LOAD_PAGE, MACHINE, MPRV, MXR, PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X,
    STORE_PAGE, SUM, SUPERVISOR, USER,
)

from rvrig import CODE, RAM

ROOT, LEAF = RAM + 0x10000, RAM + 0x11000
TARGET = RAM + 0x20000
VA = 0x00400000                           # VPN[1] = 1, VPN[0] = 0
SATP = 1 << 31 | ROOT >> 12
RWX, KERNEL = PTE_R | PTE_W | PTE_X, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D


def pte(pa: int, flags: int) -> int:
    return (pa >> 12) << 10 | flags


def paged(rig, leaf: int, *, code_user: bool = False, **kw):
    """RAM identity-mapped by a megapage (the code), VA → TARGET by a 4 KiB ``leaf``."""
    t = rig(ram=0x40000, **kw)
    t.poke(ROOT + 4 * (RAM >> 22), pte(RAM, KERNEL | (PTE_U if code_user else 0)))
    t.poke(ROOT + 4 * (VA >> 22), pte(LEAF, PTE_V))
    t.poke(LEAF + 4 * (VA >> 12 & 0x3FF), leaf)
    t.poke(TARGET, 0xCAFEF00D)
    return t


def load(t, va=VA, priv=SUPERVISOR, mstatus=0):
    return t.exec("lw", rd=5, rs1=6, imm_i=0, priv=priv, x={6: va, 5: 0}, csrs={"satp": SATP, "mstatus": mstatus})


def store(t, va=VA, priv=SUPERVISOR, mstatus=0):
    return t.exec("sw", rs1=6, rs2=7, imm_s=0, priv=priv, x={6: va, 7: 0x1234}, csrs={"satp": SATP, "mstatus": mstatus})


def leaf_word(t) -> int:
    return t.word(LEAF + 4 * (VA >> 12 & 0x3FF))


def test_a_load_walks_two_levels_and_sets_a(rig):
    t = paged(rig, pte(TARGET, PTE_V | PTE_R))
    res = load(t, VA + 0)
    assert res.completed and t.x[5] == 0xCAFEF00D
    assert leaf_word(t) & PTE_A and not leaf_word(t) & PTE_D


def test_a_store_sets_a_and_d(rig):
    t = paged(rig, pte(TARGET, PTE_V | PTE_R | PTE_W))
    assert store(t).completed and t.word(TARGET) == 0x1234
    assert leaf_word(t) & (PTE_A | PTE_D) == PTE_A | PTE_D


def test_the_page_offset_is_kept(rig):
    t = paged(rig, pte(TARGET, PTE_V | PTE_R | PTE_A))
    t.poke(TARGET + 0x7FC, 77)
    load(t, VA + 0x7FC)
    assert t.x[5] == 77


def test_without_hardware_ad_a_clear_a_or_d_is_a_page_fault(rig):
    t = paged(rig, pte(TARGET, PTE_V | PTE_R | PTE_W), hardware_ad=False)
    assert load(t).trap.cause == LOAD_PAGE
    t.poke(LEAF + 4 * (VA >> 12 & 0x3FF), pte(TARGET, PTE_V | PTE_R | PTE_W | PTE_A))
    t.m.flush_virtual()
    assert load(t).completed
    assert store(t).trap.cause == STORE_PAGE and leaf_word(t) & PTE_D == 0


@pytest.mark.parametrize("flags", [0, PTE_R, PTE_V | PTE_W, PTE_V | PTE_W | PTE_X])
def test_invalid_and_reserved_ptes_are_page_faults(rig, flags):
    t = paged(rig, pte(TARGET, flags))
    res = load(t)
    assert res.trap.cause == LOAD_PAGE and res.trap.fault_address == VA and t.x[5] == 0
    assert store(t).trap.cause == STORE_PAGE


def test_fetch_from_an_unmapped_page_is_a_fetch_page_fault(rig):
    t = paged(rig, 0)
    t.m.set_state(pc=VA, priv=SUPERVISOR, csr={"satp": SATP})
    res = t.m.step()
    assert res.trap.cause == FETCH_PAGE and res.trap.fault_address == VA and res.trap.pc == VA


def test_fetch_needs_x(rig):
    t = paged(rig, pte(TARGET, PTE_V | PTE_R | PTE_W | PTE_A))
    t.m.set_state(pc=VA, priv=SUPERVISOR, csr={"satp": SATP})
    assert t.m.step().trap.cause == FETCH_PAGE
    t.poke(LEAF + 4 * (VA >> 12 & 0x3FF), pte(TARGET, PTE_V | PTE_X | PTE_A))
    t.poke(TARGET, int.from_bytes(t.enc("addi", rd=5, rs1=0, imm_i=3), "little"))
    t.m.flush_virtual()
    t.m.set_state(pc=VA)
    assert t.m.step().completed and t.x[5] == 3


def test_store_to_a_read_only_page_is_a_store_page_fault(rig):
    t = paged(rig, pte(TARGET, PTE_V | PTE_R | PTE_A | PTE_D))
    assert store(t).trap.cause == STORE_PAGE and t.word(TARGET) == 0xCAFEF00D


def test_s_mode_needs_sum_for_user_pages(rig):
    t = paged(rig, pte(TARGET, PTE_V | PTE_R | PTE_U | PTE_A))
    assert load(t).trap.cause == LOAD_PAGE
    assert load(t, mstatus=SUM).completed and t.x[5] == 0xCAFEF00D


def test_s_mode_never_executes_user_pages_even_with_sum(rig):
    t = paged(rig, pte(TARGET, PTE_V | PTE_X | PTE_U | PTE_A))
    t.m.set_state(pc=VA, priv=SUPERVISOR, csr={"satp": SATP, "mstatus": SUM})
    assert t.m.step().trap.cause == FETCH_PAGE


def test_u_mode_cannot_touch_supervisor_pages(rig):
    t = paged(rig, pte(TARGET, PTE_V | PTE_R | PTE_A), code_user=True)
    assert load(t, priv=USER).trap.cause == LOAD_PAGE
    t.poke(LEAF + 4 * (VA >> 12 & 0x3FF), pte(TARGET, PTE_V | PTE_R | PTE_U | PTE_A))
    t.m.flush_virtual()
    assert load(t, priv=USER).completed


def test_mxr_makes_executable_pages_readable(rig):
    t = paged(rig, pte(TARGET, PTE_V | PTE_X | PTE_A))
    assert load(t).trap.cause == LOAD_PAGE
    assert load(t, mstatus=MXR).completed and t.x[5] == 0xCAFEF00D


def test_megapage_translates_22_bits_of_offset(rig):
    t = paged(rig, 0)
    t.poke(ROOT + 4 * (0xC0000000 >> 22), pte(RAM, PTE_V | PTE_R | PTE_A))
    load(t, 0xC0000000 + 0x20000)
    assert t.x[5] == 0xCAFEF00D


def test_misaligned_megapage_is_a_page_fault(rig):
    t = paged(rig, 0)
    t.poke(ROOT + 4 * (0xC0000000 >> 22), pte(RAM + 0x1000, PTE_V | PTE_R | PTE_A))
    assert load(t, 0xC0000000).trap.cause == LOAD_PAGE


def test_a_non_leaf_at_the_last_level_is_a_page_fault(rig):
    t = paged(rig, pte(LEAF, PTE_V))
    assert load(t).trap.cause == LOAD_PAGE


def test_a_page_table_outside_ram_is_an_access_fault(rig):
    t = paged(rig, 0)
    t.poke(ROOT + 4 * (VA >> 22), pte(0x1000, PTE_V))
    res = load(t)
    assert res.trap.cause == LOAD_ACCESS and res.trap.fault_address == VA


def test_the_tlb_keeps_a_translation_until_sfence_vma(rig):
    t = paged(rig, pte(TARGET, PTE_V | PTE_R | PTE_A))
    t.poke(TARGET + 0x1000, 5)
    load(t)
    t.poke(LEAF + 4 * (VA >> 12 & 0x3FF), pte(TARGET + 0x1000, PTE_V | PTE_R | PTE_A))
    t.exec("lw", rd=5, rs1=6, imm_i=0, priv=SUPERVISOR, x={6: VA})
    assert t.x[5] == 0xCAFEF00D                                 # stale, as the spec allows
    t.exec("sfence.vma", rs1=6, rs2=0, priv=SUPERVISOR, x={6: VA + 0x10})
    t.exec("lw", rd=5, rs1=6, imm_i=0, priv=SUPERVISOR, x={6: VA})
    assert t.x[5] == 5


def test_a_satp_write_drops_the_translations(rig):
    t = paged(rig, pte(TARGET, PTE_V | PTE_R | PTE_A))
    load(t)
    t.poke(LEAF + 4 * (VA >> 12 & 0x3FF), 0)
    t.exec("csrrw", rd=0, csr=0x180, rs1=6, priv=SUPERVISOR, x={6: SATP})
    assert t.exec("lw", rd=5, rs1=6, imm_i=0, priv=SUPERVISOR, x={6: VA}).trap.cause == LOAD_PAGE


def test_mprv_translates_m_mode_data_accesses_as_mpp(rig):
    t = paged(rig, pte(TARGET, PTE_V | PTE_R | PTE_A))
    assert load(t, priv=MACHINE).trap.cause == LOAD_ACCESS          # M: physical VA, not RAM
    assert load(t, priv=MACHINE, mstatus=MPRV | SUPERVISOR << 11).completed and t.x[5] == 0xCAFEF00D
    # fetches are not affected: the code at CODE still runs untranslated
    assert t.m.pc == CODE + 4


def test_bare_mode_s_and_u_use_physical_addresses(rig):
    t = rig()
    t.poke(RAM + 0x9000, 99)
    assert t.exec("lw", rd=5, rs1=6, imm_i=0, priv=USER, x={6: RAM + 0x9000}).completed and t.x[5] == 99


def test_sc_fails_after_a_remap_of_its_address(rig):
    """Regression: the reservation was a virtual address, so after lr.w and a remap of the
    same virtual page (PTE change + sfence.vma) sc.w wrote a *different* physical word and
    reported success.  It is the physical word lr.w translated now."""
    other = TARGET + 0x1000
    t = paged(rig, pte(TARGET, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D))
    t.poke(other, 0x55)
    lr = t.exec("lr.w", rd=5, rs1=6, priv=SUPERVISOR, x={6: VA}, csrs={"satp": SATP})
    assert lr.completed and t.x[5] == 0xCAFEF00D and t.m.reservation == TARGET
    t.poke(LEAF + 4 * (VA >> 12 & 0x3FF), pte(other, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D))
    t.m.flush_virtual(VA)
    sc = t.exec("sc.w", rd=8, rs1=6, rs2=7, priv=SUPERVISOR, x={6: VA, 7: 0x77}, csrs={"satp": SATP})
    assert sc.completed and t.x[8] == 1                       # failed: another physical word
    assert t.word(other) == 0x55 and t.word(TARGET) == 0xCAFEF00D and t.m.reservation is None


def test_sc_succeeds_through_another_mapping_of_the_reserved_word(rig):
    """The reservation names the physical word: sc.w through a different virtual address of
    the same word succeeds (spike's behaviour)."""
    t = paged(rig, pte(TARGET, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D))
    lr = t.exec("lr.w", rd=5, rs1=6, priv=MACHINE, x={6: TARGET})
    assert lr.completed and t.m.reservation == TARGET
    sc = t.exec("sc.w", rd=8, rs1=6, rs2=7, priv=SUPERVISOR, x={6: VA, 7: 0x77}, csrs={"satp": SATP})
    assert sc.completed and t.x[8] == 0 and t.word(TARGET) == 0x77
