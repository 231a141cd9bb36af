"""One test per ALU instruction and case: results, N Z C V, signed/unsigned edges (py65 style)."""

from __future__ import annotations

import pytest

M = 0xFFFFFFFF
N, Z, C, V = 8, 4, 2, 1
EDGES = [0, 1, 2, 0x7FFFFFFE, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFE, 0xFFFFFFFF, 0x12345678]


def signed(x: int) -> int:
    return x - (1 << 32) if x & 0x80000000 else x


def nz(res: int) -> int:
    return (N if res & 0x80000000 else 0) | (Z if res == 0 else 0)


def ref_add(a: int, b: int, cin: int = 0) -> tuple[int, int]:
    s = a + b + cin
    res = s & M
    overflow = not -(1 << 31) <= signed(a) + signed(b) + cin < (1 << 31)
    return res, nz(res) | (C if s > M else 0) | (V if overflow else 0)


def ref_sub(a: int, b: int) -> tuple[int, int]:
    res = (a - b) & M
    overflow = not -(1 << 31) <= signed(a) - signed(b) < (1 << 31)
    return res, nz(res) | (C if a >= b else 0) | (V if overflow else 0)


# --- add / adc / sub / cmp / neg ------------------------------------------------------------
@pytest.mark.parametrize("a", EDGES)
@pytest.mark.parametrize("b", EDGES)
def test_add_result_and_flags(rig, a, b):
    t = rig()
    t.exec("add", ra=1, rb=2, regs={1: a, 2: b})
    assert (t.r[1], t.m.flags) == ref_add(a, b)
    assert t.r[2] == b


@pytest.mark.parametrize("a,b,expect", [
    (0x7FFFFFFF, 1, (0x80000000, N | V)),          # signed overflow, no carry
    (0xFFFFFFFF, 1, (0, Z | C)),                    # carry, zero, no overflow
    (0x80000000, 0x80000000, (0, Z | C | V)),       # both
    (1, 2, (3, 0)),
])
def test_add_named_cases(rig, a, b, expect):
    t = rig()
    t.exec("add", ra=3, rb=4, regs={3: a, 4: b})
    assert (t.r[3], t.m.flags) == expect


def test_add_same_register_doubles(rig):
    t = rig()
    t.exec("add", ra=5, rb=5, regs={5: 0x80000001})
    assert (t.r[5], t.m.flags) == (2, C | V)


@pytest.mark.parametrize("cin", [0, 1])
@pytest.mark.parametrize("a,b", [(0xFFFFFFFF, 0), (0x7FFFFFFF, 0), (5, 7), (0xFFFFFFFF, 0xFFFFFFFF), (0x80000000, 0x7FFFFFFF)])
def test_adc_adds_carry_in(rig, a, b, cin):
    t = rig()
    t.exec("adc", ra=1, rb=2, regs={1: a, 2: b}, flags=C if cin else 0)
    assert (t.r[1], t.m.flags) == ref_add(a, b, cin)


@pytest.mark.parametrize("a", EDGES)
@pytest.mark.parametrize("b", EDGES)
def test_sub_result_and_flags_arm_carry(rig, a, b):
    t = rig()
    t.exec("sub", ra=1, rb=2, regs={1: a, 2: b})
    assert (t.r[1], t.m.flags) == ref_sub(a, b)


def test_sub_carry_means_no_borrow(rig):
    t = rig()
    t.exec("sub", ra=1, rb=2, regs={1: 5, 2: 5})
    assert t.m.flags == Z | C                      # equal: no borrow
    t.exec("sub", ra=1, rb=2, regs={1: 4, 2: 5})
    assert t.m.flags == N                          # borrow: C clear
    assert t.r[1] == 0xFFFFFFFF


@pytest.mark.parametrize("a", EDGES)
@pytest.mark.parametrize("b", [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF])
def test_cmp_sets_flags_only(rig, a, b):
    t = rig()
    t.exec("cmp", ra=1, rb=2, regs={1: a, 2: b})
    assert t.m.flags == ref_sub(a, b)[1]
    assert (t.r[1], t.r[2]) == (a, b)


@pytest.mark.parametrize("a", EDGES)
def test_neg(rig, a):
    t = rig()
    t.exec("neg", ra=6, regs={6: a})
    assert (t.r[6], t.m.flags) == ref_sub(0, a)


def test_neg_named_edges(rig):
    t = rig()
    t.exec("neg", ra=1, regs={1: 0})
    assert (t.r[1], t.m.flags) == (0, Z | C)       # 0 - 0: no borrow
    t.exec("neg", ra=1, regs={1: 0x80000000})
    assert (t.r[1], t.m.flags) == (0x80000000, N | V)


@pytest.mark.parametrize("a", [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF])
@pytest.mark.parametrize("k", [0, 1, -1, 32767, -32768])
def test_addi_sign_extends_and_sets_nzcv(rig, a, k):
    t = rig()
    t.exec("addi", ra=1, rb=2, simm=k, regs={2: a, 1: 0xDEAD})
    assert (t.r[1], t.m.flags) == ref_add(a, k & M)
    assert t.r[2] == a


@pytest.mark.parametrize("a", [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 100])
@pytest.mark.parametrize("k", [0, 1, -1, 100, 32767, -32768])
def test_cmpi(rig, a, k):
    t = rig()
    t.exec("cmpi", ra=3, simm=k, regs={3: a})
    assert t.m.flags == ref_sub(a, k & M)[1]
    assert t.r[3] == a


# --- logic: N and Z only; C and V are preserved ------------------------------------------------
LOGIC = {"and": lambda a, b: a & b, "or": lambda a, b: a | b, "xor": lambda a, b: a ^ b,
         "mul": lambda a, b: (a * b) & M}


@pytest.mark.parametrize("name", sorted(LOGIC))
@pytest.mark.parametrize("a,b", [(0xF0F0F0F0, 0x0F0F0F0F), (0xFFFFFFFF, 0x80000000), (0, 0), (0x12345678, 0x9ABCDEF0),
                                 (0x10000, 0x10000), (3, 0xFFFFFFFF)])
@pytest.mark.parametrize("cv", [0, C, V, C | V])
def test_logic_ops_nz_and_keep_cv(rig, name, a, b, cv):
    t = rig()
    t.exec(name, ra=1, rb=2, regs={1: a, 2: b}, flags=cv | N | Z)
    res = LOGIC[name](a, b)
    assert (t.r[1], t.m.flags) == (res, nz(res) | cv)


@pytest.mark.parametrize("cv", [0, C | V])
def test_tst_sets_nz_only(rig, cv):
    t = rig()
    t.exec("tst", ra=1, rb=2, regs={1: 0xF0, 2: 0x0F}, flags=cv)
    assert t.m.flags == Z | cv and t.r[1] == 0xF0
    t.exec("tst", ra=1, rb=2, regs={1: 0x80000000, 2: 0xFFFFFFFF}, flags=cv)
    assert t.m.flags == N | cv


@pytest.mark.parametrize("a", [0, 0xFFFFFFFF, 0x7FFFFFFF])
def test_not(rig, a):
    t = rig()
    t.exec("not", ra=4, regs={4: a}, flags=C)
    assert (t.r[4], t.m.flags) == (a ^ M, nz(a ^ M) | C)


@pytest.mark.parametrize("name,op", [("andi", lambda a, k: a & k), ("ori", lambda a, k: a | k),
                                     ("xori", lambda a, k: a ^ k), ("muli", lambda a, k: (a * k) & M)])
@pytest.mark.parametrize("a", [0, 0x12345678, 0xFFFFFFFF, 0x80000000])
@pytest.mark.parametrize("k", [0, 1, -1, 0x7FFF, -32768])
def test_logic_immediates_sign_extend(rig, name, op, a, k):
    t = rig()
    t.exec(name, ra=1, rb=2, simm=k, regs={2: a}, flags=V)
    res = op(a, k & M)
    assert (t.r[1], t.m.flags) == (res, nz(res) | V)


def test_muli_negative_low_32_bits(rig):
    t = rig()
    t.exec("muli", ra=1, rb=2, simm=-3, regs={2: 7})
    assert t.r[1] == (-21) & M and t.m.flags == N


@pytest.mark.parametrize("a,b,q,r", [(7, 2, 3, 1), (0xFFFFFFFF, 16, 0x0FFFFFFF, 15), (5, 0, 0xFFFFFFFF, 5),
                                     (0, 5, 0, 0), (0x80000000, 0xFFFFFFFF, 0, 0x80000000)])
def test_divu_remu(rig, a, b, q, r):
    t = rig()
    t.exec("divu", ra=1, rb=2, regs={1: a, 2: b})
    assert (t.r[1], t.m.flags & (N | Z)) == (q, nz(q))
    t.exec("remu", ra=1, rb=2, regs={1: a, 2: b})
    assert (t.r[1], t.m.flags & (N | Z)) == (r, nz(r))


