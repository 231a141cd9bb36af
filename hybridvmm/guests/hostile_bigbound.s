; hostile-bigbound: loads and stores far beyond its storage through a huge R.bound
        .org 0x100
main:   movl    r3, 0xffffffff          ; R = (0, 4 GiB - 1): the bound promises everything
        clr     r4
        setr    r4, r3
        movl    r5, 0x100000            ; the first byte past the 1 MiB storage
        ld      r6, 0(r5)
        st      r6, 0(r5)
        movl    r5, 0x7ffffff0
        ld      r6, 0(r5)
        stb     r6, 0(r5)
        movl    r5, 0xfffffff0
        st      r6, 0(r5)
        movl    r5, 0xffffc             ; the last word that is there: allowed
        st      r5, 0(r5)
        ld      r7, 0(r5)
        movl    r1, s_ok
        call    kputs
        mov     r1, r7
        call    kputhex
        movi    r1, 10
        call    kputc
        svc     0
s_ok:           .asciz "hostile: the last word of storage reads "
