"""Every CSR's access rules per mode, its WARL fields and views, and the counters."""

from __future__ import annotations

import pytest

from hybridvmm.isas.riscv.constants import ILLEGAL, MACHINE, MPP, SUPERVISOR, TVM, USER
from hybridvmm.isas.riscv.machine import RiscvMachine

from rvrig import CODE

NAMES = {c.name: n for n, c in RiscvMachine().csr.table.items()}
PRIVS = (USER, SUPERVISOR, MACHINE)
COUNTERS = {"cycle", "time", "instret", "cycleh", "timeh", "instreth"} | {f"hpmcounter{n}" for n in range(3, 32)} \
    | {f"hpmcounter{n}h" for n in range(3, 32)}


def csrr(t, name, priv, **kw):
    return t.exec("csrrs", rd=5, csr=NAMES[name], rs1=0, priv=priv, **kw)


def csrw(t, name, priv, value=0, **kw):
    return t.exec("csrrw", rd=0, csr=NAMES[name], rs1=6, priv=priv, x={6: value}, **kw)


@pytest.mark.parametrize("name", sorted(NAMES))
@pytest.mark.parametrize("priv", PRIVS)
def test_read_access_follows_the_number_and_the_counter_enables(rig, name, priv):
    t = rig()
    number = NAMES[name]
    allowed = priv >= (number >> 8 & 3)
    res = csrr(t, name, priv, csrs={"mcounteren": 0xFFFFFFFF, "scounteren": 0xFFFFFFFF})
    assert (res.trap is None) == allowed, (name, priv)
    if not allowed:
        assert res.trap.cause == ILLEGAL


@pytest.mark.parametrize("name", sorted(NAMES))
def test_writes_to_read_only_numbers_are_illegal_even_in_m_mode(rig, name):
    t = rig()
    res = csrw(t, name, MACHINE)
    read_only = NAMES[name] >> 10 == 3 or name == "tinfo"
    assert (res.trap is not None) == read_only
    if read_only:                                   # ...but csrrs/csrrc with x0 only read
        assert t.exec("csrrc", rd=5, csr=NAMES[name], rs1=0).trap is None


@pytest.mark.parametrize("number", [0x744, 0x200, 0x7B0, 0x5C0, 0xDA0, 0xFFF])
def test_unimplemented_csrs_are_illegal_with_the_instruction_as_tval(rig, number):
    t = rig()
    res = t.exec("csrrs", rd=5, csr=number, rs1=0)
    assert res.trap.cause == ILLEGAL and res.trap.code == int.from_bytes(t.enc("csrrs", rd=5, csr=number, rs1=0), "little")
    assert t.m.pc == CODE


@pytest.mark.parametrize("name", ["cycle", "time", "instret", "hpmcounter3", "cycleh", "instreth"])
def test_counters_below_m_need_mcounteren_and_in_u_also_scounteren(rig, name):
    t = rig()
    bit = 1 << (NAMES[name] & 0x1F)
    assert csrr(t, name, SUPERVISOR).trap is not None
    assert csrr(t, name, SUPERVISOR, csrs={"mcounteren": bit}).trap is None
    assert csrr(t, name, USER, csrs={"mcounteren": bit, "scounteren": 0}).trap is not None
    assert csrr(t, name, USER, csrs={"mcounteren": bit, "scounteren": bit}).trap is None
    assert csrr(t, name, USER, csrs={"mcounteren": 0, "scounteren": bit}).trap is not None
    assert csrr(t, name, MACHINE, csrs={"mcounteren": 0, "scounteren": 0}).trap is None


def test_satp_traps_in_s_mode_under_tvm(rig):
    t = rig()
    assert csrr(t, "satp", SUPERVISOR, csrs={"mstatus": TVM}).trap.cause == ILLEGAL
    assert csrr(t, "satp", SUPERVISOR, csrs={"mstatus": 0}).trap is None
    assert csrr(t, "satp", MACHINE, csrs={"mstatus": TVM}).trap is None


def test_sstatus_is_a_view_of_mstatus(rig):
    t = rig()
    t.m.set_csr("mstatus", 0xFFFFFFFF)
    assert t.m.get_csr("sstatus") == 0x000C0122                       # SIE SPIE SPP SUM MXR
    t.m.set_csr("sstatus", 0)
    assert t.m.get_csr("mstatus") == 0x007E19AA & ~0x000C0122


def test_mstatus_keeps_only_implemented_fields_and_legalises_mpp(rig):
    t = rig()
    t.m.set_csr("mstatus", 0xFFFFFFFF)
    assert t.m.get_csr("mstatus") == 0x007E19AA                       # no FS/VS/XS/SD/UBE
    t.m.set_csr("mstatus", 2 << 11)                                     # MPP = 2 (no H): reads U
    assert t.m.get_csr("mstatus") & MPP == 0


def test_sie_and_sip_show_only_delegated_interrupts(rig):
    t = rig()
    m = t.m
    m.set_csr("mie", 0xAAA)
    assert m.get_csr("sie") == 0
    m.set_csr("mideleg", 0xFFFFFFFF)
    assert m.get_csr("mideleg") == 0x222 and m.get_csr("sie") == 0x222
    m.set_csr("sie", 0)
    assert m.get_csr("mie") == 0x888
    m.set_csr("mip", 0xFFFFFFFF)
    assert m.get_csr("mip") == 0x222 and m.get_csr("sip") == 0x222   # MSIP/MTIP/MEIP are not writable
    m.set_csr("sip", 0)
    assert m.get_csr("mip") == 0x220                                    # only SSIP is writable through sip


@pytest.mark.parametrize("name", ["mtvec", "stvec"])
def test_trap_vectors_are_direct_or_vectored(rig, name):
    t = rig()
    t.m.set_csr(name, 0x80000101)
    assert t.m.get_csr(name) == 0x80000101
    t.m.set_csr(name, 0x80000202)                                       # reserved MODE: ignored
    assert t.m.get_csr(name) == 0x80000101


@pytest.mark.parametrize("name", ["mepc", "sepc"])
def test_epc_bits_1_0_are_zero(rig, name):
    t = rig()
    t.m.set_csr(name, 0x80000007)
    assert t.m.get_csr(name) == 0x80000004


def test_machine_information_registers(rig):
    m = rig().m
    assert m.get_csr("misa") == 0x40141101                              # RV32 A I M S U
    assert [m.get_csr(n) for n in ("mvendorid", "marchid", "mimpid", "mhartid", "mconfigptr")] == [0] * 5
    m.set_csr("misa", 0)
    assert m.get_csr("misa") == 0x40141101


def test_medeleg_cannot_delegate_ecall_from_m(rig):
    m = rig().m
    m.set_csr("medeleg", 0xFFFFFFFF)
    assert m.get_csr("medeleg") == 0xB3FF


def test_scratch_cause_tval_hold_any_value(rig):
    m = rig().m
    for name in ("mscratch", "sscratch", "mcause", "scause", "mtval", "stval"):
        m.set_csr(name, 0xDEADBEEF)
        assert m.get_csr(name) == 0xDEADBEEF


def test_envcfg_keeps_only_fiom(rig):
    m = rig().m
    m.set_csr("menvcfg", 0xFFFFFFFF)
    m.set_csr("senvcfg", 0xFFFFFFFF)
    assert (m.get_csr("menvcfg"), m.get_csr("senvcfg"), m.get_csr("menvcfgh")) == (1, 1, 0)


def test_csr_instructions_read_old_write_new(rig):
    t = rig()
    t.exec("csrrw", rd=5, csr=NAMES["mscratch"], rs1=6, x={6: 0xF0})
    t.exec("csrrs", rd=5, csr=NAMES["mscratch"], rs1=6, x={6: 0x0F})
    assert t.x[5] == 0xF0 and t.m.get_csr("mscratch") == 0xFF
    t.exec("csrrc", rd=5, csr=NAMES["mscratch"], rs1=6, x={6: 0x3C})
    assert t.x[5] == 0xFF and t.m.get_csr("mscratch") == 0xC3
    t.exec("csrrwi", rd=5, csr=NAMES["mscratch"], zimm=31)
    t.exec("csrrsi", rd=5, csr=NAMES["mscratch"], zimm=0x20 >> 1)
    t.exec("csrrci", rd=6, csr=NAMES["mscratch"], zimm=1)
    assert t.x[6] == 31 and t.m.get_csr("mscratch") == 30


