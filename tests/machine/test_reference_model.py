"""Random straight-line arithmetic gives the same registers and flags as a simple reference
model written here from the spec's docs (eager NZCV, ARM carry), through ``run`` (the hot
loop) and through ``step``."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hybridvmm.isa import Decoder, load_isa
from hybridvmm.isas import build_machine

M = 0xFFFFFFFF
ISA = load_isa("pgm")
DEC = Decoder(ISA)
REGS = st.integers(0, 7)
WORDS = st.one_of(st.sampled_from([0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 31, 32]), st.integers(0, M))
SIMM = st.one_of(st.sampled_from([0, 1, -1, 31, 32767, -32768]), st.integers(-32768, 32767))

RR = ["mov", "add", "sub", "adc", "and", "or", "xor", "shl", "shr", "sar", "mul", "divu", "remu", "cmp", "tst"]
R1 = ["not", "neg"]
RRI = ["addi", "andi", "ori", "xori", "shli", "shri", "sari", "muli"]


def s32(x: int) -> int:
    return x - (1 << 32) if x & 0x80000000 else x


class Ref:
    """The reference: registers and four separate flag booleans."""

    def __init__(self, regs: list[int], nzcv: int):
        self.r = list(regs)
        self.n, self.z, self.c, self.v = (bool(nzcv >> i & 1) for i in (3, 2, 1, 0))

    def nzcv(self) -> int:
        return self.n << 3 | self.z << 2 | self.c << 1 | int(self.v)

    def setnz(self, res: int) -> int:
        self.n, self.z = bool(res >> 31), res == 0
        return res

    def add(self, a: int, b: int, cin: int = 0) -> int:
        full = a + b + cin
        res = self.setnz(full & M)
        self.c = full > M
        self.v = not -(2 ** 31) <= s32(a) + s32(b) + cin < 2 ** 31
        return res

    def sub(self, a: int, b: int) -> int:
        res = self.setnz((a - b) & M)
        self.c = a >= b
        self.v = not -(2 ** 31) <= s32(a) - s32(b) < 2 ** 31
        return res

    def shift(self, kind: str, a: int, n: int, set_c: bool) -> int:
        if n == 0:
            return self.setnz(a)
        if kind == "shl":
            res, out = (a << n) & M, a >> (32 - n) & 1
        elif kind == "shr":
            res, out = a >> n, a >> (n - 1) & 1
        else:
            res, out = (s32(a) >> n) & M, s32(a) >> (n - 1) & 1
        if set_c:
            self.c = bool(out)
        return self.setnz(res)

    def execute(self, name: str, ops: dict[str, int]) -> None:
        r = self.r
        ra, rb, k = ops.get("ra"), ops.get("rb"), ops.get("simm", 0)
        kk = k & M
        if name == "mov":
            r[ra] = r[rb]
        elif name == "movi":
            r[ra] = kk
        elif name == "movl":
            r[ra] = ops["imm32"]
        elif name == "add":
            r[ra] = self.add(r[ra], r[rb])
        elif name == "adc":
            r[ra] = self.add(r[ra], r[rb], int(self.c))
        elif name == "sub":
            r[ra] = self.sub(r[ra], r[rb])
        elif name == "cmp":
            self.sub(r[ra], r[rb])
        elif name == "cmpi":
            self.sub(r[ra], kk)
        elif name == "addi":
            r[ra] = self.add(r[rb], kk)
        elif name == "neg":
            r[ra] = self.sub(0, r[ra])
        elif name == "not":
            r[ra] = self.setnz(r[ra] ^ M)
        elif name in ("and", "or", "xor", "mul"):
            a, b = r[ra], r[rb]
            r[ra] = self.setnz({"and": a & b, "or": a | b, "xor": a ^ b, "mul": (a * b) & M}[name])
        elif name == "tst":
            self.setnz(r[ra] & r[rb])
        elif name == "divu":
            r[ra] = self.setnz(r[ra] // r[rb] if r[rb] else M)
        elif name == "remu":
            r[ra] = self.setnz(r[ra] % r[rb] if r[rb] else r[ra])
        elif name in ("shl", "shr", "sar"):
            r[ra] = self.shift(name, r[ra], r[rb] & 31, True)
        elif name in ("shli", "shri", "sari"):
            r[ra] = self.shift(name[:3], r[rb], k & 31, False)
        elif name in ("andi", "ori", "xori", "muli"):
            a = r[rb]
            r[ra] = self.setnz({"andi": a & kk, "ori": a | kk, "xori": a ^ kk, "muli": (a * kk) & M}[name])
        else:
            raise AssertionError(name)


instruction = st.one_of(
    st.tuples(st.sampled_from(RR), st.fixed_dictionaries({"ra": REGS, "rb": REGS})),
    st.tuples(st.sampled_from(R1), st.fixed_dictionaries({"ra": REGS})),
    st.tuples(st.sampled_from(RRI), st.fixed_dictionaries({"ra": REGS, "rb": REGS, "simm": SIMM})),
    st.tuples(st.just("movi"), st.fixed_dictionaries({"ra": REGS, "simm": SIMM})),
    st.tuples(st.just("cmpi"), st.fixed_dictionaries({"ra": REGS, "simm": SIMM})),
    st.tuples(st.just("movl"), st.fixed_dictionaries({"ra": REGS, "imm32": WORDS})),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=st.lists(instruction, min_size=1, max_size=40),
       regs=st.lists(WORDS, min_size=8, max_size=8), nzcv=st.integers(0, 15), stepping=st.booleans())
def test_straight_line_arithmetic_matches_the_reference(program, regs, nzcv, stepping):
    code = b"".join(DEC.encode(ISA.instructions[name], ops) for name, ops in program)
    code += DEC.encode(ISA.instructions["halt"], {})
    m = build_machine(ISA, storage_size=0x4000)
    m.write(0x100, code)
    m.set_state(pc=0x100, regs=regs, flags=nzcv)
    if stepping:
        while not m.halted:
            assert m.step().trap is None
    else:
        assert m.run(1000).halted
    ref = Ref(regs, nzcv)
    for name, ops in program:
        ref.execute(name, ops)
    assert m.regs[:8] == ref.r
    assert m.flags == ref.nzcv()
    assert m.stats.instructions == len(program) + 1
