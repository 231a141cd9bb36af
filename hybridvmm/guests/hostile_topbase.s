; hostile-topbase: R.base near the top of storage and beyond it, R.base + offset past 32 bits
        .org 0x100
main:   movl    r1, after_top
        movl    r2, hk_resume
        st      r1, 0(r2)
        movl    r10, 0xfffc0            ; R.base 64 bytes below the top of storage
        movl    r11, 0x1000
        setr    r10, r11                ; the next fetch is at R.base + pc: past the end
after_top:
        movl    r10, 0x200000           ; R.base past the end of storage
        movl    r1, after_past
        movl    r2, hk_resume
        st      r1, 0(r2)
        setr    r10, r11
after_past:
        movl    r10, 0xfffff000         ; R.base + any offset overflows 32 bits
        movl    r11, 0x2000
        movl    r1, after_wrap
        movl    r2, hk_resume
        st      r1, 0(r2)
        setr    r10, r11
after_wrap:
        clr     r1
        movl    r2, hk_resume
        st      r1, 0(r2)
        movl    r1, s_done
        call    kputs
        svc     0
s_done:         .asciz "hostile: every R past the storage faulted\n"
