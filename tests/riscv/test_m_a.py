"""M and A extensions, one test per instruction and case, with the edge values."""

from __future__ import annotations

import pytest

from hybridvmm.isas.riscv.constants import LOAD_ACCESS, MISALIGNED_LOAD, MISALIGNED_STORE, STORE_ACCESS

from rvrig import DATA

M32 = 0xFFFFFFFF
MIN = 0x80000000

M_CASES = [
    ("mul", 3, 7, 21), ("mul", M32, M32, 1), ("mul", MIN, 2, 0), ("mul", 0x10000, 0x10000, 0),
    ("mulh", M32, M32, 0), ("mulh", MIN, MIN, 0x40000000), ("mulh", MIN, 1, M32), ("mulh", 0x7FFFFFFF, 0x7FFFFFFF, 0x3FFFFFFF),
    ("mulhsu", M32, M32, M32), ("mulhsu", MIN, M32, 0x80000000), ("mulhsu", 1, M32, 0),
    ("mulhu", M32, M32, 0xFFFFFFFE), ("mulhu", MIN, 2, 1), ("mulhu", 0x10000, 0x10000, 1),
    ("div", 20, 6, 3), ("div", (-20) & M32, 6, (-3) & M32), ("div", 20, (-6) & M32, (-3) & M32),
    ("div", 5, 0, M32), ("div", MIN, M32, MIN), ("div", (-7) & M32, 2, (-3) & M32),
    ("divu", 20, 6, 3), ("divu", M32, 2, 0x7FFFFFFF), ("divu", 5, 0, M32),
    ("rem", 20, 6, 2), ("rem", (-20) & M32, 6, (-2) & M32), ("rem", 20, (-6) & M32, 2),
    ("rem", 5, 0, 5), ("rem", MIN, M32, 0),
    ("remu", 20, 6, 2), ("remu", M32, 16, 15), ("remu", 5, 0, 5),
]


@pytest.mark.parametrize("name,a,b,expected", M_CASES)
def test_multiply_divide(rig, name, a, b, expected):
    t = rig()
    res = t.exec(name, rd=5, rs1=6, rs2=7, x={6: a, 7: b})
    assert res.completed and res.trap is None and t.x[5] == expected


AMO_CASES = [  # name, memory, rs2, new memory
    ("amoswap.w", 5, 9, 9), ("amoadd.w", M32, 2, 1), ("amoxor.w", 0xF0, 0xFF, 0x0F),
    ("amoand.w", 0xF0, 0x3C, 0x30), ("amoor.w", 0xF0, 0x0F, 0xFF),
    ("amomin.w", M32, 1, M32), ("amomin.w", 1, MIN, MIN), ("amomax.w", M32, 1, 1), ("amomax.w", MIN, 0x7FFFFFFF, 0x7FFFFFFF),
    ("amominu.w", M32, 1, 1), ("amominu.w", 0, M32, 0), ("amomaxu.w", M32, 1, M32), ("amomaxu.w", 1, 2, 2),
]


@pytest.mark.parametrize("name,memory,value,new", AMO_CASES)
@pytest.mark.parametrize("order", ["", ".aq", ".rl", ".aqrl"])
def test_amo(rig, name, memory, value, new, order):
    t = rig()
    t.poke(DATA, memory)
    res = t.exec(name + order, rd=5, rs1=6, rs2=7, x={6: DATA, 7: value})
    assert res.completed and t.x[5] == memory and t.word(DATA) == new


def test_amo_with_rd_equal_to_rs2_returns_the_old_value(rig):
    t = rig()
    t.poke(DATA, 10)
    t.exec("amoadd.w", rd=7, rs1=6, rs2=7, x={6: DATA, 7: 5})
    assert t.x[7] == 10 and t.word(DATA) == 15


def test_misaligned_amo_is_an_address_misaligned_fault_not_performed(rig):
    t = rig()
    res = t.exec("amoadd.w", rd=5, rs1=6, rs2=7, x={6: DATA + 2, 7: 1, 5: 3})
    assert res.trap.cause == MISALIGNED_STORE and res.trap.fault_address == DATA + 2 and t.x[5] == 3
    assert t.word(DATA) == 0


def test_amo_outside_ram_is_a_store_access_fault(rig):
    t = rig()
    res = t.exec("amoswap.w", rd=5, rs1=6, rs2=7, x={6: 0x10000000})
    assert res.trap.cause == STORE_ACCESS


def test_lr_sc_succeeds_on_the_reserved_address(rig):
    t = rig()
    t.poke(DATA, 41)
    t.exec("lr.w", rd=5, rs1=6, x={6: DATA})
    assert t.x[5] == 41 and t.m.reservation == DATA
    t.exec("sc.w", rd=8, rs1=6, rs2=7, x={7: 42})
    assert t.x[8] == 0 and t.word(DATA) == 42 and t.m.reservation is None


def test_sc_without_a_reservation_fails_and_stores_nothing(rig):
    t = rig()
    t.poke(DATA, 1)
    t.exec("sc.w", rd=8, rs1=6, rs2=7, x={6: DATA, 7: 2})
    assert t.x[8] == 1 and t.word(DATA) == 1


def test_sc_to_another_address_fails_and_clears_the_reservation(rig):
    t = rig()
    t.exec("lr.w", rd=5, rs1=6, x={6: DATA})
    t.exec("sc.w", rd=8, rs1=6, rs2=7, x={6: DATA + 4, 7: 2})
    assert t.x[8] == 1 and t.word(DATA + 4) == 0
    t.exec("sc.w", rd=8, rs1=6, rs2=7, x={6: DATA, 7: 2})
    assert t.x[8] == 1                                       # the failed sc.w cleared it


def test_a_trap_clears_the_reservation(rig):
    t = rig(vectors=True)
    t.m.set_csr("mtvec", DATA + 0x100)
    t.exec("lr.w", rd=5, rs1=6, x={6: DATA})
    t.exec("ecall")
    assert t.m.reservation is None


def test_misaligned_lr_and_sc_fault(rig):
    t = rig()
    assert t.exec("lr.w", rd=5, rs1=6, x={6: DATA + 1}).trap.cause == MISALIGNED_LOAD
    assert t.exec("sc.w", rd=5, rs1=6, rs2=7, x={6: DATA + 1}).trap.cause == MISALIGNED_STORE


def test_lr_outside_ram_is_a_load_access_fault(rig):
    t = rig()
    assert t.exec("lr.w", rd=5, rs1=6, x={6: 0x1000}).trap.cause == LOAD_ACCESS


def test_xlen_is_a_setting_of_the_semantics():
    """The same one-line definitions compile for RV64: only the namespace (M, S, SH, XLEN) differs."""
    from types import SimpleNamespace

    from hybridvmm.isa import Decoder, load_isa
    from hybridvmm.isas.riscv.constants import Xlen
    from hybridvmm.isas.riscv.semantics import semantics_for

    isa = load_isa("rv32")
    dec = Decoder(isa)
    hart = SimpleNamespace(x=[0] * 32)
    results = {}
    for bits in (32, 64):
        table = semantics_for(Xlen(bits))
        for name, a, b in (("add", (1 << bits) - 1, 2), ("mulhu", (1 << bits) - 1, (1 << bits) - 1), ("div", 7, 0)):
            ins = dec.instruction(isa.instructions[name], {"rd": 5, "rs1": 6, "rs2": 7}, 0x80000000)
            hart.x[6], hart.x[7] = a, b
            table[name].factory(hart, ins, None)()
            results[bits, name] = hart.x[5]
    assert results[32, "add"] == 1 and results[64, "add"] == 1
    assert results[32, "mulhu"] == 0xFFFFFFFE and results[64, "mulhu"] == (1 << 64) - 2
    assert results[32, "div"] == 0xFFFFFFFF and results[64, "div"] == (1 << 64) - 1
