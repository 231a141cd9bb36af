; =====================================================================================
;  hostile_lib — the kernel every hostile micro-guest shares (assembled after the guest)
; =====================================================================================
;  hk_boot fills the six new PSWs so that every cause enters hk_trap in supervisor mode
;  with interrupts off and the kernel's own R.  hk_trap reports the trap (its cause and
;  the saved pc, for the first HK_REPORTS traps; every trap is counted) and then
;    - svc 0: prints the counts and halts (the guest's normal end);
;    - svc 2: prints r1 in hex; any other svc, or the timer: returns (rti);
;    - a fault, when the guest set hk_resume: continues in supervisor mode at hk_resume
;      (for attacks that leave nothing to return to, such as an R that covers no storage);
;    - any other fault: skips the faulting instruction (its length is in the top two bits
;      of its first parcel) and returns.
;  Only r12 and r13 are the kernel's; hk_trap changes no other register unless it halts.
;  (klib.s supplies kputs, kputdec, kputhex, kputc, OLD_STATUS, OLD_PC, NEW_PSW, PSW_SIZE.)

        .equ HK_OLD_BASE, 0x08
        .equ HK_REPORTS, 12

        .entry boot
boot:   movl    sp, kstack_top          ; every guest starts here, at its main (at 0x100)
        clr     r1                      ; with the kernel's R = (0, 1 MiB) in every new PSW
        movl    r2, 0x100000
        call    hk_boot
        br      main

hk_boot:                                ; r1 = R.base, r2 = R.bound for the new PSWs
        mov     r3, r2
        mov     r2, r1
        movl    r1, hk_vectors
        br      kvectors                ; (kvectors returns to hk_boot's caller)

hk_trap:
        clr     r13
        ld      r13, OLD_STATUS(r13)
        shri    r13, r13, 8
        andi    r13, r13, 0xff          ; the cause
        movl    r12, hk_counts
        shli    r13, r13, 2
        add     r12, r13
        ld      r13, 0(r12)
        inc     r13
        st      r13, 0(r12)
        movl    r12, hk_total
        ld      r13, 0(r12)
        inc     r13
        st      r13, 0(r12)
        cmpi    r13, HK_REPORTS
        bgt     hk_quiet
        movl    r12, hk_save            ; the report clobbers r1..r4: keep them
        st      r1, 0(r12)
        st      r2, 4(r12)
        st      r3, 8(r12)
        st      r4, 12(r12)
        st      sp, 16(r12)
        movl    sp, hk_stack_top
        movl    r1, hk_s_trap
        call    kputs
        clr     r1
        ld      r1, OLD_STATUS(r1)
        shri    r1, r1, 8
        andi    r1, r1, 0xff
        call    kputdec
        movl    r1, hk_s_at
        call    kputs
        clr     r1
        ld      r1, OLD_PC(r1)
        call    kputhex
        movl    r1, hk_s_mode
        call    kputs
        clr     r1
        ld      r1, OLD_STATUS(r1)
        andi    r1, r1, 1
        call    kputdec
        movi    r1, '\n'
        call    kputc
        movl    r12, hk_save
        ld      r1, 0(r12)
        ld      r2, 4(r12)
        ld      r3, 8(r12)
        ld      r4, 12(r12)
        ld      sp, 16(r12)
hk_quiet:
        clr     r13
        ld      r13, OLD_STATUS(r13)
        shri    r12, r13, 8
        andi    r12, r12, 0xff
        cmpi    r12, 5                  ; svc
        beq     hk_svc
        cmpi    r12, 6                  ; timer
        beq     hk_return
        movl    r12, hk_resume          ; a fault
        ld      r12, 0(r12)
        cmpi    r12, 0
        beq     hk_skip
        jmpr    r12                     ; supervisor, kernel R, interrupts off
hk_svc:
        shri    r13, r13, 16
        andi    r13, r13, 0xff
        cmpi    r13, 0
        beq     hk_exit
        cmpi    r13, 2
        beq     hk_print
hk_return:
        rti
hk_print:                               ; svc 2: print r1 in hex (r1..r4 kept)
        movl    r12, hk_save
        st      r1, 0(r12)
        st      r2, 4(r12)
        st      r3, 8(r12)
        st      r4, 12(r12)
        st      sp, 16(r12)
        movl    sp, hk_stack_top
        movl    r1, hk_s_value
        call    kputs
        movl    r12, hk_save
        ld      r1, 0(r12)
        call    kputhex
        movi    r1, '\n'
        call    kputc
        movl    r12, hk_save
        ld      r1, 0(r12)
        ld      r2, 4(r12)
        ld      r3, 8(r12)
        ld      r4, 12(r12)
        ld      sp, 16(r12)
        rti
hk_skip:
        clr     r12
        ld      r13, OLD_PC(r12)
        ld      r12, HK_OLD_BASE(r12)
        add     r12, r13
        ldb     r12, 1(r12)             ; the faulting instruction's first parcel, high byte
        shri    r12, r12, 6
        cmpi    r12, 2
        blt     hk_skip2
        add     r12, r12                ; 10 -> 4 bytes, 11 -> 6 bytes
        br      hk_skip_to
hk_skip2:
        movi    r12, 2
hk_skip_to:
        add     r13, r12
        clr     r12
        st      r13, OLD_PC(r12)
        rti

hk_exit:                                ; svc 0: the counts by cause, then halt
        movl    sp, hk_stack_top
        movl    r1, hk_s_counts
        call    kputs
        movi    r8, 1
hk_exit_loop:
        mov     r1, r8
        call    kputdec
        movi    r1, '='
        call    kputc
        movl    r2, hk_counts
        mov     r3, r8
        shli    r3, r3, 2
        add     r2, r3
        ld      r1, 0(r2)
        call    kputdec
        movi    r1, ' '
        call    kputc
        inc     r8
        cmpi    r8, 7
        blt     hk_exit_loop
        movi    r1, '\n'
        call    kputc
        halt

hk_s_trap:      .asciz "hostile: trap "
hk_s_at:        .asciz " at "
hk_s_mode:      .asciz " user="
hk_s_counts:    .asciz "hostile: traps by cause "
hk_s_value:     .asciz "hostile: value "
        .align 4
hk_vectors:     .word hk_trap, hk_trap, hk_trap, hk_trap, hk_trap, hk_trap
hk_resume:      .word 0
hk_total:       .word 0
hk_counts:      .word 0, 0, 0, 0, 0, 0, 0, 0
hk_save:        .word 0, 0, 0, 0, 0
                .space 256
hk_stack_top:

s_unexpected:   .asciz "hostile: unexpected\n"
        .align 4
                .space 256
kstack_top:
