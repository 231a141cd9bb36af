; hostile-pswwrite: from user mode, rewrites the trap vectors to enter supervisor mode at its own code
        .org 0x100
main:   movl    sp, ustack_top
        jrstu   user
user:   clr     r1                      ; user mode, but R covers low core: the PSW area is writable
        movl    r2, NEW_PSW + 5 * PSW_SIZE   ; the svc vector
        st      r1, 0(r2)               ; status: supervisor, IE off
        movl    r3, escalated
        st      r3, 4(r2)
        svc     1                       ; "system call" into its own code, now in supervisor mode
escalated:
        movl    r1, s_esc
        call    kputs                   ; out: only supervisor code may do this
        movl    r1, 0x80000
        clr     r2
        setr    r2, r1                  ; and it owns R now (within its storage)
        movl    r1, 0x100000
        setr    r2, r1
        clr     r1
        movl    r2, NEW_PSW + 5 * PSW_SIZE
        movl    r3, hk_trap
        st      r3, 4(r2)
        svc     0
s_esc:          .asciz "hostile: user code rewrote the svc vector and runs in supervisor mode\n"
        .align 4
                .space 128
ustack_top:
