; hostile-midpatch: jumps into the middle of sensitive instructions, and to ones hidden in others
        .org 0x100
main:   cmpi    r0, 0
        beq     go                      ; taken; the scanner also follows the fall-through first
        jmp     hid
go:     br      hid + 2                 ; into the jrstu's immediate: movi r5, 0x41
back:   call    cover + 2               ; the pushf; pop r1 hidden in cover's immediate
        mov     r7, r1
        call    cover                   ; cover itself: movl r6, 0x23100600
        mov     r1, r5
        svc     2
        mov     r1, r7
        svc     2
        mov     r1, r6
        svc     2
        svc     0
hid:    jrstu   0x00418050              ; 00 c3 | 50 80 41 00 = movi r5, 0x41 at hid + 2
        br      back
cover:  movl    r6, 0x23100600          ; 00 c0 60 | 00 06 = pushf, 10 23 = pop r1
        ret
