; hostile-selfread: reads its own code (words and bytes) to find what a monitor patched
        .org 0x100
main:   call    sensitive               ; run it first: a patching monitor has patched it now
        movl    r2, sensitive
        movl    r3, sensitive_end
        clr     r4
sum:    ldb     r5, 0(r2)               ; a byte checksum of its own code
        add     r4, r5
        shli    r5, r4, 3
        xor     r4, r5
        inc     r2
        cmp     r2, r3
        bltu    sum
        mov     r1, r4
        svc     2
        movl    r2, sensitive
        ld      r1, 0(r2)               ; the first word, as the program wrote it
        svc     2
        ld      r1, 4(r2)
        svc     2
        svc     0
        .align 4
sensitive:
        pushf
        pop     r7
        srr     r8, r9
        rdtime  r10
        push    r7
        popf
        ret
sensitive_end:
