; =====================================================================================
;  fib — minios running one user-heavy task: doubly recursive fibonacci
; =====================================================================================
;  Assembled after minios_kernel.s.  fib(n) = fib(n-1) + fib(n-2) computed the slow
;  way: fib(n) makes 2*fib(n+1) - 1 calls, each a callrel/ret pair with pushes and pops,
;  so this workload is dominated by user-mode stack traffic.  It prints fib(0..10), then
;  fib(FIB_N) and how many calls that took.  (Addresses inside the task are
;  `label - FIB`: see minios_tasks.s for the relocation convention.)

        .equ QUANTUM, 2000
        .equ NTASKS, 1
        .equ FIB_N, 24
        .equ FIB, 0x10000               ; region base
        .equ FIB_BOUND, 0x1000


        .text
        .align 4
guest_name:     .asciz "fib"
        .align 4
task_table:
        .word   tn_fib, FIB, FIB_BOUND, 0
tn_fib:         .asciz "fib"

        .section fib, "awx"
        .org FIB + USER_ENTRY
fib_main:
        ; --- "fib: 0 1 1 2 3 5 8 13 21 34 55"
        movl    r1, s_first - FIB
        svc     SYS_PUTS
        clr     r8
fib_small:
        mov     r1, r8
        callrel fib
        svc     SYS_PUTDEC
        movi    r1, ' '
        cmpi    r8, 10
        blt     fib_sep
        movi    r1, '\n'
fib_sep:
        svc     SYS_PUTC
        inc     r8
        cmpi    r8, 11
        blt     fib_small
        ; --- the big one
        clr     r10                     ; call counter (fib increments it)
        movi    r1, FIB_N
        callrel fib
        mov     r9, r1
        movl    r1, s_fib - FIB
        svc     SYS_PUTS
        movi    r1, FIB_N
        svc     SYS_PUTDEC
        movl    r1, s_eq - FIB
        svc     SYS_PUTS
        mov     r1, r9
        svc     SYS_PUTDEC
        movl    r1, s_calls - FIB
        svc     SYS_PUTS
        mov     r1, r10
        svc     SYS_PUTDEC
        movl    r1, s_calls2 - FIB
        svc     SYS_PUTS
        clr     r1
        svc     SYS_EXIT
        br      . - 2                   ; exit does not return (if it did: exit again)

; fib: r1 = n -> r1 = fib(n); clobbers r2; counts itself in r10
fib:
        inc     r10
        cmpi    r1, 2
        blt     fib_ret                 ; fib(0) = 0, fib(1) = 1
        push    r1
        addi    r1, r1, -1
        callrel fib                     ; fib(n-1)
        pop     r2
        push    r1
        addi    r1, r2, -2
        callrel fib                     ; fib(n-2)
        pop     r2
        add     r1, r2
fib_ret:
        ret

s_first:        .asciz "fib: "
s_fib:          .asciz "fib: fib("
s_eq:           .asciz ") = "
s_calls:        .asciz " ("
s_calls2:       .asciz " calls)\n"
