; hostile-doublefault: points the bounds vector at storage that is not there, then faults
        .org 0x100
        .entry boot
boot:   movl    sp, kstack_top
        clr     r1
        movl    r2, 0x100000
        call    hk_boot
        movl    r1, NEW_PSW + 3 * PSW_SIZE   ; the bounds vector
        movl    r2, 0x7ffffff0          ; its new pc: outside any storage
        st      r2, 4(r1)
        movl    r2, 0xfffffff0
        ld      r3, 0(r2)               ; bounds fault -> vector -> fetch fault -> vector ...
        svc     0                       ; never reached: the machine stops with a trap loop

s_unexpected:   .asciz "hostile: unexpected\n"
        .align 4
                .space 256
kstack_top:

