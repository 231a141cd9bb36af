"""RV32I, one test per instruction and case (py65 style), with the edge values."""

from __future__ import annotations

import pytest

from hybridvmm.isas.riscv.constants import (
    BREAKPOINT, ECALL_M, ECALL_S, ECALL_U, LOAD_ACCESS, MACHINE, MISALIGNED_FETCH, STORE_ACCESS, SUPERVISOR, USER,
)

from rvrig import CODE, DATA

M32 = 0xFFFFFFFF

R_CASES = [
    ("add", 1, 2, 3), ("add", M32, 1, 0), ("add", 0x7FFFFFFF, 1, 0x80000000), ("add", M32, M32, 0xFFFFFFFE),
    ("sub", 3, 1, 2), ("sub", 0, 1, M32), ("sub", 0x80000000, 1, 0x7FFFFFFF), ("sub", 5, 5, 0),
    ("sll", 1, 31, 0x80000000), ("sll", 1, 32, 1), ("sll", 3, 33, 6), ("sll", 0x80000001, 1, 2),
    ("slt", M32, 0, 1), ("slt", 0, M32, 0), ("slt", 0x80000000, 0x7FFFFFFF, 1), ("slt", 7, 7, 0),
    ("sltu", M32, 0, 0), ("sltu", 0, M32, 1), ("sltu", 0x7FFFFFFF, 0x80000000, 1), ("sltu", 7, 7, 0),
    ("xor", 0xF0F0F0F0, 0xFF00FF00, 0x0FF00FF0), ("xor", M32, M32, 0),
    ("srl", 0x80000000, 31, 1), ("srl", 0x80000000, 32, 0x80000000), ("srl", M32, 4, 0x0FFFFFFF),
    ("sra", 0x80000000, 31, M32), ("sra", 0x40000000, 30, 1), ("sra", 0x80000000, 32, 0x80000000), ("sra", 0xF0000000, 4, 0xFF000000),
    ("or", 0xF0F0F0F0, 0x0F0F0F0F, M32), ("or", 0, 0, 0),
    ("and", 0xF0F0F0F0, 0xFF00FF00, 0xF000F000), ("and", M32, 0, 0),
]


@pytest.mark.parametrize("name,a,b,expected", R_CASES)
def test_register_register(rig, name, a, b, expected):
    t = rig()
    res = t.exec(name, rd=5, rs1=6, rs2=7, x={6: a, 7: b})
    assert res.completed and t.x[5] == expected and t.m.pc == CODE + 4


@pytest.mark.parametrize("name", sorted({c[0] for c in R_CASES}))
def test_register_register_into_x0_changes_nothing(rig, name):
    t = rig()
    t.exec(name, rd=0, rs1=6, rs2=7, x={6: 0x12345678, 7: 3})
    assert t.x[0] == 0 and t.x[6] == 0x12345678


def test_destination_may_be_a_source(rig):
    t = rig()
    t.exec("add", rd=6, rs1=6, rs2=6, x={6: 21})
    assert t.x[6] == 42


I_CASES = [
    ("addi", 1, -1, 0), ("addi", M32, 1, 0), ("addi", 0, -2048, 0xFFFFF800), ("addi", 0x7FFFFFFF, 2047, 0x800007FE),
    ("slti", M32, 0, 1), ("slti", 0, -1, 0), ("slti", 0x80000000, -2048, 1), ("slti", 5, 5, 0),
    ("sltiu", 0, -1, 1), ("sltiu", M32, -1, 0), ("sltiu", 0, 0, 0), ("sltiu", 0, 1, 1),
    ("xori", 0x12345678, -1, 0xEDCBA987), ("xori", 0xFF, 0x0F, 0xF0),
    ("ori", 0x80000000, 1, 0x80000001), ("ori", 0, -2048, 0xFFFFF800),
    ("andi", M32, 0x7FF, 0x7FF), ("andi", 0x12345678, -16, 0x12345670),
]


@pytest.mark.parametrize("name,a,imm,expected", I_CASES)
def test_register_immediate(rig, name, a, imm, expected):
    t = rig()
    t.exec(name, rd=5, rs1=6, imm_i=imm, x={6: a})
    assert t.x[5] == expected


SHIFT_CASES = [
    ("slli", 1, 31, 0x80000000), ("slli", M32, 4, 0xFFFFFFF0), ("slli", 5, 0, 5),
    ("srli", 0x80000000, 31, 1), ("srli", M32, 28, 0xF), ("srli", 5, 0, 5),
    ("srai", 0x80000000, 31, M32), ("srai", 0x7FFFFFFF, 30, 1), ("srai", 0x80000000, 0, 0x80000000),
]


@pytest.mark.parametrize("name,a,shamt,expected", SHIFT_CASES)
def test_shift_immediate(rig, name, a, shamt, expected):
    t = rig()
    t.exec(name, rd=5, rs1=6, shamt=shamt, x={6: a})
    assert t.x[5] == expected


def test_lui_and_auipc(rig):
    t = rig()
    t.exec("lui", rd=5, imm_u=0xFFFFF)
    assert t.x[5] == 0xFFFFF000
    t.exec("auipc", rd=5, imm_u=1)
    assert t.x[5] == CODE + 0x1000
    t.exec("auipc", rd=5, imm_u=0x80000, at=CODE)             # wraps modulo 2^32
    assert t.x[5] == (CODE + 0x80000000) & M32


BRANCH_CASES = [
    ("beq", 5, 5, True), ("beq", 5, 6, False),
    ("bne", 5, 6, True), ("bne", M32, M32, False),
    ("blt", M32, 0, True), ("blt", 0, M32, False), ("blt", 0x80000000, 0x7FFFFFFF, True), ("blt", 3, 3, False),
    ("bge", 0, M32, True), ("bge", 3, 3, True), ("bge", M32, 0, False),
    ("bltu", 0, M32, True), ("bltu", M32, 0, False), ("bltu", 3, 3, False),
    ("bgeu", M32, 0, True), ("bgeu", 3, 3, True), ("bgeu", 0, 1, False),
]


@pytest.mark.parametrize("name,a,b,taken", BRANCH_CASES)
def test_branch(rig, name, a, b, taken):
    t = rig()
    t.exec(name, rs1=6, rs2=7, imm_b=-16, x={6: a, 7: b})
    assert t.m.pc == (CODE - 16 if taken else CODE + 4)


def test_taken_branch_to_a_misaligned_target_traps_on_the_branch(rig):
    t = rig()
    res = t.exec("beq", rs1=0, rs2=0, imm_b=6)
    assert not res.completed and res.trap.cause == MISALIGNED_FETCH
    assert res.trap.pc == CODE and res.trap.fault_address == CODE + 6
    t.exec("bne", rs1=0, rs2=0, imm_b=6)                     # not taken: no trap
    assert t.m.pc == CODE + 4 and len(t.traps) == 1


def test_jal_links_and_jumps(rig):
    t = rig()
    t.exec("jal", rd=1, imm_j=0x100)
    assert t.x[1] == CODE + 4 and t.m.pc == CODE + 0x100
    t.exec("jal", rd=0, imm_j=-8)
    assert t.x[0] == 0 and t.m.pc == CODE - 8


def test_jalr_clears_bit_0_and_links_after_reading_rs1(rig):
    t = rig()
    t.exec("jalr", rd=5, rs1=5, imm_i=1, x={5: CODE + 0x200})
    assert t.m.pc == CODE + 0x200 and t.x[5] == CODE + 4


def test_misaligned_jal_and_jalr_trap_without_writing_rd(rig):
    t = rig()
    res = t.exec("jalr", rd=5, rs1=6, imm_i=2, x={5: 7, 6: CODE})
    assert res.trap.cause == MISALIGNED_FETCH and res.trap.fault_address == CODE + 2 and t.x[5] == 7
    res = t.exec("jal", rd=5, imm_j=6)
    assert res.trap.cause == MISALIGNED_FETCH and res.trap.pc == CODE and t.x[5] == 7


LOAD_CASES = [  # name, stored bytes at DATA, offset, expected
    ("lb", b"\x80", 0, 0xFFFFFF80), ("lb", b"\x7f", 0, 0x7F),
    ("lbu", b"\x80", 0, 0x80),
    ("lh", b"\x00\x80", 0, 0xFFFF8000), ("lh", b"\xff\x7f", 0, 0x7FFF),
    ("lhu", b"\x00\x80", 0, 0x8000),
    ("lw", b"\x78\x56\x34\x12", 0, 0x12345678), ("lw", b"\xff\xff\xff\xff", 0, M32),
    # misaligned accesses are performed, byte by byte (as QEMU does)
    ("lw", b"\x00\x11\x22\x33\x44", 1, 0x44332211), ("lh", b"\x00\x01\x80", 1, 0xFFFF8001),
    ("lhu", b"\x00\x00\x00\x34\x12", 3, 0x1234),
]


