"""The minios kernel's emulation of trapped sensitive instructions matches their native
user-mode behaviour in the corner cases too: same registers, same faults, same pc.

A custom task file (assembled after the bundled kernel) runs each corner case in its
own task; the console output must be the same on pgm-x86 (nothing traps: the hardware
decides), pgm-hybrid and pgm-virt (the kernel decides).
"""

from __future__ import annotations

import pytest

from hybridvmm.asm import assemble
from hybridvmm.guests import VARIANTS, read_source
from hybridvmm.isas import build_machine

TASKS = r"""
        .equ QUANTUM, 300
        .equ NTASKS, 6
        .equ B1, 0x4000
        .equ B2, 0x5000
        .equ B3, 0x6000
        .equ B4, 0x7000
        .equ B5, 0x8000
        .equ B6, 0x9000
        .text
        .align 4
guest_name:     .asciz "corner cases"
        .align 4
task_table:
        .word   n1, B1, 0x1000, 0
        .word   n2, B2, 0x1000, 0
        .word   n3, B3, 0x1000, 0
        .word   n4, B4, 0x1000, 0
        .word   n5, B5, 0x1000, 0
        .word   n6, B6, 0x0800, 0
n1:     .asciz "regs"
n2:     .asciz "pushf-misaligned"
n3:     .asciz "popf-empty-stack"
n4:     .asciz "jrstu-outside"
n5:     .asciz "jrstu-odd"
n6:     .asciz "pushf-full"

; srr with ra == rb (the bound wins), rdtime and srr into sp, popf of all flags
        .section t1
        .org B1 + USER_ENTRY
        srr     r3, r3
        mov     r1, r3
        svc     6
        srr     r4, r15                 ; sp = bound: still a valid stack top
        mov     r1, r4
        svc     6
        mov     r1, sp
        svc     6
        movi    r1, 0xf0                ; N Z C V all set, and IE = 0
        push    r1
        popf
        pushf
        pop     r1
        svc     6
        rdtime  r15                     ; sp = a small number; print it relative to nothing
        mov     r1, r15
        movi    r2, 0
        cmp     r1, r2
        movi    r1, 'y'
        bgt     t1_pos
        movi    r1, 'n'
t1_pos: svc     1
        movi    r1, '\n'
        svc     1
        clr     r1
        svc     0

; pushf with a misaligned stack pointer: misaligned, not bounds
        .section t2
        .org B2 + USER_ENTRY
        addi    sp, sp, -2
        pushf
        svc     0

; popf with an empty stack (sp = bound): bounds violation, sp unchanged
        .section t3
        .org B3 + USER_ENTRY
        popf
        svc     0

; jrstu to a target outside the region: the jump happens, the fetch faults there
        .section t4
        .org B4 + USER_ENTRY
        jrstu   0x2000
        svc     0

; jrstu to an odd address: misaligned fetch at the target
        .section t5
        .org B5 + USER_ENTRY
        jrstu   0x201
        svc     0

; pushf with sp = 0: the push would go below the region
        .section t6
        .org B6 + USER_ENTRY
        clr     sp
        pushf
        svc     0
"""


@pytest.fixture(scope="module")
def outputs():
    source = read_source("minios_kernel.s") + TASKS
    result = {}
    for isa in VARIANTS:
        image = assemble(source, isa, "corner-cases")
        m = build_machine(isa, image=image)
        assert m.run(2_000_000).halted
        result[isa] = (m.console.text(), m.stats.traps.get("privileged", 0))
    return result


def test_identical_on_every_variant(outputs):
    texts = {isa: out for isa, (out, _) in outputs.items()}
    assert texts["pgm-virt"] == texts["pgm-x86"]
    assert texts["pgm-hybrid"] == texts["pgm-x86"]
    # and the kernel really did the work on the trapping variants
    assert outputs["pgm-x86"][1] == 0
    assert outputs["pgm-hybrid"][1] > 0 and outputs["pgm-virt"][1] > outputs["pgm-hybrid"][1]


def test_corner_case_results(outputs):
    out = outputs["pgm-x86"][0]
    # srr r3,r3 -> the bound; srr r4,sp -> base, bound; popf set NZCV but not IE, so
    # pushf shows 0xf3; rdtime into sp gave a positive count
    assert "0x00001000" "0x00004000" "0x00001000" "0x000000f3" "y\n" in out
    assert "task 2 pushf-misaligned killed: misaligned access at pc 0x00000110" in out.replace("minios: ", "")
    assert "task 3 popf-empty-stack killed: bounds violation at pc 0x0000010c" in out.replace("minios: ", "")
    assert "task 4 jrstu-outside killed: bounds violation at pc 0x00002000" in out.replace("minios: ", "")
    assert "task 5 jrstu-odd killed: misaligned access at pc 0x00000201" in out.replace("minios: ", "")
    assert "task 6 pushf-full killed: bounds violation at pc 0x0000010e" in out.replace("minios: ", "")
    assert "minios: all tasks done: 1 exited, 5 killed" in out
