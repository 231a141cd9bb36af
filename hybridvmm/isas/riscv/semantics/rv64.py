"""RV64I, M and A beyond RV32: one expression per instruction again, compiled for XLEN 64 only.

The ``*w`` instructions compute on the low 32 bits and sign-extend the result to 64
(``X(e)`` below); ``ld``/``sd``/``lwu`` and the ``.d`` AMOs move 8 (or 4 unsigned) bytes.
A few RV32 instructions mean something else at XLEN 64 and are redefined here for it:
``lw`` sign-extends its word, ``sw`` stores the low word of a 64-bit register, and ``lui``/
``auipc`` sign-extend their 32-bit value.  The shifts need nothing: their masks (``SH``) and
the 6-bit ``shamt`` come from the XLEN and the rv64 spec.
"""

from __future__ import annotations

from hybridvmm.isas.riscv.constants import Xlen
from hybridvmm.isas.riscv.semantics import HANDWRITTEN, HELPERS, Semantic, define, substitute
from hybridvmm.isas.riscv.semantics.a import AMO, AMO_TEMPLATE, lr_factory, sc_factory
from hybridvmm.isas.riscv.semantics.m import division
from hybridvmm.isas.riscv.semantics.rv32i import I_TEMPLATE, R_TEMPLATE, U_TEMPLATE, define_load, define_store

RV64 = (64,)


def X(expr: str) -> str:
    """``expr``'s low 32 bits, sign-extended to 64."""
    return f"((({expr}) & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000 & M"


W = "(a & 0xFFFFFFFF)"
"""rs1's low word, unsigned."""
SW_ = "(((a & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000)"
"""rs1's low word, signed."""

OP_32 = {
    "addw": X("a + b"),
    "subw": X("a - b"),
    "sllw": X("a << (b & 31)"),
    "srlw": X(f"{W} >> (b & 31)"),
    "sraw": X(f"{SW_} >> (b & 31)"),
}
OP_IMM_32 = {
    "addiw": X("a + i"),
}
SHIFT_IMM_32 = {
    "slliw": X("a << i"),
    "srliw": X(f"{W} >> i"),
    "sraiw": X(f"{SW_} >> i"),
}
B_W = "(b & 0xFFFFFFFF)"
MUL_DIV_32 = {
    "mulw": X("a * b"),
    "divw": X(f"_div32({W}, {B_W})"),
    "divuw": X(f"{W} // {B_W} if {B_W} else -1"),
    "remw": X(f"_rem32({W}, {B_W})"),
    "remuw": X(f"{W} % {B_W} if {B_W} else a"),
}
UPPER_64 = {
    "lui": "(((u << 12) ^ 0x80000000) - 0x80000000) & M",
    "auipc": "(pc + ((u << 12) ^ 0x80000000) - 0x80000000) & M",
}

_WORD_DIVISION = division(Xlen(32))
"""divw/remw are the M extension's signed division of the low words (then sign-extended)."""
HELPERS.append(lambda xlen: {"_div32": _WORD_DIVISION["_div"], "_rem32": _WORD_DIVISION["_rem"]})

REGS = {"a": "r[rs1]", "b": "r[rs2]"}
define({n: substitute(e, REGS) for n, e in {**OP_32, **MUL_DIV_32}.items()}, R_TEMPLATE, xlens=RV64)
define({n: substitute(e, {"a": "r[rs1]"}) for n, e in OP_IMM_32.items()}, I_TEMPLATE.replace("FIELD", '"imm_i"'),
       xlens=RV64)
define({n: substitute(e, {"a": "r[rs1]"}) for n, e in SHIFT_IMM_32.items()}, I_TEMPLATE.replace("FIELD", '"shamtw"'),
       xlens=RV64)
define(UPPER_64, U_TEMPLATE, xlens=RV64)

LOAD_64 = {  # name: (bytes, value from the unsigned v)
    "lw": (4, "((v ^ 0x80000000) - 0x80000000) & M"),
    "lwu": (4, "v"),
    "ld": (8, "v"),
}
STORE_64 = {"sw": (4, " & 0xFFFFFFFF"), "sd": (8, "")}

for _name, (_size, _value) in LOAD_64.items():
    define_load(_name, _size, _value, RV64)
for _name, (_size, _piece) in STORE_64.items():
    define_store(_name, _size, _piece, RV64)

# --- A: the doubleword AMOs, and the word AMOs' sign-extended result at XLEN 64 -------------------------
AMO_D = {name.replace(".w", ".d"): expr for name, expr in AMO.items()}
"""The doubleword AMOs: the word AMOs' expressions on XLEN-wide values."""
AMO_W64 = {  # a = the word in memory sign-extended to 64, b = rs2; stores the low word of the result
    **AMO,
    "amomin.w": "a if (a ^ S) < (b32 ^ S) else b32",
    "amomax.w": "a if (a ^ S) > (b32 ^ S) else b32",
    "amominu.w": "a if (a & 0xFFFFFFFF) < (b & 0xFFFFFFFF) else b",
    "amomaxu.w": "a if (a & 0xFFFFFFFF) > (b & 0xFFFFFFFF) else b",
}


def amo_variant(*changes: tuple[str, str]) -> str:
    """:data:`AMO_TEMPLATE` with each ``(old, new)`` of ``changes`` made (each must be there)."""
    source = AMO_TEMPLATE
    for old, new in changes:
        assert old in source, old
        source = source.replace(old, new)
    return source


AMO_D_TEMPLATE = amo_variant(("amo(r[rs1], pc)", "amo(r[rs1], pc, True, 8)"), ("peek(o)", "peek(o, 8)"),
                             ("poke(o, EXPR)", "poke(o, EXPR, 8)"))
AMO_W64_TEMPLATE = amo_variant(
    ("a = peek(o)", "a = ((peek(o) ^ 0x80000000) - 0x80000000) & M"),
    ("b = r[rs2]", "b = r[rs2]\n        b32 = ((b & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000 & M"),
    ("poke(o, EXPR)", "poke(o, (EXPR) & 0xFFFFFFFF)"),
)

define(AMO_D, AMO_D_TEMPLATE, xlens=RV64)
define(AMO_W64, AMO_W64_TEMPLATE, xlens=RV64)
HANDWRITTEN["lr.d"] = Semantic(lr_factory(8))
HANDWRITTEN["sc.d"] = Semantic(sc_factory(8))
