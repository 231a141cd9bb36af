; hostile-negoffset: negative displacements and stack pointers below address 0
        .org 0x100
main:   clr     r1
        st      r1, -4(r1)              ; 0xfffffffc
        movi    r2, 0x100
        ld      r3, -0x8000(r2)         ; 0xffff8100
        ldb     r3, -1(r1)
        mov     r9, sp
        clr     sp
        push    r2                      ; sp - 4 = 0xfffffffc
        pop     r3
        call    nowhere                 ; the return address cannot be pushed
        mov     sp, r9
        movl    r1, s_done
        call    kputs
        svc     0
nowhere: ret
s_done:         .asciz "hostile: nothing below zero was reached\n"
