# GNU-style RISC-V source: pseudo-instructions, relocation operators, numeric local
# labels, data and alignment directives.  GNU as (-march=rv32ima_zicsr_zifencei
# -mno-relax, linked at 0) and the hybridvmm assembler make the same bytes.
    .text
    .globl _start
_start:
    call foo
    tail foo
    la a0, msg
    lla a1, msg+4
    lui a2, %hi(msg)
    addi a2, a2, %lo(msg)
    lw a3, %lo(msg)(a2)
1:  auipc a4, %pcrel_hi(msg)
    addi a4, a4, %pcrel_lo(1b)
    lw a5, msg
    sw a5, msg, t0
    lbu a6, msg
    seqz a0, a1
    snez a0, a1
    sltz a0, a1
    sgtz a0, a1
    csrs mstatus, a0
    csrc mstatus, a0
    csrsi mstatus, 8
    csrw mscratch, 3
    csrr a0, mscratch
    jal foo
    jalr t0
    jalr a0, t1
    fence
    bgt a0, a1, foo
    ble a0, a1, foo
    bgtu a0, a1, 2f
    bleu a0, a1, 2f
    bltz a0, foo
    bgez a0, foo
    blez a0, 1b
    bgtz a0, 1b
    rdcycle a0
    rdtimeh a1
    li a0, 0
    li a0, 2047
    li a0, -2048
    li a0, 2048
    li a0, 0x12345678
    li a0, 0x7ffff800
    li a0, 0xffffffff
    li a0, -0x80000000
    li t3, 'a'
    .equ K, 5000
    li a0, K
    mv a1, a2
    not a1, a2
    neg a1, a2
    j 2f
    nop
2:  ret
    unimp
    .align 3
foo: jr ra
    .byte 1
    .balign 4
    .2byte 7
    .p2align 2
msg: .word 1, 2
    .4byte 3
    .zero 3
