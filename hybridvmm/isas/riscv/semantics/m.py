"""The M extension: multiply and divide, one expression each (division by zero and the
signed overflow case are defined results, never traps)."""

from __future__ import annotations

from hybridvmm.isas.riscv.semantics import NAMESPACE, XLEN, define, substitute
from hybridvmm.isas.riscv.semantics.rv32i import R_TEMPLATE

_M, _S = XLEN.mask, XLEN.sign


def _signed(v: int) -> int:
    return (v ^ _S) - _S


def _div(a: int, b: int) -> int:
    """Signed division rounding towards zero; x/0 = -1, MIN/-1 = MIN."""
    if b == 0:
        return _M
    sa, sb = _signed(a), _signed(b)
    q = abs(sa) // abs(sb)
    return (-q if (sa < 0) != (sb < 0) else q) & _M


def _rem(a: int, b: int) -> int:
    """Signed remainder with the dividend's sign; x%0 = x, MIN%-1 = 0."""
    if b == 0:
        return a
    sa, sb = _signed(a), _signed(b)
    r = abs(sa) % abs(sb)
    return (-r if sa < 0 else r) & _M


NAMESPACE.update(_div=_div, _rem=_rem)

MUL_DIV = {
    "mul": "(a * b) & M",
    "mulh": "((((a ^ S) - S) * ((b ^ S) - S)) >> XLEN) & M",
    "mulhsu": "((((a ^ S) - S) * b) >> XLEN) & M",
    "mulhu": "(a * b) >> XLEN",
    "div": "_div(a, b)",
    "divu": "a // b if b else M",
    "rem": "_rem(a, b)",
    "remu": "a % b if b else a",
}

define({n: substitute(e, {"a": "r[rs1]", "b": "r[rs2]"}) for n, e in MUL_DIV.items()}, R_TEMPLATE)
