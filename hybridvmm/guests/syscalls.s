; =====================================================================================
;  syscalls — micro-guest: a user-mode loop making system calls (svc-heavy)
; =====================================================================================
;  A tiny kernel installs one handler for `svc` and enters user mode with jrstu.  The
;  user loop makes 2 * SYSCALLS_N calls: `svc 1` adds i to a kernel-side sum and
;  returns it, `svc 2` returns how many calls the kernel has served.  At the end
;  `svc 0` hands the kernel the user's own check value (the xor of every count it
;  received) and the kernel prints both sides and halts.
;
;  Every call is a full PSW swap into the kernel and an rti back - the event a
;  trap-and-emulate monitor must reflect into the guest kernel every time.  There is no
;  protection here (the user code runs with the kernel's R): the guest measures the
;  trap path, nothing else.  (Assembled with klib.s for the output routines.)

        .equ SYSCALLS_N, 10000
        .equ SYS_EXIT, 0
        .equ SYS_ADD, 1
        .equ SYS_COUNT, 2

        .equ CAUSE_SVC, 5

        .org 0x100
        .entry boot
boot:
        movl    sp, kstack_top
        ; --- new PSWs: svc -> svc_entry, anything else -> unexpected (supervisor, IE = 0,
        ;     the R we booted with)
        srr     r2, r3
        movl    r1, vectors
        call    kvectors
        movl    r1, s_boot
        call    kputs
        movl    r1, SYSCALLS_N * 2
        call    kputdec
        movl    r1, s_boot2
        call    kputs
        movl    sp, ustack_top
        jrstu   user_main               ; supervisor -> user mode, same R

; ---- user mode -----------------------------------------------------------------------
user_main:
        movl    r8, SYSCALLS_N
        movi    r9, 1                   ; i
        clr     r10                     ; xor of the counts
user_loop:
        mov     r1, r9
        svc     SYS_ADD                 ; r1 = 1 + 2 + ... + i
        mov     r11, r1
        svc     SYS_COUNT               ; r1 = calls served so far
        xor     r10, r1
        inc     r9
        cmp     r9, r8
        bleu    user_loop
        mov     r1, r10
        mov     r2, r11
        svc     SYS_EXIT
        br      . - 2                   ; exit does not return (if it did: exit again)

; ---- the kernel's svc handler ----------------------------------------------------------
; The user's registers are live: r12/r13 are the handler's own, r2 is saved and
; restored.  The PSW pc of an svc is the next instruction, so rti simply returns.
svc_entry:
        movl    r12, ksave
        st      r2, 0(r12)
        clr     r13
        ld      r13, OLD_STATUS(r13)
        shri    r13, r13, 16
        andi    r13, r13, 0xff          ; the svc number
        movl    r12, ncalls
        ld      r2, 0(r12)
        inc     r2
        st      r2, 0(r12)
        cmpi    r13, SYS_ADD
        beq     sys_add
        cmpi    r13, SYS_COUNT
        beq     sys_count
        cmpi    r13, SYS_EXIT
        beq     sys_exit
        br      unexpected
sys_add:
        movl    r12, ksum
        ld      r2, 0(r12)
        add     r2, r1
        st      r2, 0(r12)
        mov     r1, r2
        br      svc_return
sys_count:
        mov     r1, r2
svc_return:
        movl    r12, ksave
        ld      r2, 0(r12)
        rti

sys_exit:                               ; r1 = the user's xor, r2 (saved) = its last sum
        movl    sp, kstack_top
        mov     r8, r1
        movl    r12, ksave
        ld      r9, 0(r12)
        movl    r1, s_served
        call    kputs
        movl    r1, ncalls
        ld      r1, 0(r1)
        call    kputdec
        movl    r1, s_sum
        call    kputs
        movl    r1, SYSCALLS_N
        call    kputdec
        movl    r1, s_eq
        call    kputs
        movl    r1, ksum
        ld      r1, 0(r1)
        call    kputdec
        movl    r1, s_user
        call    kputs
        mov     r1, r9
        call    kputdec
        movl    r1, s_xor
        call    kputs
        mov     r1, r8
        call    kputhex
        movi    r1, '\n'
        call    kputc
        halt


s_boot:         .asciz "syscalls: user mode will make "
s_boot2:        .asciz " system calls\n"
s_served:       .asciz "syscalls: kernel served "
s_sum:          .asciz " calls; kernel sum 1.."
s_eq:           .asciz " = "
s_user:         .asciz ", user saw "
s_xor:          .asciz ", xor of the counts "
        .align 4
vectors:        .word unexpected, unexpected, unexpected, unexpected, svc_entry, unexpected
s_unexpected:   .asciz "syscalls: unexpected trap, status "
        .align 4
ksave:          .word 0
ncalls:         .word 0
ksum:           .word 0
                .space 256
ustack_top:
                .space 256
kstack_top:
