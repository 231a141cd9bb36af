.isa pgm
# Every pgm instruction and every assembler directive, with labels and expressions.
# Used by the round-trip test: assemble -> disassemble -> assemble is byte-identical.

        .global _start, main
        .globl  helper
        .equ    STACK_TOP, 0x8000
        .equ    COUNT, (3 + 4) * 2 - 1          ; 13
        MASK  = ~0xff & 0xffff                  # 0xff00
        SHIFTED = (1 << 12) >> 2 | 3 ^ 1       # 1024 | 2 = 1026
        NEGMOD = -17 % 5                        ; C remainder: -2
        QUOT = -17 / 5                          ; C division: -3
        CH = 'A' + '\n' + '\0' + '\\' + '\''    # 65+10+0+92+39

        .text
        .org    0x100
_start: main:
        movi    sp, STACK_TOP & 0x7fff
        movl    r1, STACK_TOP
        movl    r2, -1
        movl    r3, 0xdeadbeef
        movi    r4, COUNT
        movi    r5, -32768
        movi    r6, 32767
        movi    r7, CH
        movi    r8, NEGMOD
        movi    r9, QUOT
        movi    r10, SHIFTED
        movi    r11, 0b1010 + 0o17 + 0x1F + 10   ; 10+15+31+10
        movi    r12, ' '
        nop
loop:   addi    r4, r4, -1
        andi    r1, r2, MASK >> 8
        ori     r1, r2, 0x7fff
        xori    r1, r2, -1
        shli    r1, r2, 3
        shri    r1, r2, 31
        sari    r1, r2, 1
        muli    r1, r2, -(2 * 3)
        cmpi    r4, 0
        bne     loop
        beq     done
        blt     loop
        bge     .+4
        bgt     loop
        ble     far
        bltu    loop
        bgeu    loop
        bgtu    loop
        bleu    loop
        bmi     loop
        bpl     loop
        br      done
far:    callrel helper
        call    helper
        jmp     done
        jrstu   user_code
done:   mov     r1, r2
        add     r1, r2
        sub     r3, r4
        adc     r5, r6
        and     r7, r8
        or      r9, r10
        xor     r11, r12
        shl     r13, r14
        shr     fp, sp
        sar     r0, r1
        mul     r2, r3
        divu    r4, r5
        remu    r6, r7
        cmp     r8, r9
        tst     r10, r11
        not     r12
        neg     r13
        push    r1
        pop     r1
        jmpr    r2
        callr   r3
        ld      r1, 0(sp)
        ld      r2, -4(fp)
        st      r3, msg - 0x100(r0)
        ldb     r4, (1+2)*4(r5)
        stb     r6, 32767(r7)
        INC     r1
        dec     r2
        clr     r3
        svc     0
        svc     255
        vmtrap  7
        in      r1, 1
        out     r1, 0
        ei
        di
        pushf
        popf
        srr     r1, r2
        rdtime  r3
        setr    r4, r5
        settimer r6
        rti
        halt
        ret
helper: ret
user_code:
        svc     1
        .half   0xffff                ; not an instruction: disassembles as data
        .half   0x7f00, -1, helper & 0xffff
        .byte   1, 2
        .align  4
table:  .word   _start, loop, done - _start, table, .
        .word   -1, 0x7fffffff
        .p2align 3, 0xcc
        .space  6, 0xee
        .space  2
        .entry  _start

        .data
msg:    .ascii  "Hello, world!\n"
        .asciz  "tab\there \"quoted\" back\\slash \x41\101 #;not a comment"
        .byte   'x', '#', ';', 255, -128
        .align  2
counter: .word  0
        .half   1, 2, 3
buffer: .space  16

        .section .rodata
        .org    0x4000
banner: .asciz  "pgm"
