"""One-line renderings of instructions and traps for ``run --trace``.

Uses the assembler package's disassembler when it is installed, else formats the spec's
assembly template directly (registers by name, targets in hex, immediates in decimal).
"""

from __future__ import annotations

import re
from typing import Callable

from hybridvmm.isa import ISA, Instruction
from hybridvmm.machine.traps import Trap

_OPERAND = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def simple_format(ins: Instruction, isa: ISA) -> str:
    """``ins`` through its asm template, without the assembler package."""

    def operand(m: re.Match) -> str:
        name = m.group(1)
        value = ins.operands.get(name, 0)
        spec = isa.fields.get(name)
        if spec is None:
            return str(value)
        if spec.kind == "reg":
            names = isa.registers[spec.regfile].names
            return names[value] if 0 <= value < len(names) else f"?{value}"
        if spec.kind in ("pcrel", "abs") and ins.target is not None:
            return f"0x{ins.target:x}"
        if spec.print_hex:
            return f"0x{value & ((1 << spec.width) - 1):x}"
        return str(value)

    return _OPERAND.sub(operand, ins.spec.asm)


def formatter(isa: ISA) -> Callable[[Instruction], str]:
    """The best available instruction formatter for ``isa``."""
    try:
        from hybridvmm.asm.disassembler import format_instruction  # type: ignore[attr-defined]
    except ImportError:
        return lambda ins: simple_format(ins, isa)

    def fmt(ins: Instruction) -> str:
        try:
            return format_instruction(ins, isa)
        except Exception:  # a disassembler still in development must not break a trace
            return simple_format(ins, isa)
    return fmt


def trace_line(count: int, user: bool, ins: Instruction, text: str) -> str:
    return f"{count:>9}  {'U' if user else 'S'}  {ins.address:08x}  {ins.raw.hex():<12}  {text}"


def trap_line(trap: Trap) -> str:
    return f"{'':>9}  -- {trap.describe()}; saved pc 0x{trap.pc:x}"
