; =====================================================================================
;  kjit — micro-guest: the kernel writing code and running it (JIT- or loader-style)
; =====================================================================================
;  Never leaves supervisor mode and takes no trap: KJIT_N times it copies a short
;  routine (a few rounds of a mixing function, TEMPLATE_WORDS instructions) into a
;  buffer, calls it, and folds the result into a checksum, which it prints.  Nothing
;  here is sensitive, so trap-and-emulate runs all of it directly at no cost; a binary
;  translator must translate the buffer again after every copy, because each store into
;  translated code voids its translation.  Code that is rewritten before it is reused
;  is where binary translation does not pay (Adams & Agesen, ASPLOS 2006, §6).
;  (Assembled with klib.s for the output routines.)

        .equ KJIT_N, 400
        .equ TEMPLATE_WORDS, 16

        .org 0x100
        .entry boot
boot:
        movl    sp, kstack_top
        srr     r2, r3                  ; every trap would be a bug: report it
        movl    r1, vectors
        call    kvectors
        movi    r8, KJIT_N
        clr     r10                     ; checksum
again:
        movl    r2, template
        movl    r3, buffer
        movi    r4, TEMPLATE_WORDS
copy:
        ld      r5, 0(r2)
        st      r5, 0(r3)
        addi    r2, r2, 4
        addi    r3, r3, 4
        dec     r4
        cmpi    r4, 0
        bne     copy
        mov     r1, r8
        call    buffer                  ; the code just written
        add     r10, r1
        dec     r8
        cmpi    r8, 0
        bne     again
        movl    r1, s_done
        call    kputs
        movi    r1, KJIT_N
        call    kputdec
        movl    r1, s_done2
        call    kputs
        mov     r1, r10
        call    kputdec
        movl    r1, s_nl
        call    kputs
        halt

; the routine copied: r1 = the round, returns a mix of it in r1 (TEMPLATE_WORDS words)
        .align 4
template:
        mov     r6, r1
        shli    r6, r6, 5
        xor     r1, r6
        addi    r1, r1, 77
        mov     r6, r1
        shri    r6, r6, 3
        xor     r1, r6
        addi    r1, r1, 13
        mov     r6, r1
        shli    r6, r6, 7
        xor     r1, r6
        andi    r1, r1, 0x7fff
        mov     r6, r1
        shri    r6, r6, 2
        add     r1, r6
        ret

s_done:         .asciz "kjit: "
s_done2:        .asciz " routines written and run, checksum "
s_nl:           .asciz "\n"
        .align 4
vectors:        .word unexpected, unexpected, unexpected, unexpected, unexpected, unexpected
s_unexpected:   .asciz "kjit: unexpected trap, status "
        .align 4
buffer:         .space 64
                .space 512
kstack_top:
