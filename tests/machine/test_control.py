"""Branches (every condition against cmp of signed/unsigned edge pairs), jumps, calls, returns."""

from __future__ import annotations

import pytest

M = 0xFFFFFFFF
N, Z, C, V = 8, 4, 2, 1
AT = 0x1000


def signed(x: int) -> int:
    return x - (1 << 32) if x & 0x80000000 else x


CONDITIONS = {
    "beq": lambda a, b: a == b,
    "bne": lambda a, b: a != b,
    "blt": lambda a, b: signed(a) < signed(b),
    "bge": lambda a, b: signed(a) >= signed(b),
    "bgt": lambda a, b: signed(a) > signed(b),
    "ble": lambda a, b: signed(a) <= signed(b),
    "bltu": lambda a, b: a < b,
    "bgeu": lambda a, b: a >= b,
    "bgtu": lambda a, b: a > b,
    "bleu": lambda a, b: a <= b,
    "bmi": lambda a, b: bool((a - b) & 0x80000000),
    "bpl": lambda a, b: not (a - b) & 0x80000000,
}
PAIRS = [(0, 0), (1, 2), (2, 1), (0x7FFFFFFF, 0x80000000), (0x80000000, 0x7FFFFFFF), (0xFFFFFFFF, 0),
         (0, 0xFFFFFFFF), (0x80000000, 0x80000000), (0xFFFFFFFF, 0xFFFFFFFE), (0x80000000, 1), (1, 0x80000000)]


def _cmp_then_branch(t, name, a, b, rel):
    t.exec("cmp", ra=1, rb=2, regs={1: a, 2: b})
    return t.exec(name, at=AT + 2, rel=rel)


@pytest.mark.parametrize("name", sorted(CONDITIONS))
@pytest.mark.parametrize("a,b", PAIRS)
def test_branch_after_cmp(rig, name, a, b):
    t = rig()
    _cmp_then_branch(t, name, a, b, rel=0x40)
    taken = CONDITIONS[name](a, b)
    assert t.m.pc == (AT + 2 + 0x40 if taken else AT + 2 + 4)


# Conditions straight from the flag bits (popf / PSW loads can produce any combination).
FLAG_CONDITIONS = {
    "beq": lambda n, z, c, v: z, "bne": lambda n, z, c, v: not z,
    "blt": lambda n, z, c, v: n != v, "bge": lambda n, z, c, v: n == v,
    "bgt": lambda n, z, c, v: not z and n == v, "ble": lambda n, z, c, v: z or n != v,
    "bltu": lambda n, z, c, v: not c, "bgeu": lambda n, z, c, v: c,
    "bgtu": lambda n, z, c, v: c and not z, "bleu": lambda n, z, c, v: not c or z,
    "bmi": lambda n, z, c, v: n, "bpl": lambda n, z, c, v: not n,
}


@pytest.mark.parametrize("name", sorted(FLAG_CONDITIONS))
@pytest.mark.parametrize("nzcv", range(16))
def test_branch_on_every_flag_combination(rig, name, nzcv):
    t = rig()
    t.exec(name, rel=-8, flags=nzcv)
    n, z, c, v = (bool(nzcv & bit) for bit in (N, Z, C, V))
    assert t.m.pc == (AT - 8 if FLAG_CONDITIONS[name](n, z, c, v) else AT + 4)
    assert t.m.flags == nzcv


def test_flags_round_trip_every_combination(rig):
    t = rig()
    for nzcv in range(16):
        t.m.flags = nzcv
        assert t.m.flags == nzcv


def test_br_relative_to_the_branch_itself(rig):
    t = rig()
    t.exec("br", rel=-0x10)
    assert t.m.pc == AT - 0x10
    t.exec("br", rel=0)
    assert t.m.pc == AT                              # a branch to itself


def test_jmp_absolute(rig):
    t = rig()
    t.exec("jmp", abs=0x2468)
    assert t.m.pc == 0x2468


def test_jmpr(rig):
    t = rig()
    t.exec("jmpr", ra=3, regs={3: 0x3000})
    assert t.m.pc == 0x3000


def test_call_pushes_return_address(rig):
    t = rig()
    t.exec("call", abs=0x3000, regs={15: 0x8000})
    assert t.m.pc == 0x3000 and t.r[15] == 0x7FFC
    assert t.m.read_virtual(0x7FFC, 4) == (AT + 6).to_bytes(4, "little")


def test_callrel(rig):
    t = rig()
    t.exec("callrel", rel=0x100, regs={15: 0x8000})
    assert t.m.pc == AT + 0x100 and t.r[15] == 0x7FFC
    assert t.m.read_virtual(0x7FFC, 4) == (AT + 4).to_bytes(4, "little")


def test_callr_through_sp_uses_old_value(rig):
    t = rig()
    t.exec("callr", ra=15, regs={15: 0x8000})
    assert t.m.pc == 0x8000 and t.r[15] == 0x7FFC
    assert t.m.read_virtual(0x7FFC, 4) == (AT + 2).to_bytes(4, "little")


def test_ret_pops(rig):
    t = rig()
    t.m.write_virtual(0x7FFC, (0x4444).to_bytes(4, "little"))
    t.exec("ret", regs={15: 0x7FFC})
    assert t.m.pc == 0x4444 and t.r[15] == 0x8000


def test_call_then_ret_round_trip(rig):
    t = rig()
    t.put(0x3000, t.enc("ret"))
    t.exec("call", abs=0x3000, regs={15: 0x8000})
    t.m.step()
    assert t.m.pc == AT + 6 and t.r[15] == 0x8000


def test_call_with_bad_stack_faults_and_changes_nothing(rig):
    t = rig()
    res = t.exec("call", abs=0x3000, regs={15: 2})             # sp - 4 wraps to 0xFFFFFFFE
    assert res.trap.name == "misaligned" and t.m.pc == AT and t.r[15] == 2
    res = t.exec("call", abs=0x3000, regs={15: 0})             # sp - 4 = 0xFFFFFFFC: outside R
    assert res.trap.name == "bounds" and t.m.pc == AT and t.r[15] == 0
    assert res.trap.fault_address == 0xFFFFFFFC


@pytest.mark.parametrize("target,cause", [(0x1001, "misaligned"), (0x10000, "bounds"), (0xFFFFFFFE, "bounds")])
def test_jump_to_a_bad_target_faults_at_fetch(rig, target, cause):
    t = rig()
    t.exec("jmpr", ra=1, regs={1: target})
    assert t.m.pc == target
    res = t.m.step()
    assert res.trap.name == cause and res.trap.pc == target and not res.completed


def test_svc_completes_and_saves_next_pc(rig):
    t = rig()
    res = t.exec("svc", code=0x2A)
    assert res.completed
    assert (res.trap.name, res.trap.code, res.trap.pc, res.trap.address) == ("svc", 0x2A, AT + 2, AT)


@pytest.mark.parametrize("mode", [False, True])
def test_vmtrap_is_an_illegal_instruction_fault_on_the_bare_machine(rig, mode):
    t = rig()
    res = t.exec("vmtrap", code=7, user=mode)
    assert not res.completed
    assert (res.trap.name, res.trap.code, res.trap.pc, res.trap.instruction) == ("illegal", 7, AT, "vmtrap")


def test_undecodable_instruction_is_illegal(rig):
    t = rig()
    t.m.write_virtual(AT, b"\x00\x00")                       # opcode 0 is not an instruction
    t.m.set_state(pc=AT)
    res = t.m.step()
    assert res.trap.name == "illegal" and res.trap.pc == AT and res.trap.instruction is None