@pytest.mark.parametrize("name,data,offset,expected", LOAD_CASES)
def test_load(rig, name, data, offset, expected):
    t = rig()
    t.m.write_physical(DATA, data)
    res = t.exec(name, rd=5, rs1=6, imm_i=offset - 8, x={6: DATA + 8})
    assert res.completed and t.x[5] == expected


def test_load_into_x0_still_faults(rig):
    t = rig()
    res = t.exec("lw", rd=0, rs1=6, imm_i=0, x={6: 0x1000})
    assert res.trap.cause == LOAD_ACCESS and res.trap.fault_address == 0x1000


@pytest.mark.parametrize("address", [0x0, 0x7FFFFFFC, 0x80010000, 0xFFFFFFFC])
def test_load_outside_ram_and_devices_is_an_access_fault(rig, address):
    t = rig(ram=0x10000)
    res = t.exec("lw", rd=5, rs1=6, imm_i=0, x={6: address, 5: 9})
    assert res.trap.cause == LOAD_ACCESS and res.trap.fault_address == address and t.x[5] == 9


STORE_CASES = [
    ("sb", 0x12345678, 0, b"\x78\x00\x00\x00"), ("sh", 0x12345678, 0, b"\x78\x56\x00\x00"),
    ("sw", 0x12345678, 0, b"\x78\x56\x34\x12"),
    ("sw", 0xAABBCCDD, 1, b"\x00\xdd\xcc\xbb\xaa"), ("sh", 0xAABBCCDD, 3, b"\x00\x00\x00\xdd\xcc"),
]


@pytest.mark.parametrize("name,value,offset,expected", STORE_CASES)
def test_store(rig, name, value, offset, expected):
    t = rig()
    t.exec(name, rs1=6, rs2=7, imm_s=offset, x={6: DATA, 7: value})
    assert t.m.read_physical(DATA, len(expected)) == expected


def test_store_outside_ram_is_an_access_fault_and_writes_nothing(rig):
    t = rig()
    res = t.exec("sw", rs1=6, rs2=7, imm_s=-4, x={6: 0x80000000, 7: 1})
    assert res.trap.cause == STORE_ACCESS and res.trap.fault_address == 0x7FFFFFFC


def test_a_store_over_decoded_code_is_seen_by_the_next_fetch(rig):
    """Self-modifying code without fence.i: the code cache is coherent with stores."""
    t = rig()
    t.put(CODE + 4, t.enc("addi", rd=5, rs1=0, imm_i=1))
    t.m.set_state(pc=CODE + 4)
    t.m.step()
    assert t.x[5] == 1
    new = int.from_bytes(t.enc("addi", rd=5, rs1=0, imm_i=2), "little")
    t.exec("sw", rs1=6, rs2=7, imm_s=4, x={6: CODE, 7: new})
    t.m.step()
    assert t.x[5] == 2


@pytest.mark.parametrize("name", ["fence", "fence.tso", "fence.i"])
def test_fences_complete(rig, name):
    t = rig()
    ops = {"pred": 15, "succ": 15} if name == "fence" else {}
    res = t.exec(name, **ops)
    assert res.completed and t.m.pc == CODE + 4


@pytest.mark.parametrize("priv,cause", [(USER, ECALL_U), (SUPERVISOR, ECALL_S), (MACHINE, ECALL_M)])
def test_ecall_cause_depends_on_the_mode_and_does_not_retire(rig, priv, cause):
    t = rig()
    res = t.exec("ecall", priv=priv)
    assert not res.completed and res.trap.cause == cause and res.trap.pc == CODE
    assert t.m.stats.instructions == 0


def test_ebreak_reports_its_own_address(rig):
    t = rig()
    res = t.exec("ebreak")
    assert res.trap.cause == BREAKPOINT and res.trap.pc == CODE and res.trap.fault_address == CODE


def test_an_undecodable_word_is_an_illegal_instruction_with_its_bits(rig):
    t = rig()
    t.put(CODE, (0xFFFFFFFF).to_bytes(4, "little"))
    t.m.set_state(pc=CODE)
    res = t.m.step()
    assert res.trap.cause == 2 and res.trap.code == 0xFFFFFFFF and res.trap.pc == CODE


def test_fetch_outside_ram_is_an_access_fault(rig):
    t = rig()
    t.m.set_state(pc=0x1000)
    res = t.m.step()
    assert res.trap.cause == 1 and res.trap.fault_address == 0x1000
