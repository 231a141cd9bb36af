; =====================================================================================
;  privileged — micro-guest: supervisor code full of privileged instructions
; =====================================================================================
;  No user mode at all: the kernel runs PRIV_N rounds of
;
;      di; pushf          IE must read 0
;      ei; pushf          IE must read 1
;      popf (IE = 0)      supervisor popf does restore IE
;      srr; setr; srr     shrink R to half the storage and back, checking what srr shows
;      settimer; rdtime   right after settimer n, rdtime reads n; then settimer 0 (off)
;
;  and counts how often each check held.  Every one of these instructions is
;  privileged or sensitive, so a monitor that runs this kernel deprivileged takes a
;  trap on each, and one that interprets supervisor code interprets all of it; a monitor
;  that gets the virtual IE, R or timer wrong changes the counts it prints.
;  (Assembled with klib.s for the output routines.)

        .equ PRIV_N, 10000
        .equ TIMER_SET, 12345           ; never expires: turned off right after the read
        .equ PSW_IE, 2


        .org 0x100
        .entry boot
boot:
        movl    sp, kstack_top
        ; --- every trap is unexpected here
        srr     r10, r11                ; the boot R: (base, bound) = (0, storage size)
        mov     r2, r10
        mov     r3, r11
        movl    r1, vectors
        call    kvectors
        movl    r1, s_boot
        call    kputs
        mov     r1, r10
        call    kputhex
        movl    r1, s_comma
        call    kputs
        mov     r1, r11
        call    kputhex
        movl    r1, s_boot2
        call    kputs

        clr     r5                      ; rounds where di left IE = 0
        clr     r6                      ; ... ei set IE = 1
        clr     r7                      ; srr checks that held (2 per round)
        clr     r8                      ; rdtime checks that held
        clr     r0                      ; popf checks that held
        movl    r9, PRIV_N
        shri    r14, r11, 1             ; half the bound (the code lies far below it)
round:
        di
        pushf
        pop     r1
        andi    r1, r1, PSW_IE
        bne     round_ei
        inc     r5
round_ei:
        ei
        pushf
        pop     r1
        andi    r1, r1, PSW_IE
        beq     round_popf
        inc     r6
round_popf:
        clr     r1                      ; a status word with IE = 0
        push    r1
        popf                            ; supervisor: IE := 0
        pushf
        pop     r1
        andi    r1, r1, PSW_IE
        bne     round_srr
        inc     r0
round_srr:
        srr     r1, r2
        cmp     r1, r10
        bne     round_shrink
        cmp     r2, r11
        bne     round_shrink
        inc     r7
round_shrink:
        setr    r10, r14                ; R = (base, bound / 2)
        srr     r1, r2
        cmp     r2, r14
        bne     round_restore
        inc     r7
round_restore:
        setr    r10, r11                ; R back to all of storage
        movl    r1, TIMER_SET
        settimer r1
        rdtime  r2                      ; reads TIMER_SET: the count includes rdtime itself
        cmp     r2, r1
        bne     round_off
        inc     r8
round_off:
        clr     r1
        settimer r1                     ; timer off
        dec     r9
        bne     round

        movl    r1, s_rounds
        call    kputs
        movl    r1, PRIV_N
        call    kputdec
        movl    r1, s_di
        call    kputs
        mov     r1, r5
        call    kputdec
        movl    r1, s_ei
        call    kputs
        mov     r1, r6
        call    kputdec
        movl    r1, s_popf
        call    kputs
        mov     r1, r0
        call    kputdec
        movl    r1, s_srr
        call    kputs
        mov     r1, r7
        call    kputdec
        movl    r1, s_rdtime
        call    kputs
        mov     r1, r8
        call    kputdec
        movi    r1, '\n'
        call    kputc
        halt


s_boot:         .asciz "privileged: supervisor only, R = ("
s_comma:        .asciz ", "
s_boot2:        .asciz ")\n"
s_rounds:       .asciz "privileged: "
s_di:           .asciz " rounds; IE=0 after di: "
s_ei:           .asciz ", IE=1 after ei: "
s_popf:         .asciz ", IE=0 after popf: "
s_srr:          .asciz ", srr as set: "
s_rdtime:       .asciz ", rdtime right after settimer: "
        .align 4
vectors:        .word unexpected, unexpected, unexpected, unexpected, unexpected, unexpected
s_unexpected:   .asciz "privileged: unexpected trap, status "
        .align 4
                .space 256
kstack_top:
