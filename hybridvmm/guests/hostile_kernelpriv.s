; hostile-kernelpriv: as a kernel (deprivileged under a monitor), drives R, the timer and IE to extremes
        .org 0x100
main:   movi    r1, 1
        settimer r1                     ; the shortest timer, with IE = 0: pending
        nop
        nop
        movl    r1, 0xffffffff
        settimer r1                     ; the longest (and discards the pending request)
        ei
        di
        ei
        di
        movi    r1, 3
        settimer r1
        ei                              ; the timer fires three instructions on
        nop
        nop
        nop
        nop
        di
        clr     r1
        clr     r2
        movl    r3, after_zero
        movl    r4, hk_resume
        st      r3, 0(r4)
        setr    r1, r2                  ; R = (0, 0): not even the next fetch
after_zero:
        clr     r3
        st      r3, 0(r4)
        clr     r1                      ; rti to a forged old PSW: supervisor, IE on, at done
        movl    r2, 2
        st      r2, OLD_STATUS(r1)
        movl    r2, done
        st      r2, OLD_PC(r1)
        st      r1, 8(r1)
        movl    r2, 0x100000
        st      r2, 12(r1)
        rti
done:   di
        movl    r1, s_done
        call    kputs
        svc     0
s_done:         .asciz "hostile: the kernel programmed R, the timer and IE at will\n"