# --- shifts ------------------------------------------------------------------------------------
@pytest.mark.parametrize("a,n,res,c", [
    (1, 1, 2, 0), (0x80000000, 1, 0, 1), (0xC0000000, 1, 0x80000000, 1), (1, 31, 0x80000000, 0),
    (3, 31, 0x80000000, 1), (0x12345678, 4, 0x23456780, 1), (1, 32 + 1, 2, 0),   # count is rb & 31
])
@pytest.mark.parametrize("v", [0, V])
def test_shl_carry_is_last_bit_out(rig, a, n, res, c, v):
    t = rig()
    t.exec("shl", ra=1, rb=2, regs={1: a, 2: n}, flags=v)
    assert (t.r[1], t.m.flags) == (res, nz(res) | (C if c else 0) | v)


@pytest.mark.parametrize("a,n,res,c", [(2, 1, 1, 0), (1, 1, 0, 1), (0x80000000, 31, 1, 0), (0xFFFFFFFF, 31, 1, 1),
                                       (0x80000000, 4, 0x08000000, 0), (0x18, 4, 1, 1)])
def test_shr_logical(rig, a, n, res, c):
    t = rig()
    t.exec("shr", ra=1, rb=2, regs={1: a, 2: n})
    assert (t.r[1], t.m.flags) == (res, nz(res) | (C if c else 0))


@pytest.mark.parametrize("a,n,res,c", [(0x80000000, 4, 0xF8000000, 0), (0x80000000, 31, 0xFFFFFFFF, 0),
                                       (0xFFFFFFFF, 1, 0xFFFFFFFF, 1), (0x40000000, 30, 1, 0), (3, 1, 1, 1),
                                       (0x80000008, 4, 0xF8000000, 1)])
def test_sar_arithmetic(rig, a, n, res, c):
    t = rig()
    t.exec("sar", ra=1, rb=2, regs={1: a, 2: n})
    assert (t.r[1], t.m.flags) == (res, nz(res) | (C if c else 0))


@pytest.mark.parametrize("name", ["shl", "shr", "sar"])
@pytest.mark.parametrize("cv", [0, C, C | V])
def test_shift_by_zero_keeps_c_and_v(rig, name, cv):
    t = rig()
    t.exec(name, ra=1, rb=2, regs={1: 0x80000000, 2: 32}, flags=cv)   # 32 & 31 == 0
    assert (t.r[1], t.m.flags) == (0x80000000, N | cv)


@pytest.mark.parametrize("name,a,k,res", [("shli", 0x80000001, 1, 2), ("shri", 0x80000000, 31, 1),
                                          ("sari", 0x80000000, 31, 0xFFFFFFFF), ("sari", 0x40000000, 30, 1),
                                          ("shli", 1, 33, 2), ("shri", 0xF0, 4, 0xF)])
@pytest.mark.parametrize("cv", [0, C | V])
def test_immediate_shifts_set_nz_only(rig, name, a, k, res, cv):
    t = rig()
    t.exec(name, ra=1, rb=2, simm=k, regs={2: a}, flags=cv)
    assert (t.r[1], t.m.flags) == (res, nz(res) | cv)


# --- moves: no flags -------------------------------------------------------------------------------
def test_mov(rig):
    t = rig()
    t.exec("mov", ra=3, rb=9, regs={9: 0xCAFEBABE}, flags=Z | C)
    assert t.r[3] == 0xCAFEBABE and t.m.flags == Z | C


@pytest.mark.parametrize("k,value", [(0, 0), (5, 5), (-1, 0xFFFFFFFF), (-32768, 0xFFFF8000), (32767, 0x7FFF)])
def test_movi_sign_extends(rig, k, value):
    t = rig()
    t.exec("movi", ra=2, simm=k, flags=N)
    assert t.r[2] == value and t.m.flags == N


@pytest.mark.parametrize("k", [0, 0xFFFFFFFF, 0x80000000, 0x12345678])
def test_movl(rig, k):
    t = rig()
    res = t.exec("movl", ra=7, imm32=k)
    assert t.r[7] == k and t.m.flags == 0
    assert t.m.pc == 0x1000 + 6 and res.completed


@pytest.mark.parametrize("name,ops", [("nop", {}), ("mov", {"ra": 1, "rb": 2}), ("add", {"ra": 1, "rb": 2}),
                                      ("movi", {"ra": 1, "simm": 1}), ("movl", {"ra": 1, "imm32": 1})])
def test_pc_advances_by_length(rig, name, ops):
    t = rig()
    res = t.exec(name, **ops)
    assert res.completed and res.trap is None
    assert t.m.pc == 0x1000 + t.isa.instructions[name].length
