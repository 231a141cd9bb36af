; =====================================================================================
;  stopwatch — micro-guest: a user program timing its own loops with the interval timer
; =====================================================================================
;  The kernel arms a watchdog (the interval timer, WATCHDOG instructions) and runs the
;  user program with interrupts on.  The user program reads the timer with rdtime before
;  and after each of LAPS busy loops (like user code reading x86's time-stamp counter) and
;  reports through a system call how long each lap took and how much of the watchdog is
;  left.  Both numbers are exact: the timer counts completed instructions.
;
;  Where rdtime traps in user mode the kernel emulates it exactly: the handler's first
;  instruction samples the timer (which is what the user's rdtime would have read), and
;  the timer is re-armed so that the handler's own instructions are not charged to the
;  user.  So the output is the same on every variant.  Under a monitor the interval timer
;  the hardware runs is the monitor's; a guest reading it directly (hybrid --no-patch on
;  pgm-x86) sees the monitor's time slice instead of its watchdog.  (Assembled with klib.s.)

        .equ WATCHDOG, 1000000
        .equ LAPS, 6
        .equ LAP_N, 500
        .equ CAUSE_PRIVILEGED, 1
        .equ CAUSE_SVC, 5
        .equ CAUSE_TIMER, 6
        .equ OP_RDTIME, 0x29
        .equ EMU_COST, 5                ; instructions from the handler's settimer to its rti
        .equ SYS_EXIT, 0
        .equ SYS_LAP, 1

        .org 0x100
        .entry boot
boot:
        movl    sp, kstack_top
        srr     r2, r3
        movl    r1, vectors
        call    kvectors
        movl    r1, s_boot
        call    kputs
        movl    r1, WATCHDOG
        call    kputdec
        movl    r1, s_boot2
        call    kputs
        movl    sp, ustack_top
        movl    r1, WATCHDOG
        settimer r1
        ei
        jrstu   user_main

; ---- user mode -----------------------------------------------------------------------
user_main:
        movi    r10, 1                  ; lap number
user_lap:
        rdtime  r1
        mov     r8, r1                  ; t0
        movl    r9, LAP_N
        mov     r2, r10
        mul     r9, r2                  ; lap k spins k * LAP_N times
user_spin:
        dec     r9
        bne     user_spin
        rdtime  r1                      ; t1
        sub     r8, r1                  ; elapsed = t0 - t1
        svc     SYS_LAP                 ; r8 = elapsed, r1 = watchdog left, r10 = lap
        inc     r10
        cmpi    r10, LAPS + 1
        blt     user_lap
        svc     SYS_EXIT
        br      . - 2

; ---- system calls (interrupts off in here) -----------------------------------------------
svc_entry:
        clr     r13
        ld      r13, OLD_STATUS(r13)
        shri    r13, r13, 16
        andi    r13, r13, 0xff
        cmpi    r13, SYS_LAP
        beq     sys_lap
        cmpi    r13, SYS_EXIT
        beq     sys_exit
        br      unexpected
sys_lap:
        mov     r9, r1                  ; (the output routines clobber r1..r4)
        movl    r1, s_lap
        call    kputs
        mov     r1, r10
        call    kputdec
        movl    r1, s_took
        call    kputs
        mov     r1, r8
        call    kputdec
        movl    r1, s_left
        call    kputs
        mov     r1, r9
        call    kputdec
        movl    r1, s_nl
        call    kputs
        rti
sys_exit:
        movl    r1, s_exit
        call    kputs
        halt

; ---- the watchdog fired: the user program ran too long -----------------------------------
watchdog:
        movl    sp, kstack_top
        movl    r1, s_watchdog
        call    kputs
        halt

; ---- rdtime r1 trapped in user mode: emulate it exactly ----------------------------------
priv_entry:
        rdtime  r13                     ; S: what the user's rdtime would have read
        mov     r1, r13
        addi    r13, r13, EMU_COST - 1  ; S - 1 left once the user resumes, as after its rdtime
        settimer r13
        clr     r12
        ld      r13, OLD_PC(r12)
        addi    r13, r13, 2
        st      r13, OLD_PC(r12)
        rti

s_boot:         .asciz "stopwatch: watchdog "
s_boot2:        .asciz " instructions\n"
s_lap:          .asciz "stopwatch: lap "
s_took:         .asciz " took "
s_left:         .asciz " instructions, watchdog has "
s_exit:         .asciz "stopwatch: done\n"
s_watchdog:     .asciz "stopwatch: the watchdog fired\n"
s_nl:           .asciz " left\n"
        .align 4
vectors:        .word priv_entry, unexpected, unexpected, unexpected, svc_entry, watchdog
s_unexpected:   .asciz "stopwatch: unexpected trap, status "
        .align 4
                .space 256
ustack_top:
                .space 256
kstack_top:
