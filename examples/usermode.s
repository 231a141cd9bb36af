; usermode.s — a pgm kernel with a user program: trap vectors, entering user mode under
; a relocation register of its own, system calls, and the emulation of a trapped
; sensitive instruction.  docs/writing-guests.md builds it step by step:
;   python -m hybridvmm asm examples/usermode.s -o usermode.img
;   python -m hybridvmm run usermode.img
;   python -m hybridvmm compare usermode.img
;
; Storage:  0x000  old PSW, stored by every trap (status, pc, R.base, R.bound)
;           0x020  new PSWs, 16 bytes per cause (causes 1..6)
;           0x100  the kernel: klib.s's routines, then the code below, its data and stack
;           0x1000 the user program's region: R = (USER_BASE, USER_SIZE), its stack on top
.isa pgm

        .include "klib.s"       ; OLD_STATUS, OLD_PC, NEW_PSW, PSW_SIZE; kvectors, kputs,
                                ; kputc, kputdec, kputhex; `unexpected`

        .equ OLD_BASE, 0x08     ; the rest of the old PSW
        .equ OLD_BOUND, 0x0c
        .equ PSW_M, 1           ; status bit 0: 1 = user mode
        .equ USER_BASE, 0x1000
        .equ USER_SIZE, 0x1000
        .equ OP_PUSHF, 0x06     ; pushf's opcode: the high byte of its 16-bit parcel

        ; system calls: svc N, argument in r1; r1..r4 are not preserved
        .equ SYS_EXIT, 0        ; r1 = exit status
        .equ SYS_PUTS, 1        ; r1 = a string's address in the caller's region
        .equ SYS_PUTDEC, 2      ; r1 = an unsigned number, printed in decimal
        .equ SYS_PUTHEX, 3      ; r1 = a number, printed as 0x%08x

; ---- boot: supervisor mode, interrupts off, R = all of storage -------------------------
        .text
        .entry boot
