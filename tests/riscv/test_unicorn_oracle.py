"""Differential testing against unicorn (QEMU's TCG): hypothesis-generated RV32IMA sequences
run on both, final registers, pc and memory equal.

unicorn reports exceptions without entering ``mtvec``, so it cannot judge traps: the
generated programs never trap (forward branches and jumps only, accesses inside a mapped
data page, LR/SC pairs with no store between them, AMOs aligned).  Misaligned loads and
stores are included: both perform them.
"""

from __future__ import annotations

import pytest

unicorn = pytest.importorskip("unicorn")
from unicorn import UC_ARCH_RISCV, UC_MODE_RISCV32, Uc  # noqa: E402
from unicorn import riscv_const as rc  # noqa: E402

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from hybridvmm.isa import Decoder, load_isa  # noqa: E402
from hybridvmm.isas.riscv.constants import RAM_BASE  # noqa: E402

from rvrig import Rig  # noqa: E402

CODE, DATA = RAM_BASE, RAM_BASE + 0x8000
DATA_SIZE = 0x1000
BASE, AMO_BASE, LINK = 31, 30, 29
"""x31 = DATA + 0x800 (loads/stores), x30 = DATA + 0x400 (AMOs, LR/SC), x29 = CODE (jalr's base): never written."""
BASE_VALUE, AMO_VALUE = DATA + 0x800, DATA + 0x400
FREE = list(range(1, 29))

ISA = load_isa("rv32")
DEC = Decoder(ISA)
R_OPS = ["add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and",
         "mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu"]
I_OPS = ["addi", "slti", "sltiu", "xori", "ori", "andi"]
SH_OPS = ["slli", "srli", "srai"]
LOADS = ["lb", "lh", "lw", "lbu", "lhu"]
STORES = ["sb", "sh", "sw"]
AMOS = ["amoswap.w", "amoadd.w", "amoxor.w", "amoand.w", "amoor.w", "amomin.w", "amomax.w", "amominu.w", "amomaxu.w"]
BRANCHES = ["beq", "bne", "blt", "bge", "bltu", "bgeu"]

EDGE = st.sampled_from([0, 1, 2, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFE, 31, 32, 0x12345678])
VALUE = st.one_of(EDGE, st.integers(0, 0xFFFFFFFF))
REG = st.sampled_from(FREE)
SRC = st.sampled_from([0] + FREE)


def enc(name: str, **ops: int) -> bytes:
    return DEC.encode(ISA.instructions[name], ops)


@st.composite
def item(draw):
    """One instruction as (kind, name, operands); branch offsets are filled in later."""
    kind = draw(st.sampled_from(["r", "r", "r", "i", "i", "sh", "u", "load", "load", "store", "store",
                                 "amo", "lrsc", "branch", "jal", "jalr", "fence"]))
    if kind == "r":
        return [(draw(st.sampled_from(R_OPS)), {"rd": draw(REG), "rs1": draw(SRC), "rs2": draw(SRC)})]
    if kind == "i":
        return [(draw(st.sampled_from(I_OPS)), {"rd": draw(REG), "rs1": draw(SRC), "imm_i": draw(st.integers(-2048, 2047))})]
    if kind == "sh":
        return [(draw(st.sampled_from(SH_OPS)), {"rd": draw(REG), "rs1": draw(SRC), "shamt": draw(st.integers(0, 31))})]
    if kind == "u":
        return [(draw(st.sampled_from(["lui", "auipc"])), {"rd": draw(REG), "imm_u": draw(st.integers(0, 0xFFFFF))})]
    if kind == "load":
        return [(draw(st.sampled_from(LOADS)), {"rd": draw(REG), "rs1": BASE, "imm_i": draw(st.integers(-2048, 2040))})]
    if kind == "store":
        return [(draw(st.sampled_from(STORES)), {"rs1": BASE, "rs2": draw(SRC), "imm_s": draw(st.integers(-2048, 2040))})]
    if kind == "amo":
        return [(draw(st.sampled_from(AMOS)), {"rd": draw(REG), "rs1": AMO_BASE, "rs2": draw(SRC)})]
    if kind == "lrsc":
        between = [(draw(st.sampled_from(R_OPS[:10])), {"rd": draw(REG), "rs1": draw(SRC), "rs2": draw(SRC)})
                   for _ in range(draw(st.integers(0, 2)))]
        pair = [("lr.w", {"rd": draw(REG), "rs1": AMO_BASE}), *between,
                ("sc.w", {"rd": draw(REG), "rs1": AMO_BASE, "rs2": draw(SRC)})]
        if draw(st.booleans()):                        # a second sc.w: no reservation left, it fails
            pair.append(("sc.w", {"rd": draw(REG), "rs1": AMO_BASE, "rs2": draw(SRC)}))
        return pair
    if kind == "branch":
        return [(draw(st.sampled_from(BRANCHES)), {"rs1": draw(SRC), "rs2": draw(SRC), "skip": draw(st.integers(0, 3))})]
    if kind == "jal":
        return [("jal", {"rd": draw(st.sampled_from([0] + FREE)), "skip": draw(st.integers(0, 3))})]
    if kind == "jalr":
        return [("jalr", {"rd": draw(st.sampled_from([0] + FREE)), "rs1": LINK, "skip": draw(st.integers(0, 3)),
                          "bit0": draw(st.integers(0, 1))})]
    return [("fence", {"pred": 15, "succ": 15})]


@st.composite
def program(draw):
    items = [ins for group in draw(st.lists(item(), min_size=1, max_size=40)) for ins in group]
    assert len(items) < 500                                             # jalr reaches every target
    regs = draw(st.lists(VALUE, min_size=28, max_size=28))
    data = draw(st.binary(min_size=64, max_size=64))
    words = []
    for k, (name, ops) in enumerate(items):
        ops = dict(ops)
        skip = ops.pop("skip", None)
        if skip is not None:
            target = min(k + 1 + skip, len(items))                   # forward, at most to the end
            offset = 4 * (target - k)
            if name == "jalr":
                ops["imm_i"] = 4 * target + ops.pop("bit0")              # absolute from x29 = CODE; bit 0 is cleared
            else:
                ops["imm_b" if name in BRANCHES else "imm_j"] = offset
        words.append(enc(name, **ops))
    return b"".join(words), regs, data


def run_unicorn(code: bytes, regs: list[int], data: bytes):
    mu = Uc(UC_ARCH_RISCV, UC_MODE_RISCV32)
    mu.mem_map(RAM_BASE, 0x10000)
    mu.mem_write(CODE, code)
    mu.mem_write(DATA, data * (DATA_SIZE // len(data)))
    for i, v in enumerate(regs, 1):
        mu.reg_write(getattr(rc, f"UC_RISCV_REG_X{i}"), v)
    mu.reg_write(rc.UC_RISCV_REG_X31, BASE_VALUE)
    mu.reg_write(rc.UC_RISCV_REG_X30, AMO_VALUE)
    mu.reg_write(rc.UC_RISCV_REG_X29, CODE)
    mu.emu_start(CODE, CODE + len(code))
    x = [mu.reg_read(getattr(rc, f"UC_RISCV_REG_X{i}")) for i in range(32)]
    return x, mu.reg_read(rc.UC_RISCV_REG_PC), bytes(mu.mem_read(DATA, DATA_SIZE))


def run_ours(code: bytes, regs: list[int], data: bytes):
    t = Rig(ram=0x10000)
    m = t.m
    m.write_physical(CODE, code + enc("addi", rd=0, rs1=0, imm_i=0))      # where the hook stops the run
    m.write_physical(DATA, data * (DATA_SIZE // len(data)))
    m.set_state(x={i: v for i, v in enumerate(regs, 1)}, pc=CODE)
    m.set_state(x={31: BASE_VALUE, 30: AMO_VALUE, 29: CODE})
    m.hook_address(len(code), lambda machine, a: machine.stop("end"))
    result = m.run(10_000)
    assert result.reason == "stopped", (result, t.traps)
    assert not t.traps
    return list(m.x), m.pc, m.read_physical(DATA, DATA_SIZE)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program())
def test_user_level_semantics_agree_with_unicorn(prog):
    code, regs, data = prog
    ours = run_ours(code, regs, data)
    theirs = run_unicorn(code, regs, data)
    assert ours[1] == theirs[1], "final pc"
    for i in range(32):
        assert ours[0][i] == theirs[0][i], f"x{i}"
    assert ours[2] == theirs[2], "memory"
