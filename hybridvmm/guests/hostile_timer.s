; hostile-timer: reads the interval timer in supervisor and in user mode, armed and not
        .org 0x100
main:   rdtime  r8                      ; not armed: 0
        movl    r1, 5000
        settimer r1
        rdtime  r9                      ; 5000 minus what ran since
        movl    sp, ustack_top
        jrstu   user
user:   movi    r10, 0
        rdtime  r10                     ; executes in user mode on pgm-x86, traps elsewhere
        movi    r11, 0
        rdtime  r11
        mov     r1, r8
        svc     2
        mov     r1, r9
        svc     2
        mov     r1, r10
        svc     2
        mov     r1, r11
        svc     2
        svc     0
        .align 4
                .space 128
ustack_top:
