; hostile-userpriv: from user mode, tries to set R, the timer and IE, to halt and to do I/O
        .org 0x100
main:   movl    sp, ustack_top
        jrstu   user
user:   movl    r1, 0x1000
        clr     r2
        setr    r2, r1
        settimer r1
        ei
        di
        out     r1, 0
        in      r1, 1
        rti
        halt
        svc     0
        .align 4
                .space 128
ustack_top:
