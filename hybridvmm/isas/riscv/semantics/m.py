"""The M extension: multiply and divide, one expression each (division by zero and the
signed overflow case are defined results, never traps)."""

from __future__ import annotations

from typing import Callable

from hybridvmm.isas.riscv.constants import Xlen
from hybridvmm.isas.riscv.semantics import HELPERS, define, substitute
from hybridvmm.isas.riscv.semantics.rv32i import R_TEMPLATE


def division(xlen: Xlen) -> dict[str, Callable[[int, int], int]]:
    """The signed division helpers for ``xlen``-bit registers."""
    mask, sign = xlen.mask, xlen.sign

    def signed(v: int) -> int:
        return (v ^ sign) - sign

    def _div(a: int, b: int) -> int:
        """Signed division rounding towards zero; x/0 = -1, MIN/-1 = MIN."""
        if b == 0:
            return mask
        sa, sb = signed(a), signed(b)
        q = abs(sa) // abs(sb)
        return (-q if (sa < 0) != (sb < 0) else q) & mask

    def _rem(a: int, b: int) -> int:
        """Signed remainder with the dividend's sign; x%0 = x, MIN%-1 = 0."""
        if b == 0:
            return a
        sa, sb = signed(a), signed(b)
        r = abs(sa) % abs(sb)
        return (-r if sa < 0 else r) & mask

    return {"_div": _div, "_rem": _rem}


HELPERS.append(division)

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
