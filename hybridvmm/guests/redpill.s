; =====================================================================================
;  redpill — micro-guest: can a user program tell that it runs under a monitor?
; =====================================================================================
;  Joanna Rutkowska's "Red Pill" (2004) detected VMware with one user-mode x86
;  instruction, SIDT, which reveals where the real descriptor table lives.  pgm's srr is
;  the same leak (it reveals the real relocation register), and pushf and rdtime leak the
;  real interrupt enable and interval timer.  Here the user program executes all three
;  and prints what it saw, and whether srr agrees with the R the kernel says it gave it.
;
;  The kernel runs the user program with interrupts off and the timer unarmed (nothing
;  preempts it), with its own R.  On variants where srr, pushf or rdtime trap in user
;  mode the kernel emulates them with exactly their pgm-x86 user-mode meaning, so the
;  output is the same on every variant - and any monitor that lets the instructions run
;  unpatched in user mode makes it differ (hybrid --no-patch on pgm-x86).  Before that,
;  the kernel checks its own critical section (pushf, di, popf): a popf that does not
;  restore IE - popf executed deprivileged, as under trap-and-emulate on pgm-hybrid and
;  pgm-x86 - shows in the first line it prints.  (Assembled with klib.s.)

        .equ CAUSE_PRIVILEGED, 1
        .equ CAUSE_SVC, 5
        .equ LC_TIME, 0x10              ; low-core scratch: the timer sampled at trap entry
        .equ OLD_BASE, 0x08
        .equ OLD_BOUND, 0x0c
        .equ PSW_IE, 2
        .equ PSW_VISIBLE, 0xf3          ; what pushf pushes: NZCV, IE, M
        .equ OP_PUSHF, 0x06
        .equ OP_SRR, 0x28
        .equ OP_RDTIME, 0x29
        .equ SYS_EXIT, 0
        .equ SYS_PUTS, 1
        .equ SYS_PUTHEX, 2
        .equ SYS_PUTDEC, 3

        .org 0x100
        .entry boot
boot:
        movl    sp, kstack_top
        ; --- new PSWs: privileged -> priv_entry, svc -> svc_entry, others -> unexpected
        srr     r2, r3
        movl    r4, kernel_r
        st      r2, 0(r4)
        st      r3, 4(r4)
        movl    r1, vectors
        call    kvectors
        movl    r1, s_boot
        call    kputs
        ; --- the kernel's own critical section: pushf saves IE = 1, popf must restore it
        ei
        pushf
        di
        popf
        pushf
        pop     r8
        di
        movl    r1, s_kie
        call    kputs
        andi    r1, r8, PSW_IE
        shri    r1, r1, 1
        call    kputdec
        movl    r1, s_nl
        call    kputs
        ; --- the user program: same R, interrupts off, no timer
        movl    r3, kernel_r
        ld      r10, 0(r3)              ; the R the user runs under, for it to compare
        ld      r11, 4(r3)
        movl    sp, ustack_top
        jrstu   user_main

; ---- user mode -----------------------------------------------------------------------
user_main:
        srr     r8, r9                  ; the relocation register, as the machine says
        movl    r1, s_srr
        svc     SYS_PUTS
        mov     r1, r8
        svc     SYS_PUTHEX
        movl    r1, s_comma
        svc     SYS_PUTS
        mov     r1, r9
        svc     SYS_PUTHEX
        movl    r1, s_close
        svc     SYS_PUTS
        movl    r1, s_same
        cmp     r8, r10
        bne     user_detected
        cmp     r9, r11
        beq     user_verdict
user_detected:
        movl    r1, s_moved
user_verdict:
        svc     SYS_PUTS
        pushf                           ; the status word: NZCV, IE and M
        pop     r8
        movl    r1, s_pushf
        svc     SYS_PUTS
        mov     r1, r8
        svc     SYS_PUTHEX
        movl    r1, s_ie
        svc     SYS_PUTS
        andi    r1, r8, PSW_IE
        shri    r1, r1, 1
        svc     SYS_PUTDEC
        movl    r1, s_nl
        svc     SYS_PUTS
        rdtime  r8                      ; the interval timer: never armed, so 0
        movl    r1, s_rdtime
        svc     SYS_PUTS
        mov     r1, r8
        svc     SYS_PUTDEC
        movl    r1, s_nl
        svc     SYS_PUTS
        svc     SYS_EXIT
        br      . - 2

; ---- system calls: r1 is the argument; r1..r4 are clobbered ----------------------------
svc_entry:
        clr     r13
        ld      r13, OLD_STATUS(r13)
        shri    r13, r13, 16
        andi    r13, r13, 0xff
        cmpi    r13, SYS_PUTS
        beq     sys_puts
        cmpi    r13, SYS_PUTHEX
        beq     sys_puthex
        cmpi    r13, SYS_PUTDEC
        beq     sys_putdec
        cmpi    r13, SYS_EXIT
        beq     sys_exit
        br      unexpected
sys_puts:
        call    kputs
        rti
sys_puthex:
        call    kputhex
        rti
sys_putdec:
        call    kputdec
        rti
sys_exit:
        movl    r1, s_exit
        call    kputs
        halt

; ---- a sensitive instruction trapped in user mode: emulate its pgm-x86 user meaning ----
priv_entry:
        rdtime  r13                     ; what the user's rdtime would have read
        clr     r12
        st      r13, LC_TIME(r12)
        ld      r13, OLD_PC(r12)        ; the trapping instruction (R = all: an address)
        ldb     r13, 1(r13)             ; its opcode byte
        cmpi    r13, OP_SRR
        beq     emu_srr
        cmpi    r13, OP_PUSHF
        beq     emu_pushf
        cmpi    r13, OP_RDTIME
        beq     emu_rdtime
        br      unexpected
emu_srr:                                ; srr r8, r9: the R the user runs under
        ld      r8, OLD_BASE(r12)
        ld      r9, OLD_BOUND(r12)
        br      emu_next
emu_pushf:                              ; push the user's own NZCV, IE and M
        ld      r13, OLD_STATUS(r12)
        andi    r13, r13, PSW_VISIBLE
        addi    sp, sp, -4
        st      r13, 0(sp)
        br      emu_next
emu_rdtime:                             ; rdtime r8
        ld      r8, LC_TIME(r12)
emu_next:
        ld      r13, OLD_PC(r12)
        addi    r13, r13, 2
        st      r13, OLD_PC(r12)
        rti

s_boot:         .asciz "redpill: can a user program see the monitor?\n"
s_kie:          .asciz "redpill: kernel: IE after pushf/di/popf = "
s_srr:          .asciz "redpill: user: srr says R = ("
s_comma:        .asciz ", "
s_close:        .asciz ")\n"
s_same:         .asciz "redpill: user: that is the R the kernel gave me: no monitor in sight\n"
s_moved:        .asciz "redpill: user: that is NOT the R the kernel gave me: I am relocated by a monitor\n"
s_pushf:        .asciz "redpill: user: pushf says status "
s_ie:           .asciz ", IE = "
s_rdtime:       .asciz "redpill: user: rdtime says "
s_exit:         .asciz "redpill: done\n"
s_nl:           .asciz "\n"
        .align 4
vectors:        .word priv_entry, unexpected, unexpected, unexpected, svc_entry, unexpected
s_unexpected:   .asciz "redpill: unexpected trap, status "
        .align 4
kernel_r:       .word 0, 0
                .space 256
ustack_top:
                .space 256
kstack_top:
