; hostile-spin: disables interrupts, arms a timer it will never take, and spins forever
        .org 0x100
        .entry boot
boot:   movl    sp, kstack_top
        clr     r1
        movl    r2, 0x100000
        call    hk_boot
        movi    r1, 50
        settimer r1
        di
spin:   br      spin

s_unexpected:   .asciz "hostile: unexpected\n"
        .align 4
                .space 256
kstack_top:

