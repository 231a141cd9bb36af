"""Loads, stores, push/pop through R: relocation, bounds at every edge, alignment, wraparound."""

from __future__ import annotations

import pytest

M = 0xFFFFFFFF
BASE, BOUND = 0x4000, 0x2000
CODE = 0x100


def relocated(t, base=BASE, bound=BOUND):
    """Code at virtual CODE inside R = (base, bound)."""
    t.m.set_r(base, bound)
    return t


# --- every addressing form -------------------------------------------------------------------------
@pytest.mark.parametrize("rb_value,k,vaddr", [(0x100, 0, 0x100), (0x100, 8, 0x108), (0x100, -4, 0xFC),
                                              (0, 0x7FFC, 0x7FFC), (0x8000, -32768, 0), (0x10, -0x10, 0)])
def test_ld_st_base_plus_signed_offset(rig, rb_value, k, vaddr):
    t = rig(size=0x10000)
    t.exec("st", ra=1, rb=2, simm=k, regs={1: 0xA1B2C3D4, 2: rb_value}, at=0x9000)
    assert t.m.read(vaddr, 4) == bytes.fromhex("d4c3b2a1")      # little-endian
    t.exec("ld", ra=3, rb=2, simm=k, regs={2: rb_value}, at=0x9000)
    assert t.r[3] == 0xA1B2C3D4


@pytest.mark.parametrize("k", [0, 1, 3, -1])
def test_ldb_stb_any_alignment_zero_extends(rig, k):
    t = rig()
    t.exec("stb", ra=1, rb=2, simm=k, regs={1: 0x1234ABFE, 2: 0x201})
    assert t.m.read(0x201 + k, 1) == b"\xfe"
    assert t.m.read(0x201 + k - 1, 1) == b"\x00" and t.m.read(0x201 + k + 1, 1) == b"\x00"
    t.exec("ldb", ra=3, rb=2, simm=k, regs={2: 0x201, 3: M})
    assert t.r[3] == 0xFE


def test_loads_and_stores_leave_flags_alone(rig):
    t = rig()
    for name in ("st", "ld", "stb", "ldb"):
        t.exec(name, ra=1, rb=2, simm=0, regs={1: 0, 2: 0x200}, flags=0b1011)
        assert t.m.flags == 0b1011


# --- relocation and bounds at base-1, base, base+bound-1, base+bound -------------------------------------
def test_virtual_zero_is_physical_base(rig):
    t = relocated(rig())
    t.exec("st", ra=1, rb=2, simm=0, regs={1: 0x11223344, 2: 0}, at=CODE)
    assert t.m.read(BASE, 4) == bytes.fromhex("44332211")
    assert t.m.read(BASE - 4, 4) == bytes(4)


def test_last_word_inside_bound(rig):
    t = relocated(rig())
    res = t.exec("st", ra=1, rb=2, simm=0, regs={1: 0x55667788, 2: BOUND - 4}, at=CODE)
    assert res.trap is None
    assert t.m.read(BASE + BOUND - 4, 4) == bytes.fromhex("88776655")
    assert t.m.read(BASE + BOUND, 4) == bytes(4)


@pytest.mark.parametrize("name", ["ld", "st"])
@pytest.mark.parametrize("vaddr", [BOUND, BOUND + 4, M - 3, 0x80000000])
def test_word_at_or_past_bound_faults(rig, name, vaddr):
    t = relocated(rig())
    res = t.exec(name, ra=1, rb=2, simm=0, regs={1: 0x99, 2: vaddr}, at=CODE)
    assert res.trap.name == "bounds" and res.trap.fault_address == vaddr and res.trap.pc == CODE
    assert t.m.pc == CODE and t.r[1] == 0x99
    assert t.m.read(BASE + BOUND, 4) == bytes(4)


@pytest.mark.parametrize("name", ["ldb", "stb"])
def test_byte_edges(rig, name):
    t = relocated(rig())
    assert t.exec(name, ra=1, rb=2, simm=0, regs={1: 0x7F, 2: BOUND - 1}, at=CODE).trap is None   # base+bound-1
    assert t.exec(name, ra=1, rb=2, simm=0, regs={1: 0x7F, 2: 0}, at=CODE).trap is None           # base
    res = t.exec(name, ra=1, rb=2, simm=0, regs={1: 0x7F, 2: BOUND}, at=CODE)                      # base+bound
    assert res.trap.name == "bounds"
    res = t.exec(name, ra=1, rb=2, simm=-1, regs={1: 0x7F, 2: 0}, at=CODE)                         # base-1 (wraps)
    assert res.trap.name == "bounds" and res.trap.fault_address == M
    if name == "stb":
        assert t.m.read(BASE + BOUND - 1, 1) == b"\x7f" and t.m.read(BASE, 1) == b"\x7f"
        assert t.m.read(BASE - 1, 1) == b"\x00" and t.m.read(BASE + BOUND, 1) == b"\x00"


def test_word_straddling_the_bound_faults(rig):
    t = relocated(rig(), BASE, BOUND + 2)                        # bound not a multiple of 4
    res = t.exec("ld", ra=1, rb=2, simm=0, regs={2: BOUND}, at=CODE)
    assert res.trap.name == "bounds"                              # BOUND + 4 > BOUND + 2
    assert t.exec("ldb", ra=1, rb=2, simm=1, regs={2: BOUND}, at=CODE).trap is None


def test_address_arithmetic_wraps_modulo_2_32(rig):
    t = relocated(rig())
    t.m.write(BASE + 0x10, (0xABCD).to_bytes(4, "little"))
    res = t.exec("ld", ra=1, rb=2, simm=0x20, regs={2: (0x10 - 0x20) & M}, at=CODE)
    assert res.trap is None and t.r[1] == 0xABCD


def test_bound_beyond_storage_is_clipped(rig):
    t = rig(size=0x10000)
    t.m.set_r(0xF000, 0x100000)                                   # R reaches past the end of storage
    t.put(CODE, t.enc("ld", ra=1, rb=2, simm=0))
    t.m.set_state(pc=CODE, regs={2: 0x1000})                      # physical 0x10000: outside storage
    assert t.m.step().trap.name == "bounds"


@pytest.mark.parametrize("name", ["ld", "st"])
@pytest.mark.parametrize("offset", [1, 2, 3])
def test_misaligned_word_access(rig, name, offset):
    t = rig()
    res = t.exec(name, ra=1, rb=2, simm=offset, regs={1: 5, 2: 0x200})
    assert res.trap.name == "misaligned" and res.trap.fault_address == 0x200 + offset
    assert not res.completed and t.m.pc == 0x1000


def test_misaligned_is_checked_before_bounds(rig):
    t = relocated(rig())
    res = t.exec("ld", ra=1, rb=2, simm=0, regs={2: BOUND + 1}, at=CODE)
    assert res.trap.name == "misaligned"


@pytest.mark.parametrize("base", [0x4001, 0x4002, 0x4003])
def test_unaligned_base_still_serves_aligned_virtual_words(rig, base):
    t = relocated(rig(), base, BOUND)
    t.exec("st", ra=1, rb=2, simm=0, regs={1: 0x01020304, 2: 8}, at=CODE)
    assert t.m.read(base + 8, 4) == bytes.fromhex("04030201")
    t.exec("ld", ra=3, rb=2, simm=0, regs={2: 8}, at=CODE)
    assert t.r[3] == 0x01020304
    t.exec("push", ra=1, regs={1: 0xDEADBEEF, 15: 0x20}, at=CODE)
    t.exec("pop", ra=4, at=CODE)
    assert t.r[4] == 0xDEADBEEF and t.r[15] == 0x20
    assert t.exec("ld", ra=3, rb=2, simm=2, regs={2: 8}, at=CODE).trap.name == "misaligned"


# --- push / pop ------------------------------------------------------------------------------------------
def test_push_pop(rig):
    t = relocated(rig())
    t.exec("push", ra=3, regs={3: 0xFEEDF00D, 15: BOUND}, at=CODE)
    assert t.r[15] == BOUND - 4 and t.m.read(BASE + BOUND - 4, 4) == (0xFEEDF00D).to_bytes(4, "little")
    t.exec("pop", ra=5, at=CODE)
    assert t.r[5] == 0xFEEDF00D and t.r[15] == BOUND


def test_push_sp_pushes_old_value_pop_sp_loads(rig):
    t = rig()
    t.exec("push", ra=15, regs={15: 0x800})
    assert t.r[15] == 0x7FC and t.m.read(0x7FC, 4) == (0x800).to_bytes(4, "little")
    t.m.write(0x7FC, (0x1234).to_bytes(4, "little"))
    t.exec("pop", ra=15)
    assert t.r[15] == 0x1234


@pytest.mark.parametrize("sp,cause", [(0, "bounds"), (2, "misaligned"), (BOUND + 4, "bounds")])
def test_push_fault_changes_nothing(rig, sp, cause):
    t = relocated(rig())
    res = t.exec("push", ra=1, regs={1: 7, 15: sp}, at=CODE)
    assert res.trap.name == cause and t.r[15] == sp and t.m.pc == CODE


