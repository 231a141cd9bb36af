; hostile-halt: halts from user mode (a privileged trap), then from supervisor mode
        .org 0x100
main:   movl    sp, ustack_top
        jrstu   user
user:   halt                            ; privileged: the kernel skips it
        movi    r1, 0x55
        svc     2
        svc     4                       ; back to the kernel's code: returns here
        movl    r1, hk_user_done
        jmpr    r1                      ; user mode still
hk_user_done:
        halt                            ; again trapped
        clr     r1
        movl    r2, NEW_PSW + 5 * PSW_SIZE
        movl    r3, kernel_halt
        st      r3, 4(r2)               ; (R covers low core) make svc enter kernel_halt
        svc     9
kernel_halt:
        movl    r1, s_halt
        call    kputs
        halt                            ; supervisor: the machine stops
s_halt:         .asciz "hostile: halting from supervisor mode\n"
        .align 4
                .space 128
ustack_top:
