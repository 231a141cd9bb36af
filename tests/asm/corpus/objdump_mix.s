# objdump corner cases for `disasm --style objdump`: lui/auipc address comments, gp- and
# zero-based addresses, an object symbol inside code (dumped as raw words), odd-sized data
# between instructions, zero runs.  Linked at 0x80000000 with __global_pointer$ defined.
    .text
    .globl _start
_start:
    lui a0, %hi(table)
    addi a0, a0, %lo(table)
    auipc t0, 0
    jalr ra, 12(t0)
    lw a1, 8(gp)
    lw a2, 4(zero)
    sw a2, 12(tp)
    addi a3, zero, 5
    j after
    .type table, @object
    .size table, 24
table:
    .word 0x11223344, 0, 0, 0, 0, 0x55
    .type after, @function
after:
    nop
    .byte 1, 2, 3
    .balign 4
    .half 7
    .balign 4
    .word 0,0,0,0
    ecall
    .data
d0: .word 5
