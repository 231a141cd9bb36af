; =====================================================================================
;  minios demo tasks (assembled after minios_kernel.s)
; =====================================================================================
;
;  Seven tasks, each in its own relocation region R = (base, bound).  R relocates every
;  storage access of a task - instruction fetch included - so a task sees its region
;  at virtual addresses 0 .. bound-1 whatever its base.  The assembler works with
;  storage (physical) addresses, so inside a task every absolute reference is written
;  `label - BASE` (its virtual address); branches and callrel are pc-relative and need
;  nothing.  Every task starts at USER_ENTRY (just after the trampoline at 0x100) with
;  sp at the top of its region.  r12/r13 are the kernel's: tasks leave them alone.
;
;    1 alpha    computes sums of squares, preempted many times   (interleaving)
;    2 beta     counts primes by trial division                  (interleaving)
;    3 gamma    Collatz chains, yields after each line           (svc yield)
;    4 sysinfo  what srr, pushf, rdtime show it; user-mode jrstu and popf
;    5 rogue    tries `halt`                                     (killed: privileged)
;    6 snoop    reads above its region                           (killed: bounds)
;    7 spinner  loops forever                                    (killed: CPU limit)

        .equ QUANTUM, 400               ; time slice in instructions
        .equ NTASKS, 7
        .equ REGION, 0x1000             ; every region's bound (size)
        .equ ALPHA, 0x4000              ; region bases
        .equ BETA, 0x5000
        .equ GAMMA, 0x6000
        .equ SYSINFO, 0x7000
        .equ ROGUE, 0x8000
        .equ SNOOP, 0x9000
        .equ SPINNER, 0xa000
        .equ SPINNER_LIMIT, 4           ; CPU limit of the spinner, in timer ticks

        .equ ALPHA_STEPS, 4
        .equ ALPHA_N, 100               ; step k sums the squares 1 .. k*ALPHA_N
        .equ BETA_STEPS, 4
        .equ BETA_N, 150                ; step k counts the primes below k*BETA_N
        .equ GAMMA_STEPS, 4
        .equ SPIN, 1500                 ; sysinfo's busy loop after popf, in instructions

; system call numbers (see minios_kernel.s)

        .text                           ; (kernel data: the table and the names)
        .align 4
guest_name:     .asciz "minios demo"
        .align 4
task_table:
        .word   tn_alpha, ALPHA, REGION, 0
        .word   tn_beta, BETA, REGION, 0
        .word   tn_gamma, GAMMA, REGION, 0
        .word   tn_sysinfo, SYSINFO, REGION, 0
        .word   tn_rogue, ROGUE, REGION, 0
        .word   tn_snoop, SNOOP, REGION, 0
        .word   tn_spinner, SPINNER, REGION, SPINNER_LIMIT
tn_alpha:       .asciz "alpha"
tn_beta:        .asciz "beta"
tn_gamma:       .asciz "gamma"
tn_sysinfo:     .asciz "sysinfo"
tn_rogue:       .asciz "rogue"
tn_snoop:       .asciz "snoop"
tn_spinner:     .asciz "spinner"

; =====================================================================================
;  1 alpha: step k prints 1^2 + 2^2 + ... + (k*ALPHA_N)^2
; =====================================================================================
        .section alpha, "awx"
        .org ALPHA + USER_ENTRY
alpha_main:
        movi    r8, 1                   ; step
alpha_step:
        muli    r9, r8, ALPHA_N         ; m = k * N
        clr     r10                     ; sum
        movi    r11, 1                  ; i
