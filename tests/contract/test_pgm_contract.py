"""The pgm machine passes the machine contract."""

from __future__ import annotations

from hybridvmm.asm import assemble
from hybridvmm.isas import build_machine
from hybridvmm.machine import Machine

from machine_contract import MachineContract

PROGRAM = """
        .org 0x100
        .entry start
start:
        movl    sp, 0x8000
        movi    r1, 0
        movi    r2, {iterations}
        jrstu   loop
loop:
        addi    r1, r1, 3
        push    r1
        pop     r3
        svc     1
        addi    r2, r2, -1
        bne     loop
        svc     2
spin:
        jmp     spin
handler:
        movi    r4, 65
        out     r4, 0
        cmpi    r2, 0
        beq     done
        rti
done:
        halt
"""


class TestPgmContract(MachineContract):
    SYSCALL = "svc"
    KERNEL = "supervisor"

    def make(self) -> Machine:
        image = assemble(PROGRAM.format(iterations=self.ITERATIONS), "pgm")
        m = build_machine("pgm", storage_size=0x10000, image=image)
        m.symbols = image.symbols  # type: ignore[attr-defined]
        m.write_psw(m.vector_address(m.cause["svc"]), (0, image.symbols["handler"], 0, m.storage.size))
        return m

    def storage_address(self, m: Machine, label: str) -> int:
        return m.symbols[label]  # type: ignore[attr-defined]
