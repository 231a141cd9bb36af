"""The trap record a machine reports, and the signal semantics raise to produce one.

A semantic routine never performs a trap itself: it raises :class:`TrapSignal` *before*
changing any state (faults) or after completing (system calls), and the machine decides
whether the trap goes through the in-storage vectors or to a monitor's ``trap_handler``.
That keeps one semantics usable by the bare machine, a monitor and the classifier.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Trap:
    """One trap or interrupt as the machine took it.

    ``pc`` is the program counter saved in the old PSW: the faulting instruction for a
    fault, the next instruction for a system call and for an interrupt.  ``address`` is
    where the trapping instruction sits (for an interrupt, equal to ``pc``).
    ``fault_address`` is the (virtual) data or fetch address of a storage fault.
    """

    cause: int
    name: str
    pc: int
    address: int
    code: int = 0
    instruction: str | None = None
    fault_address: int | None = None
    interrupt: bool = False
    completed: bool = False

    def describe(self) -> str:
        what = "interrupt" if self.interrupt else "trap"
        extra = f" code=0x{self.code:x}" if self.code else ""
        insn = f" by {self.instruction}" if self.instruction else ""
        where = f" at 0x{self.address:x}" if not self.interrupt else f" before 0x{self.pc:x}"
        fa = f" (address 0x{self.fault_address:x})" if self.fault_address is not None else ""
        return f"{self.name} {what}{extra}{insn}{where}{fa}"


class TrapSignal(Exception):
    """Raised by a semantic routine (or the fetch) to request a trap.

    ``completed`` is True when the instruction itself finished and its effect *is* the
    trap (a system call: counted as executed, PSW pc = next instruction); False for a fault
    (nothing changed, not counted, PSW pc = the faulting instruction).
    """

    __slots__ = ("cause", "pc", "address", "code", "instruction", "fault_address", "completed")

    def __init__(
        self,
        cause: int,
        pc: int,
        address: int,
        code: int = 0,
        instruction: str | None = None,
        fault_address: int | None = None,
        completed: bool = False,
    ):
        self.cause = cause
        self.pc = pc
        self.address = address
        self.code = code
        self.instruction = instruction
        self.fault_address = fault_address
        self.completed = completed

    def trap(self, name: str) -> Trap:
        return Trap(self.cause, name, self.pc, self.address, self.code, self.instruction, self.fault_address, False, self.completed)


class SyncSignal(Exception):
    """Raised by the hot-loop entry of an instruction that needs the exact machine state
    (a system instruction, a hooked address): the run loop settles its counters and
    executes that instruction on the slow path.  ``pc`` is that instruction's address when
    the raiser knows it (a compiled block needs it to know where it stopped)."""

    def __init__(self, pc: int | None = None):
        super().__init__()
        self.pc = pc


class RetranslateSignal(Exception):
    """Raised while installing a translation when a translate hook changed the code at that
    address (a monitor patched it): the machine translates the address again."""
