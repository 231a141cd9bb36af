"""One-line renderings of instructions and traps for ``run --trace``."""

from __future__ import annotations

from hybridvmm.isa import Instruction
from hybridvmm.machine.traps import Trap


def trace_line(count: int, mode: str, ins: Instruction, text: str, symbol: str = "") -> str:
    """Instruction count, the mode's initial (``M``/``S``/``U``), address, bytes, the
    instruction, and the address's ``<symbol+off>`` when there is one."""
    line = f"{count:>9}  {mode[:1].upper()}  {ins.address:08x}  {ins.raw.hex():<12}  {text}"
    return f"{line:<70}  {symbol}" if symbol else line


def trap_line(trap: Trap) -> str:
    return f"{'':>9}  -- {trap.describe()}; saved pc 0x{trap.pc:x}"