def test_csrrw_with_rd_equal_to_rs1_swaps(rig):
    t = rig()
    t.m.set_csr("mscratch", 7)
    t.exec("csrrw", rd=6, csr=NAMES["mscratch"], rs1=6, x={6: 9})
    assert t.x[6] == 7 and t.m.get_csr("mscratch") == 9


def test_minstret_counts_retired_instructions_and_a_write_takes_effect_after_it(rig):
    t = rig()
    t.exec("csrrwi", rd=0, csr=NAMES["minstret"], zimm=0)
    t.exec("csrrs", rd=5, csr=NAMES["minstret"], rs1=0)
    assert t.x[5] == 0
    t.exec("addi", rd=0, rs1=0, imm_i=0)
    t.exec("csrrs", rd=5, csr=NAMES["instret"], rs1=0)
    assert t.x[5] == 2
    t.exec("csrrs", rd=5, csr=NAMES["cycle"], rs1=0)
    assert t.x[5] == t.m.csr.counter(0) - 1


def test_minstret_carries_into_minstreth(rig):
    t = rig()
    t.exec("csrrw", rd=0, csr=NAMES["minstret"], rs1=6, x={6: 0xFFFFFFFF})
    t.exec("csrrs", rd=5, csr=NAMES["minstreth"], rs1=0)       # reads 0xFFFFFFFF's high half, then retires
    t.exec("csrrs", rd=6, csr=NAMES["minstret"], rs1=0)
    t.exec("csrrs", rd=7, csr=NAMES["minstreth"], rs1=0)
    assert (t.x[5], t.x[6], t.x[7]) == (0, 0, 1)


def test_mcountinhibit_freezes_minstret(rig):
    t = rig()
    t.exec("csrrwi", rd=0, csr=NAMES["mcountinhibit"], zimm=4)
    before = t.m.csr.counter(2)
    for _ in range(3):
        t.exec("addi", rd=0, rs1=0, imm_i=0)
    assert t.m.csr.counter(2) == before and t.m.get_csr("mcountinhibit") == 4
    t.exec("csrrwi", rd=0, csr=NAMES["mcountinhibit"], zimm=7)
    assert t.m.get_csr("mcountinhibit") == 5                              # TM cannot be inhibited


def test_pmp_registers(rig):
    m = rig(pmp=False).m
    m.set_csr("pmpaddr3", 0xFFFFFFFF)
    m.set_csr("pmpcfg0", 0xFF7F_3F1F)
    assert m.get_csr("pmpaddr3") == 0xFFFFFFFF
    assert m.get_csr("pmpcfg0") == 0x9F1F_1F1F                          # bits 6:5 reserved
    m.set_csr("pmpaddr3", 0)                                            # entry 3 is locked
    assert m.get_csr("pmpaddr3") == 0xFFFFFFFF
    m.set_csr("pmpcfg1", 0x02)                                          # W without R: W dropped
    assert m.get_csr("pmpcfg1") == 0
    assert m.get_csr("pmpaddr16") == 0


def test_without_pmp_entries_every_pmp_register_is_warl_zero(rig):
    t = rig(pmp=False, pmp_entries=0)
    t.m.set_csr("pmpaddr0", 0xFFFFFFFF)
    t.m.set_csr("pmpcfg0", 0x1F)
    assert t.m.get_csr("pmpaddr0") == 0 and t.m.get_csr("pmpcfg0") == 0
    assert t.exec("addi", rd=5, rs1=0, imm_i=1, priv=USER).completed      # and S/U are not restricted
