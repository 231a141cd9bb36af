; hostile-overwrite: runs a sensitive instruction, overwrites it with others (one sensitive), reruns
        .org 0x100
main:   call    sub                     ; pushf; pop r1
        svc     2
        movl    r2, sub
        movl    r4, 0x004b8010            ; movi r1, 0x4b over pushf; pop r1
        st      r4, 0(r2)
        call    sub
        svc     2
        movl    r4, 0x01002816             ; srr r1, r6; nop
        st      r4, 0(r2)
        call    sub
        svc     2
        movl    r4, 0x23100600           ; back to pushf; pop r1
        stb     r4, 0(r2)               ; byte by byte
        shri    r4, r4, 8
        stb     r4, 1(r2)
        shri    r4, r4, 8
        stb     r4, 2(r2)
        shri    r4, r4, 8
        stb     r4, 3(r2)
        call    sub
        svc     2
        svc     0
        .align 4
sub:    pushf
        pop     r1
        ret
