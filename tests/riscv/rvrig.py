"""The RISC-V test rig (imported by the tests through conftest's path entry)."""

from __future__ import annotations

from pathlib import Path

from hybridvmm.asm import assemble
from hybridvmm.isa import Decoder
from hybridvmm.isas.riscv.constants import MACHINE
from hybridvmm.isas.riscv.machine import RiscvMachine
from hybridvmm.machine import StepResult, Trap

RAM = 0x8000_0000
CODE = RAM + 0x1000
"""Where single instructions are placed."""
DATA = RAM + 0x8000
ELF_DIR = Path(__file__).resolve().parents[1] / "data" / "riscv-tests" / "elf"


def open_pmp(m: RiscvMachine) -> None:
    """What firmware does before S/U code runs (the riscv-tests' boot): one NAPOT entry, RWX."""
    m.set_csr("pmpaddr0", 0xFFFFFFFF)
    m.set_csr("pmpcfg0", 0x1F)


class Rig:
    """A small RISC-V machine for one-instruction experiments.

    Traps are recorded (``self.traps``) instead of being taken, unless ``vectors=True``; the
    state after a fault is therefore exactly the state at the fault.  PMP is open (as the
    riscv-tests' boot leaves it) unless ``pmp=False``.
    """

    def __init__(self, ram: int = 0x10000, vectors: bool = False, pmp: bool = True, **kwargs):
        self.m = RiscvMachine("rv32", ram, **kwargs)
        self.isa = self.m.isa
        self.d = Decoder(self.isa)
        self.traps: list[Trap] = []
        if not vectors:
            self.m.trap_handler = self.traps.append
        if pmp:
            open_pmp(self.m)

    def enc(self, name: str, **ops: int) -> bytes:
        return self.d.encode(self.isa.instructions[name], ops)

    def put(self, at: int, *code: bytes) -> int:
        blob = b"".join(code)
        self.m.write_physical(at, blob)
        return at + len(blob)

    def exec(self, name: str, at: int = CODE, *, priv: int = MACHINE, x: dict | None = None,
             csrs: dict | None = None, **ops: int) -> StepResult:
        """Execute one ``name`` at ``at`` in ``priv`` after setting registers and CSRs."""
        self.put(at, self.enc(name, **ops))
        self.m.set_state(x=x or {}, pc=at, priv=priv, csr=csrs or {})
        return self.m.step()

    @property
    def x(self) -> list[int]:
        return self.m.x

    def word(self, paddr: int) -> int:
        return int.from_bytes(self.m.read_physical(paddr, 4), "little")

    def poke(self, paddr: int, value: int, size: int = 4) -> None:
        self.m.write_physical(paddr, value.to_bytes(size, "little"))


def load_asm(source: str, ram: int = 0x10000, **kwargs) -> RiscvMachine:
    """A machine with ``source`` (rv32 assembly, ``.org`` in RAM) loaded and reset to its entry."""
    image = assemble(source, "rv32")
    m = RiscvMachine("rv32", ram, **kwargs)
    m.load(image)
    return m

