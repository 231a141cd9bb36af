"""Moves, arithmetic, logic and shifts: one expression per instruction (flags as ARM sets them).

``F[0]`` keeps the result N and Z are read from; ``F[1]`` the addition ``(a, b, s)`` whose
carry and overflow are C and V (:mod:`hybridvmm.isas.pgm.env`), so a producer stores values
and never computes a flag.
"""

from __future__ import annotations

from hybridvmm.isas.pgm.semantics import define
from hybridvmm.machine.semantics import fill, let, substitute

MOVE = {  # name: (format, what ra gets); no flags
    "mov": ("R2", "r[rb]"),
    "movi": ("I16", "I"),
    "movl": ("L32", "I"),
}
SUM = {  # name: (format, a, b, s): ra = s & M32 of the addition s = a + b (+ carry in); NZCV
    "add": ("R2", "r[ra]", "r[rb]", "a + b"),
    "adc": ("R2", "r[ra]", "r[rb]", "a + b + (F[1][2] >> 32 & 1)"),
    "sub": ("R2", "r[ra]", "r[rb] ^ M32", "a + b + 1"),
    "neg": ("R1", "0", "r[ra] ^ M32", "b + 1"),
    "addi": ("RRI", "r[rb]", "I", "a + b"),
}
COMPARE = {  # the same, flags only
    "cmp": ("R2", "r[ra]", "r[rb] ^ M32", "a + b + 1"),
    "cmpi": ("I16", "r[ra]", "NOT_I", "a + b + 1"),
}
OP = {  # name: ra's new value from a = ra and b = rb; N and Z only
    "and": "a & b",
    "or": "a | b",
    "xor": "a ^ b",
    "mul": "(a * b) & M32",
    "divu": "a // b if b else M32",
    "remu": "a % b if b else a",
}
OP_IMM = {  # from a = rb and b = the immediate I (N: it as a shift count); N and Z only
    "andi": OP["and"],
    "ori": OP["or"],
    "xori": OP["xor"],
    "muli": OP["mul"],
    "shli": "(a << N) & M32",
    "shri": "a >> N",
    "sari": "(((a ^ NBIT) - NBIT) >> N) & M32",
}
UNARY = {"not": "r[ra] ^ M32"}
TEST = {"tst": "r[ra] & r[rb]"}  # flags N and Z only
SHIFT = {  # name: (ra's value, C = the last bit out) for a = ra, n = rb & 31 > 0; by 0 ra and C stay
    "shl": ("(a << n) & M32", "a >> (32 - n) & 1"),
    "shr": ("a >> n", "a >> (n - 1) & 1"),
    "sar": ("(((a ^ NBIT) - NBIT) >> n) & M32", "((a ^ NBIT) - NBIT) >> (n - 1) & 1"),
}

NZ = "v = EXPR; r[ra] = v; F[0] = v; return nxt"
NZCV = "s = EXPR; v = s & M32; r[ra] = v; F[0] = v; F[1] = (a, b, s); return nxt"
FLAGS = "s = EXPR; F[0] = s & M32; F[1] = (a, b, s); return nxt"
SHIFT_BODY = """n = r[rb] & 31
a = r[ra]
if n:
    v = VALUE
    set_carry(F, CARRY)
else:
    v = a
r[ra] = v
F[0] = v
return nxt"""

for _name, (_fmt, _value) in MOVE.items():
    define(_name, _fmt, BODY=f"r[ra] = {_value}; return nxt")
for _table, _body in ((SUM, NZCV), (COMPARE, FLAGS)):
    for _name, (_fmt, _a, _b, _s) in _table.items():
        define(_name, _fmt, BODY=let({"a": _a, "b": _b}, fill(_body, EXPR=_s)))
for _name, _expr in OP.items():
    define(_name, "R2", BODY=fill(NZ, EXPR=substitute(_expr, {"a": "r[ra]", "b": "r[rb]"})))
for _name, _expr in OP_IMM.items():
    define(_name, "RRI", BODY=fill(NZ, EXPR=substitute(_expr, {"a": "r[rb]", "b": "I"})))
for _name, _expr in UNARY.items():
    define(_name, "R1", BODY=fill(NZ, EXPR=_expr))
for _name, _expr in TEST.items():
    define(_name, "R2", BODY=f"F[0] = {_expr}; return nxt")
for _name, (_value, _carry) in SHIFT.items():
    define(_name, "R2", BODY=fill(SHIFT_BODY, VALUE=_value, CARRY=_carry))
