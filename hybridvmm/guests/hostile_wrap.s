; hostile-wrap: address arithmetic that wraps around 2^32 (a defined wrap, and wraps into nothing)
        .org 0x100
main:   movl    r1, 0xfffffffc
        ld      r2, 8(r1)               ; (0xfffffffc + 8) mod 2^32 = 4: the old PSW's pc word
        movl    r1, s_wrap
        call    kputs
        mov     r1, r2
        call    kputhex
        movi    r1, 10
        call    kputc
        movl    r1, 0x7fffffff
        ld      r2, 1(r1)               ; 0x80000000: far outside
        movl    r1, 0xffffffff
        ldb     r2, 0(r1)
        stb     r2, 0(r1)
        movl    r1, 0xfffffff8
        ld      r2, 4(r1)               ; 0xfffffffc
        svc     0
s_wrap:         .asciz "hostile: a wrapped load read "
