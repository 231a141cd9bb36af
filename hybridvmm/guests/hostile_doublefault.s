; hostile-doublefault: points the bounds vector at storage that is not there, then faults
        .org 0x100
main:   movl    r1, NEW_PSW + 3 * PSW_SIZE   ; the bounds vector
        movl    r2, 0x7ffffff0          ; its new pc: outside any storage
        st      r2, 4(r1)
        movl    r2, 0xfffffff0
        ld      r3, 0(r2)               ; bounds fault -> vector -> fetch fault -> vector ...
        svc     0                       ; never reached: the machine stops with a trap loop