alpha_loop:
        mov     r1, r11
        mul     r1, r11
        add     r10, r1
        inc     r11
        cmp     r11, r9
        ble     alpha_loop
        movl    r1, alpha_s1 - ALPHA
        svc     SYS_PUTS
        mov     r1, r8
        svc     SYS_PUTDEC
        movl    r1, alpha_s2 - ALPHA
        svc     SYS_PUTS
        mov     r1, r9
        svc     SYS_PUTDEC
        movl    r1, alpha_s3 - ALPHA
        svc     SYS_PUTS
        mov     r1, r10
        svc     SYS_PUTDEC
        movi    r1, '\n'
        svc     SYS_PUTC
        inc     r8
        cmpi    r8, ALPHA_STEPS + 1
        blt     alpha_step
        clr     r1
        svc     SYS_EXIT
        br      . - 2                   ; exit does not return (if it did: exit again)
alpha_s1:       .asciz "alpha: step "
alpha_s2:       .asciz ": sum of squares 1.."
alpha_s3:       .asciz " = "

; =====================================================================================
;  2 beta: step k prints the number of primes below k*BETA_N (trial division)
; =====================================================================================
        .section beta, "awx"
        .org BETA + USER_ENTRY
beta_main:
        movi    r8, 1                   ; step
beta_step:
        muli    r9, r8, BETA_N          ; limit
        clr     r10                     ; count
        movi    r11, 2                  ; n
beta_n:
        cmp     r11, r9
        bge     beta_report
        movi    r4, 2                   ; d
beta_d:
        mov     r5, r4
        mul     r5, r4
        cmp     r5, r11
        bgt     beta_prime              ; d*d > n: no divisor
        mov     r5, r11
        remu    r5, r4
        beq     beta_next               ; divisible: composite
        inc     r4
        br      beta_d
beta_prime:
        inc     r10
beta_next:
        inc     r11
        br      beta_n
beta_report:
        movl    r1, beta_s1 - BETA
        svc     SYS_PUTS
        mov     r1, r8
        svc     SYS_PUTDEC
        movl    r1, beta_s2 - BETA
        svc     SYS_PUTS
        mov     r1, r9
        svc     SYS_PUTDEC
        movl    r1, beta_s3 - BETA
        svc     SYS_PUTS
        mov     r1, r10
        svc     SYS_PUTDEC
        movi    r1, '\n'
        svc     SYS_PUTC
        inc     r8
        cmpi    r8, BETA_STEPS + 1
        blt     beta_step
        clr     r1
        svc     SYS_EXIT
        br      . - 2                   ; exit does not return (if it did: exit again)
beta_s1:        .asciz "beta: step "
beta_s2:        .asciz ": primes below "
beta_s3:        .asciz ": "

; =====================================================================================
;  3 gamma: Collatz chain lengths of a few starting values; yields after each line
; =====================================================================================
        .section gamma, "awx"
        .org GAMMA + USER_ENTRY
gamma_main:
        movl    r8, gamma_starts - GAMMA
gamma_next:
        ld      r9, 0(r8)               ; start value (0 ends the list)
        cmpi    r9, 0
        beq     gamma_done
        mov     r10, r9                 ; n
        clr     r11                     ; steps
        movi    r2, 1
gamma_loop:
        cmpi    r10, 1
        beq     gamma_report
        andi    r3, r10, 1
        bne     gamma_odd
        shri    r10, r10, 1             ; even: n / 2
        br      gamma_count
gamma_odd:
        muli    r10, r10, 3             ; odd: 3n + 1
        inc     r10
gamma_count:
        inc     r11
        br      gamma_loop
gamma_report:
        movl    r1, gamma_s1 - GAMMA
        svc     SYS_PUTS
        mov     r1, r9
        svc     SYS_PUTDEC
        movl    r1, gamma_s2 - GAMMA
        svc     SYS_PUTS
        mov     r1, r11
        svc     SYS_PUTDEC
        movl    r1, gamma_s3 - GAMMA
        svc     SYS_PUTS
        svc     SYS_YIELD               ; let the others run
        addi    r8, r8, 4
        br      gamma_next
gamma_done:
        clr     r1
        svc     SYS_EXIT
        br      . - 2                   ; exit does not return (if it did: exit again)
        .align 4
gamma_starts:   .word 27, 97, 871, 6171, 0
gamma_s1:       .asciz "gamma: collatz("
gamma_s2:       .asciz ") reaches 1 after "
gamma_s3:       .asciz " steps; yielding\n"

; =====================================================================================
;  4 sysinfo: what the sensitive instructions show a user-mode task
; =====================================================================================
;  On pgm-x86 these instructions execute in user mode; on pgm-hybrid pushf/srr/rdtime
;  trap and on pgm-virt all five trap, and the kernel emulates them.  Either way the
;  task must see the same thing - that is the test of the kernel (and, later, of a VMM
;  that runs this kernel: a monitor that lets srr reveal the *real* R, or rdtime the
;  real timer, or jrstu/popf act on the real mode and IE, changes these lines).
        .section sysinfo, "awx"
        .org SYSINFO + USER_ENTRY
sysinfo_main:
        svc     SYS_GETID
        mov     r8, r1                  ; my task id
        ; --- srr: where am I in storage?  (the x86 sgdt/smsw problem)
        srr     r2, r3
        movl    r1, si_srr1 - SYSINFO
        svc     SYS_PUTS
        mov     r1, r8
        svc     SYS_PUTDEC
        movl    r1, si_srr2 - SYSINFO
        svc     SYS_PUTS
        mov     r1, r2
        svc     SYS_PUTHEX
        movl    r1, si_comma - SYSINFO
        svc     SYS_PUTS
        mov     r1, r3
        svc     SYS_PUTHEX
        movl    r1, si_srr3 - SYSINFO
        svc     SYS_PUTS
        ; --- pushf: which mode am I in, are interrupts on?  (x86 pushf)
        clr     r4                      ; known flags: Z set, N C V clear
        pushf
        pop     r4
        movl    r1, si_pushf1 - SYSINFO
        svc     SYS_PUTS
        mov     r1, r4
        svc     SYS_PUTHEX
        movl    r1, si_pushf2 - SYSINFO
        svc     SYS_PUTS
        andi    r1, r4, 1
        svc     SYS_PUTDEC
        movl    r1, si_pushf3 - SYSINFO
        svc     SYS_PUTS
        shri    r1, r4, 1
        andi    r1, r1, 1
        svc     SYS_PUTDEC
        movl    r1, si_pushf4 - SYSINFO
        svc     SYS_PUTS
        ; --- rdtime: how much of my time slice is left?  Start on a fresh slice.
        svc     SYS_YIELD
        rdtime  r4
        movi    r5, 50
sysinfo_wait:
        dec     r5
        bne     sysinfo_wait
        rdtime  r6                      ; 1 + 1 + 100 instructions after the first read
        movl    r1, si_time1 - SYSINFO
        svc     SYS_PUTS
        mov     r1, r4
        svc     SYS_PUTDEC
        movl    r1, si_time2 - SYSINFO
        svc     SYS_PUTS
        mov     r1, r6
        svc     SYS_PUTDEC
        movl    r1, si_time3 - SYSINFO
        svc     SYS_PUTS
        mov     r1, r4
        sub     r1, r6
        svc     SYS_PUTDEC
        movl    r1, si_time4 - SYSINFO
        svc     SYS_PUTS
        ; --- jrstu in user mode: only a jump (PDP-10 JRST 1 in user mode)
        jrstu   sysinfo_jumped - SYSINFO
        movl    r1, si_nojump - SYSINFO ; (not reached)
        svc     SYS_PUTS
sysinfo_jumped:
        pushf
        pop     r4
        movl    r1, si_jrstu - SYSINFO
        svc     SYS_PUTS
        andi    r1, r4, 1
        svc     SYS_PUTDEC
        movi    r1, '\n'
        svc     SYS_PUTC
        ; --- popf in user mode: cannot switch interrupts off (x86 popf)
        svc     SYS_GETTICKS
        mov     r9, r1                  ; ticks charged to me so far
        clr     r1
        push    r1                      ; a status word with IE = 0 (and no flags)
        popf                            ; IE stays 1: the timer still preempts us
        movl    r5, SPIN / 2
sysinfo_spin:
        dec     r5
        bne     sysinfo_spin
        svc     SYS_GETTICKS
        mov     r10, r1
        movl    r1, si_popf1 - SYSINFO
        svc     SYS_PUTS
        movl    r1, SPIN
        svc     SYS_PUTDEC
        movl    r1, si_popf2 - SYSINFO
        svc     SYS_PUTS
        mov     r1, r10
        sub     r1, r9
        svc     SYS_PUTDEC
        movl    r1, si_popf3 - SYSINFO
        svc     SYS_PUTS
        clr     r1
        svc     SYS_EXIT
        br      . - 2                   ; exit does not return (if it did: exit again)
si_srr1:        .asciz "sysinfo: task "
si_srr2:        .asciz ": srr says R = ("
si_comma:       .asciz ", "
si_srr3:        .asciz ")\n"
si_pushf1:      .asciz "sysinfo: pushf says status "
si_pushf2:      .asciz ": M="
si_pushf3:      .asciz " IE="
si_pushf4:      .asciz "\n"
si_time1:       .asciz "sysinfo: rdtime says "
si_time2:       .asciz " left, then "
si_time3:       .asciz " left: "
si_time4:       .asciz " instructions apart\n"
si_nojump:      .asciz "sysinfo: jrstu did not jump!\n"
si_jrstu:       .asciz "sysinfo: jrstu in user mode was a plain jump; pushf still says M="
si_popf1:       .asciz "sysinfo: after a popf of IE=0, a "
si_popf2:       .asciz "-instruction loop was preempted "
si_popf3:       .asciz " times\n"

; =====================================================================================
;  5 rogue: tries to stop the machine
; =====================================================================================
        .section rogue, "awx"
        .org ROGUE + USER_ENTRY
rogue_main:
        movl    r1, rogue_s1 - ROGUE
        svc     SYS_PUTS
        halt                            ; privileged: traps in user mode, task killed
        movl    r1, rogue_s2 - ROGUE    ; (not reached)
        svc     SYS_PUTS
        clr     r1
        svc     SYS_EXIT
        br      . - 2                   ; exit does not return (if it did: exit again)
rogue_s1:       .asciz "rogue: halting the machine!\n"
rogue_s2:       .asciz "rogue: the machine did not stop me\n"

; =====================================================================================
;  6 snoop: reads the word just above its stack, i.e. outside its region
; =====================================================================================
        .section snoop, "awx"
        .org SNOOP + USER_ENTRY
snoop_main:
        movl    r1, snoop_s1 - SNOOP
        svc     SYS_PUTS
        mov     r1, sp
        svc     SYS_PUTHEX
        movi    r1, '\n'
        svc     SYS_PUTC
        ld      r2, 0(sp)               ; virtual address = bound: bounds trap
        movl    r1, snoop_s2 - SNOOP    ; (not reached)
        svc     SYS_PUTS
        mov     r1, r2
        svc     SYS_PUTHEX
        clr     r1
        svc     SYS_EXIT
        br      . - 2                   ; exit does not return (if it did: exit again)
snoop_s1:       .asciz "snoop: reading above my stack at "
snoop_s2:       .asciz "snoop: read "

; =====================================================================================
;  7 spinner: never ends on its own; the kernel takes the CPU back every time slice
;  and kills it after SPINNER_LIMIT ticks
; =====================================================================================
        .section spinner, "awx"
        .org SPINNER + USER_ENTRY
spinner_main:
        movl    r1, spinner_s1 - SPINNER
        svc     SYS_PUTS
spinner_loop:
        br      spinner_loop
spinner_s1:     .asciz "spinner: spinning forever\n"
