"""One-line renderings of instructions and traps for ``run --trace``."""

from __future__ import annotations

from hybridvmm.isa import Instruction
from hybridvmm.machine.traps import Trap


def trace_line(count: int, user: bool, ins: Instruction, text: str) -> str:
    return f"{count:>9}  {'U' if user else 'S'}  {ins.address:08x}  {ins.raw.hex():<12}  {text}"


def trap_line(trap: Trap) -> str:
    return f"{'':>9}  -- {trap.describe()}; saved pc 0x{trap.pc:x}"
