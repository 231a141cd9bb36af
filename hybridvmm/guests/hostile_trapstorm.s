; hostile-trapstorm: a storm of system calls, privileged traps and faults, with the timer firing
        .equ STORM_N, 400
        .org 0x100
main:   movi    r1, 37
        settimer r1
        movl    sp, ustack_top
        ei
        jrstu   user
user:   movl    r8, STORM_N
storm:  svc     3
        ei                              ; privileged: a trap each time
        movl    r2, 0xfffffff0
        ld      r3, 0(r2)               ; a bounds fault each time
        vmtrap  7
        dec     r8
        bne     storm
        svc     0
        .align 4
                .space 128
ustack_top:
