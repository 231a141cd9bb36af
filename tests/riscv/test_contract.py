"""The RISC-V machine passes the machine contract (U-mode loop, M-mode ecall handler)."""

from __future__ import annotations

from hybridvmm.asm import assemble
from hybridvmm.isas import build_machine
from hybridvmm.isas.riscv.constants import RAM_BASE
from hybridvmm.machine import Machine

from machine_contract import MachineContract

PROGRAM = """
        .org 0x80000000
        .entry start
start:
        addi  t0, zero, -1
        csrrw zero, pmpaddr0, t0
        addi  t0, zero, 0x1f
        csrrw zero, pmpcfg0, t0
        lui   t0, 0x80000
        addi  t0, t0, 0x200
        csrrw zero, mtvec, t0
        lui   t0, 0x80000
        addi  t0, t0, 0x100
        csrrw zero, mepc, t0
        addi  s1, zero, {iterations}
        lui   sp, 0x80008
        mret
        .org 0x80000100
loop:
        addi  a1, a1, 3
        sw    a1, 0(sp)
        lw    a2, 0(sp)
        ecall
        addi  s1, s1, -1
        bne   s1, zero, loop
        ecall
spin:
        jal   zero, spin
        .org 0x80000200
handler:
        lui   t1, 0x10000
        addi  t2, zero, 65
        sb    t2, 0(t1)
        beq   s1, zero, done
        csrrs t3, mepc, zero
        addi  t3, t3, 4
        csrrw zero, mepc, t3
        mret
done:
        lui   t5, 0x100
        lui   t6, 5
        addi  t6, t6, 0x555
        sw    t6, 0(t5)
"""


class TestRiscvContract(MachineContract):
    SYSCALL = "ecall-u"
    KERNEL = "machine"

    def make(self) -> Machine:
        image = assemble(PROGRAM.format(iterations=self.ITERATIONS), "rv32")
        return build_machine("rv32", image=image)

    def storage_address(self, m: Machine, label: str) -> int:
        return m.symbols[label] - RAM_BASE  # type: ignore[attr-defined]
