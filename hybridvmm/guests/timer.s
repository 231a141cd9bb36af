; =====================================================================================
;  timer — micro-guest: a user loop interrupted every TIMER_PERIOD instructions
; =====================================================================================
;  The kernel arms the interval timer, enables interrupts and drops to a user-mode loop
;  that only counts (`inc r1; br`).  Each timer interrupt swaps the PSW into the
;  kernel, which counts it, re-arms the timer and returns with rti; after TIMER_TICKS
;  interrupts it prints how far the user loop got and halts.
;
;  The count is exact: the timer counts completed instructions, so after the first
;  slice (TIMER_PERIOD - 2 user instructions: ei and jrstu count) every slice gives the
;  user TIMER_PERIOD - 1 instructions (the handler's rti counts).  A monitor must deliver
;  its virtual timer interrupts at exactly those instructions to print the same number.
;  (Assembled with klib.s for the output routines.)

        .equ TIMER_TICKS, 5000
        .equ TIMER_PERIOD, 40

        .equ CAUSE_TIMER, 6

        .org 0x100
        .entry boot
boot:
        movl    sp, kstack_top
        ; --- new PSWs: timer -> tick, anything else -> unexpected
        srr     r2, r3
        movl    r1, vectors
        call    kvectors
        movl    r1, s_boot
        call    kputs
        movl    r1, TIMER_TICKS
        call    kputdec
        movl    r1, s_boot2
        call    kputs
        movl    r1, TIMER_PERIOD
        call    kputdec
        movl    r1, s_boot3
        call    kputs
        clr     r1
        movl    r2, TIMER_PERIOD
        settimer r2
        ei                              ; jrstu keeps IE: the loop runs interruptible
        jrstu   user_loop

; ---- user mode ---------------------------------------------------------------------------
user_loop:
        inc     r1
        br      user_loop

; ---- the timer interrupt: r12/r13 only, the user's r1 stays live -------------------------
tick:
        movl    r13, ticks
        ld      r12, 0(r13)
        inc     r12
        st      r12, 0(r13)
        cmpi    r12, TIMER_TICKS
        beq     done
        movl    r12, TIMER_PERIOD
        settimer r12
        rti

done:
        movl    sp, kstack_top
        mov     r8, r1
        movl    r1, s_done
        call    kputs
        movl    r1, ticks
        ld      r1, 0(r1)
        call    kputdec
        movl    r1, s_done2
        call    kputs
        mov     r1, r8
        call    kputdec
        movl    r1, s_done3
        call    kputs
        halt


s_boot:         .asciz "timer: "
s_boot2:        .asciz " interrupts, one every "
s_boot3:        .asciz " instructions\n"
s_done:         .asciz "timer: after "
s_done2:        .asciz " interrupts the user loop had counted to "
s_done3:        .asciz "\n"
        .align 4
vectors:        .word unexpected, unexpected, unexpected, unexpected, unexpected, tick
s_unexpected:   .asciz "timer: unexpected trap, status "
        .align 4
ticks:          .word 0
                .space 256
kstack_top:
