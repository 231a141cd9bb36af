; =====================================================================================
;  klib — what the micro-guests share: the PSW layout, console output routines and the
;  unexpected-trap reporter (supervisor mode only)
; =====================================================================================
;  Assembled after a micro-guest's own source.  All routines write the console port
;  directly with `out`, so they must run in supervisor mode.  Calling convention:
;  argument in r1; r1..r4 clobbered; every other register preserved.

        .equ KLIB_CONSOLE, 0

; The PSW layout of isa_specs/pgm.toml [system], for every micro-guest.
        .equ OLD_STATUS, 0x00           ; old PSW: status word
        .equ OLD_PC, 0x04               ; old PSW: pc
        .equ NEW_PSW, 0x20              ; new PSW of cause c at NEW_PSW + PSW_SIZE * c
        .equ PSW_SIZE, 16

; kvectors: install the six new PSWs (causes 1..6), supervisor mode, interrupts off.
;   r1 = a table of six handler addresses, r2 = R.base and r3 = R.bound the handlers run
;   under.  r1, r4, r5 and r6 are clobbered.
kvectors:
        movl    r4, NEW_PSW + PSW_SIZE
        movi    r5, 6
kvectors_next:
        clr     r6
        st      r6, 0(r4)               ; status: supervisor, IE = 0, flags clear
        ld      r6, 0(r1)
        st      r6, 4(r4)               ; pc
        st      r2, 8(r4)               ; R.base
        st      r3, 12(r4)              ; R.bound
        addi    r1, r1, 4
        addi    r4, r4, PSW_SIZE
        dec     r5
        bne     kvectors_next
        ret

; kputc: r1 = character
kputc:
        out     r1, KLIB_CONSOLE
        ret

; kputs: r1 = NUL-terminated string
kputs:
        mov     r2, r1
kputs_loop:
        ldb     r1, 0(r2)
        cmpi    r1, 0
        beq     kputs_done
        out     r1, KLIB_CONSOLE
        inc     r2
        br      kputs_loop
kputs_done:
        ret

; kputdec: r1 = unsigned number, in decimal
kputdec:
        mov     r4, sp                  ; digits go on the stack, least significant first
        movi    r3, 10
kputdec_digit:
        mov     r2, r1
        remu    r2, r3
        addi    r2, r2, '0'
        push    r2
        divu    r1, r3
        bne     kputdec_digit
kputdec_out:
        pop     r1
        out     r1, KLIB_CONSOLE
        cmp     sp, r4
        bne     kputdec_out
        ret

; kputhex: r1 = number, as 0x%08x
kputhex:
        mov     r2, r1
        movi    r3, 8
        movi    r1, '0'
        out     r1, KLIB_CONSOLE
        movi    r1, 'x'
        out     r1, KLIB_CONSOLE
kputhex_digit:
        shri    r1, r2, 28
        cmpi    r1, 10
        blt     kputhex_num
        addi    r1, r1, 'a' - 10
        br      kputhex_put
kputhex_num:
        addi    r1, r1, '0'
kputhex_put:
        out     r1, KLIB_CONSOLE
        shli    r2, r2, 4
        dec     r3
        bne     kputhex_digit
        ret

; unexpected: where every trap a micro-guest does not expect is vectored.  Prints the
; guest's own s_unexpected message, then the old PSW's status and pc, and halts.  The
; guest defines s_unexpected and kstack_top.
unexpected:
        movl    sp, kstack_top
        movl    r1, s_unexpected
        call    kputs
        clr     r1
        ld      r1, OLD_STATUS(r1)      ; old PSW status (absolute)
        call    kputhex
        movl    r1, klib_s_at
        call    kputs
        clr     r1
        ld      r1, OLD_PC(r1)          ; old PSW pc (absolute)
        call    kputhex
        movi    r1, '\n'
        call    kputc
        halt

klib_s_at:      .asciz " at pc "