boot:
        movl    sp, kstack_top
        srr     r2, r3                  ; the R we booted with: every handler runs under it
        movl    r1, handlers
        call    kvectors                ; the new PSWs of causes 1..6 point at `handlers`
        movl    r1, s_boot
        call    kputs
        ; Enter the user program with rti: store the PSW it should start with where a
        ; trap would have stored one, and "return" to it.  (setr would relocate the
        ; kernel's own next fetch; rti loads pc, mode and R at once.)
        clr     r12
        movi    r1, PSW_M               ; user mode, interrupts off, flags clear
        st      r1, OLD_STATUS(r12)
        clr     r1                      ; pc 0: the first byte of its region
        st      r1, OLD_PC(r12)
        movl    r1, USER_BASE
        st      r1, OLD_BASE(r12)
        movl    r1, USER_SIZE
        st      r1, OLD_BOUND(r12)
        rti

; ---- trap handlers --------------------------------------------------------------------
; A trap leaves the user's registers live and its PSW at 0x00; r12 and r13 are the
; kernel's (the user program must not keep anything in them): pgm addresses storage only
; through a register, so a handler needs one to get a foothold.

; svc: the number is in the old status, bits 16..23; the pc saved is the next instruction.
k_svc:
        movl    r12, user_sp            ; keep the user's stack pointer ...
        st      sp, 0(r12)
        movl    sp, kstack_top          ; ... and call klib on the kernel's own stack
        clr     r12
        ld      r13, OLD_STATUS(r12)
        shri    r13, r13, 16
        andi    r13, r13, 0xff
        cmpi    r13, SYS_PUTS
        beq     sys_puts
        cmpi    r13, SYS_PUTDEC
        beq     sys_putdec
        cmpi    r13, SYS_PUTHEX
        beq     sys_puthex
        cmpi    r13, SYS_EXIT
        beq     sys_exit
        movl    r5, s_badcall
        br      kill
sys_puts:                               ; the user's address, made physical: + R.base
        ld      r13, OLD_BASE(r12)      ; (a real kernel would check it against R.bound)
        add     r1, r13
        call    kputs
        br      k_return
sys_putdec:
        call    kputdec
        br      k_return
sys_puthex:
        call    kputhex
        br      k_return
sys_exit:
        mov     r5, r1
        movl    r1, s_exit
        call    kputs
        mov     r1, r5
        call    kputdec
        movi    r1, '\n'
        call    kputc
        halt
k_return:
        movl    r12, user_sp
        ld      sp, 0(r12)
        rti                             ; back to the user, its PSW as the trap saved it

; privileged instruction in user mode (the pc saved is the instruction's own).  pushf is
; emulated, with exactly the meaning it has where it does not trap (pgm-x86); any other
; privileged instruction kills the program.
k_privileged:
        clr     r12
        ld      r13, OLD_PC(r12)
        ld      r12, OLD_BASE(r12)
        add     r13, r12                ; the instruction's physical address
        ldb     r13, 1(r13)             ; its opcode
        cmpi    r13, OP_PUSHF
        beq     emulate_pushf
        movl    r5, s_privileged
        br      kill
emulate_pushf:                          ; push the user's status word: M, IE and NZCV
        clr     r12
        ld      r13, OLD_STATUS(r12)
        andi    r13, r13, 0xf3          ; without the cause and code of this trap
        addi    sp, sp, -4              ; sp is the user's (flags changed here do not
        ld      r12, OLD_BASE(r12)      ; matter: rti restores the user's)
        add     r12, sp
        st      r13, 0(r12)
        clr     r12
        ld      r13, OLD_PC(r12)
        addi    r13, r13, 2             ; past the 2-byte pushf
        st      r13, OLD_PC(r12)
        rti

k_bounds:                               ; an access outside the program's region
        movl    r5, s_bounds
kill:                                   ; r5 = why
        movl    sp, kstack_top
        movl    r1, s_killed
        call    kputs
        mov     r1, r5
        call    kputs
        clr     r1
        ld      r1, OLD_PC(r1)
        call    kputhex
        movi    r1, '\n'
        call    kputc
        halt

; ---- the kernel's data ------------------------------------------------------------------
        .data
handlers:       .word k_privileged, unexpected, k_bounds, unexpected, k_svc, unexpected
s_boot:         .asciz "kernel: starting the user program in R = (0x1000, 0x1000)\n"
s_exit:         .asciz "kernel: the user program exited with status "
s_killed:       .asciz "kernel: user program killed: "
s_privileged:   .asciz "privileged instruction at pc "
s_bounds:       .asciz "address outside its region at pc "
s_badcall:      .asciz "unknown system call at pc "
s_unexpected:   .asciz "kernel: unexpected trap, status "
        .align  4
user_sp:        .word 0
                .space 256
kstack_top:

; ---- the user program: user mode, R = (USER_BASE, USER_SIZE) ------------------------------
; Its addresses are offsets in its region: a label's address as the program sees it is
; `label - user`.  Branches are relative to the pc and need no such care.
        .section user, "awx"
        .org    USER_BASE
user:
        movl    sp, USER_SIZE           ; its stack: the top of its region
        movl    r1, u_hello - user
        svc     SYS_PUTS
        clr     r5                      ; r5 = 1*1 + 2*2 + ... + 10*10
        movi    r6, 1
u_square:
        mov     r7, r6
        mul     r7, r6
        add     r5, r7
        inc     r6
        cmpi    r6, 11
        blt     u_square
        movl    r1, u_sum - user
        svc     SYS_PUTS
        mov     r1, r5
        svc     SYS_PUTDEC
        movl    r1, u_status - user
        svc     SYS_PUTS
        pushf                           ; sensitive: what does it say about us?
        pop     r5
        mov     r1, r5
        svc     SYS_PUTHEX
        movl    r1, u_mode - user
        svc     SYS_PUTS
        andi    r1, r5, 1               ; M
        svc     SYS_PUTDEC
        movl    r1, u_ie - user
        svc     SYS_PUTS
        shri    r1, r5, 1
        andi    r1, r1, 1               ; IE
        svc     SYS_PUTDEC
        movl    r1, u_newline - user
        svc     SYS_PUTS
        clr     r1
        svc     SYS_EXIT

u_hello:        .asciz "user: hello from user mode\n"
u_sum:          .asciz "user: 1*1 + 2*2 + ... + 10*10 = "
u_status:       .asciz "\nuser: pushf says status "
u_mode:         .asciz ": M="
u_ie:           .asciz " IE="
u_newline:      .asciz "\n"
