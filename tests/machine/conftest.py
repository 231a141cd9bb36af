"""Fixtures for the machine tests: a rig that runs single instructions, and assembled programs."""

from __future__ import annotations

import pytest

from hybridvmm.asm import assemble
from hybridvmm.isa import Decoder
from hybridvmm.isas import build_machine
from hybridvmm.isas.pgm import PgmMachine
from hybridvmm.machine import StepResult, Trap

CODE = 0x1000
"""Where single instructions are placed (virtual address, through R)."""


class Rig:
    """A small pgm machine for one-instruction experiments.

    Traps are recorded (``self.traps``) instead of being vectored, unless ``vectors=True``;
    the state after a fault is therefore exactly the state at the fault.
    """

    def __init__(self, isa: str = "pgm", size: int = 0x10000, vectors: bool = False):
        self.m: PgmMachine = build_machine(isa, storage_size=size)  # type: ignore[assignment]
        self.isa = self.m.isa
        self.d = Decoder(self.isa)
        self.traps: list[Trap] = []
        if not vectors:
            self.m.trap_handler = self.traps.append

    def enc(self, name: str, **ops: int) -> bytes:
        return self.d.encode(self.isa.instructions[name], ops)

    def put(self, at: int, *code: bytes) -> int:
        """Write instructions at virtual ``at`` (through the current R); return the end."""
        blob = b"".join(code)
        self.m.write_virtual(at, blob)
        return at + len(blob)

    def exec(self, name: str, at: int = CODE, **ops_and_state) -> StepResult:
        """Execute one ``name`` instruction at ``at`` after setting the given state.

        Keyword arguments naming operand fields go to the encoder, the rest to set_state.
        """
        fields = set(self.isa.instructions[name].format.fields)
        ops = {k: v for k, v in ops_and_state.items() if k in fields}
        state = {k: v for k, v in ops_and_state.items() if k not in fields}
        self.put(at, self.enc(name, **ops))
        self.m.set_state(pc=at, **state)
        return self.m.step()

    @property
    def r(self) -> list[int]:
        return self.m.regs


@pytest.fixture
def rig():
    """``rig(isa="pgm", ...)`` → a fresh :class:`Rig`."""
    return Rig


def load_asm(source: str, isa: str = "pgm", size: int = 0x10000) -> PgmMachine:
    image = assemble(source, isa)
    m = build_machine(isa, storage_size=size, image=image)
    m.symbols = image.symbols  # type: ignore[attr-defined]  (for the tests' convenience)
    return m  # type: ignore[return-value]


@pytest.fixture
def asm_machine():
    """``asm_machine(source, isa="pgm")`` → a machine with the assembled program loaded."""
    return load_asm