@pytest.mark.parametrize("sp,cause", [(BOUND, "bounds"), (BOUND - 2, "misaligned"), (M - 1, "misaligned"), (M - 3, "bounds")])
def test_pop_fault_changes_nothing(rig, sp, cause):
    t = relocated(rig())
    res = t.exec("pop", ra=1, regs={1: 7, 15: sp}, at=CODE)
    assert res.trap.name == cause and (t.r[1], t.r[15]) == (7, sp)


def test_pop_wraps_sp(rig):
    t = rig()
    t.m.set_r(0, 0x10000)
    t.exec("pop", ra=1, regs={15: 0xFFFC})
    assert t.r[15] == 0x10000


# --- instruction fetch through R ----------------------------------------------------------------------
def test_fetch_is_relocated(rig):
    t = rig()
    t.m.set_r(BASE, BOUND)
    t.m.write(BASE + 0x40, t.enc("movi", ra=1, simm=9))
    t.m.set_state(pc=0x40)
    assert t.m.step().completed and t.r[1] == 9


@pytest.mark.parametrize("pc,cause", [(BOUND - 2, "bounds"), (BOUND, "bounds"), (M - 1, "bounds"), (0x41, "misaligned")])
def test_fetch_faults(rig, pc, cause):
    t = rig()
    t.m.set_r(BASE, BOUND)
    t.m.write(BASE + BOUND - 2, t.enc("movi", ra=1, simm=9)[:2])  # a 4-byte instruction cut by the bound
    t.m.set_state(pc=pc)
    res = t.m.step()
    assert res.trap.name == cause and res.trap.pc == pc and res.trap.fault_address == pc


def test_two_byte_instruction_at_the_last_parcel(rig):
    t = rig()
    t.m.set_r(BASE, BOUND)
    t.m.write(BASE + BOUND - 2, t.enc("nop"))
    t.m.set_state(pc=BOUND - 2)
    assert t.m.step().completed and t.m.pc == BOUND


# --- self-modifying code -------------------------------------------------------------------------------
def test_store_over_an_executed_instruction_executes_the_new_one(rig):
    t = rig()
    new = t.enc("movi", ra=1, simm=2)
    t.put(0x200, t.enc("movi", ra=1, simm=1), t.enc("movl", ra=3, imm32=int.from_bytes(new, "little")),
          t.enc("st", ra=3, rb=4, simm=0), t.enc("jmp", abs=0x200))
    t.m.set_state(pc=0x200, regs={4: 0x200})
    for _ in range(4):
        t.m.step()
    assert t.r[1] == 1 and t.m.pc == 0x200
    t.m.step()
    assert t.r[1] == 2


def test_run_loop_sees_a_store_into_the_next_instruction(rig):
    t = rig()
    # st overwrites the instruction right after it (addi r1, r1, 1 -> addi r1, r1, 100)
    patched = t.enc("addi", ra=1, rb=1, simm=100)
    end = t.put(0x200, t.enc("st", ra=3, rb=4, simm=0), t.enc("addi", ra=1, rb=1, simm=1), t.enc("halt"))
    t.m.set_state(pc=0x200, regs={3: int.from_bytes(patched, "little"), 4: 0x204})
    t.m.instruction_at(0x204)                                       # decoded before the store
    t.m.trap_handler = None
    assert t.m.run(10).halted
    assert t.r[1] == 100 and end == 0x20A


def test_byte_store_into_the_middle_of_a_six_byte_instruction(rig):
    t = rig()
    t.put(0x200, t.enc("movl", ra=1, imm32=0x11111111), t.enc("stb", ra=2, rb=3, simm=0), t.enc("jmp", abs=0x200))
    t.m.set_state(pc=0x200, regs={2: 0x22, 3: 0x205})              # the top byte of imm32
    for _ in range(3):
        t.m.step()
    t.m.step()
    assert t.r[1] == 0x22111111


def test_host_write_invalidates_too(rig):
    t = rig()
    t.exec("movi", ra=1, simm=1)
    t.m.write(0x1000, t.enc("movi", ra=1, simm=5))
    t.m.set_state(pc=0x1000)
    t.m.step()
    assert t.r[1] == 5


def test_code_marks_return_to_zero(rig):
    t = rig()
    t.exec("movl", ra=1, imm32=0)
    marks = t.m.storage.marks
    assert any(marks[w] for w in range(0x1000 >> 2, (0x1006 >> 2) + 1))
    t.m.write(0x1000, bytes(6))
    assert not any(marks[w] for w in range(0x1000 >> 2, (0x1006 >> 2) + 1))
