; =====================================================================================
;  sieve — minios running one user-heavy task: the sieve of Eratosthenes
; =====================================================================================
;  Assembled after minios_kernel.s.  The task marks the composites below SIEVE_N in a
;  byte array, then counts the primes, printing pi(x) at every power of ten and at
;  SIEVE_N itself.  Almost all the time is spent in user mode (loads, stores, branches);
;  the kernel only takes the timer interrupt every QUANTUM instructions and serves a few
;  output system calls.  (Addresses inside the task are `label - SIEVE`: see
;  minios_tasks.s for the relocation convention.)

        .equ QUANTUM, 2000
        .equ NTASKS, 1
        .equ SIEVE_N, 100000            ; count the primes below this
        .equ SIEVE, 0x10000             ; region base
        .equ STACK_SIZE, 0x400


        .text
        .align 4
guest_name:     .asciz "sieve"
        .align 4
task_table:
        .word   tn_sieve, SIEVE, SIEVE_BOUND, 0
tn_sieve:       .asciz "sieve"

        .section sieve, "awx"
        .org SIEVE + USER_ENTRY
sieve_main:
        movl    r8, sieve_flags - SIEVE ; r8 = flags[0] (virtual); flags[i] = 1: composite
        movl    r9, SIEVE_N
        ; --- clear the array (a word at a time; it is padded to a multiple of 4)
        mov     r2, r8
        movl    r3, (SIEVE_N + 3) / 4
        clr     r4
sieve_clear:
        st      r4, 0(r2)
        addi    r2, r2, 4
        dec     r3
        bne     sieve_clear
        ; --- mark the multiples of every prime p with p*p < N, starting at p*p
        movi    r10, 2                  ; p
        movi    r4, 1
sieve_p:
        mov     r2, r10
        mul     r2, r10                 ; j = p*p
        cmp     r2, r9
        bgeu    sieve_count
        mov     r3, r8
        add     r3, r10
        ldb     r3, 0(r3)
        cmpi    r3, 0
        bne     sieve_next_p            ; p is composite: its multiples are marked already
        mov     r3, r8
        add     r3, r2                  ; &flags[j]
        mov     r5, r8
        add     r5, r9                  ; &flags[N]
sieve_mark:
        stb     r4, 0(r3)
        add     r3, r10
        cmp     r3, r5
        bltu    sieve_mark
sieve_next_p:
        inc     r10
        br      sieve_p
        ; --- count, reporting pi(10), pi(100), ... and pi(N)
sieve_count:
        clr     r10                     ; primes so far
        movi    r11, 2                  ; i
        movi    r7, 10                  ; next checkpoint
sieve_scan:
        cmp     r11, r7
        bne     sieve_nocheck
        callrel sieve_report
        muli    r7, r7, 10
sieve_nocheck:
        cmp     r11, r9
        bgeu    sieve_done
        mov     r3, r8
        add     r3, r11
        ldb     r3, 0(r3)
        cmpi    r3, 0
        bne     sieve_composite
        inc     r10
        mov     r6, r11                 ; the largest prime so far
sieve_composite:
        inc     r11
        br      sieve_scan
sieve_done:
        movi    r2, 10                  ; N itself a power of ten: reported already
        divu    r7, r2                  ; (the last checkpoint, r7 / 10)
        cmp     r7, r9
        beq     sieve_reported
        mov     r11, r9
        callrel sieve_report
sieve_reported:
        movl    r1, s_largest - SIEVE
        svc     SYS_PUTS
        mov     r1, r9
        svc     SYS_PUTDEC
        movl    r1, s_is - SIEVE
        svc     SYS_PUTS
        mov     r1, r6
        svc     SYS_PUTDEC
        movi    r1, '\n'
        svc     SYS_PUTC
        clr     r1
        svc     SYS_EXIT
        br      . - 2                   ; exit does not return (if it did: exit again)

; "sieve: pi(100) = 25": r11 = x, r10 = the count of primes below x
sieve_report:
        movl    r1, s_pi - SIEVE
        svc     SYS_PUTS
        mov     r1, r11
        svc     SYS_PUTDEC
        movl    r1, s_eq - SIEVE
        svc     SYS_PUTS
        mov     r1, r10
        svc     SYS_PUTDEC
        movi    r1, '\n'
        svc     SYS_PUTC
        ret

s_pi:           .asciz "sieve: primes below "
s_eq:           .asciz ": "
s_largest:      .asciz "sieve: the largest prime below "
s_is:           .asciz " is "
        .align 4
sieve_flags:                            ; SIEVE_N bytes (not in the image), then the stack
        .equ SIEVE_BOUND, (sieve_flags - SIEVE + SIEVE_N + STACK_SIZE + 0xff) / 0x100 * 0x100
