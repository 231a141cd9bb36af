; =====================================================================================
;  kcompute — micro-guest: the kernel itself computing (supervisor-compute-heavy)
; =====================================================================================
;  Never leaves supervisor mode and takes no trap: it counts the solutions of the
;  QUEENS_N-queens problem by recursive backtracking over bit masks, then the length
;  of the longest Collatz chain starting below COLLATZ_N.  Nothing here is sensitive,
;  yet a hybrid monitor interprets all of it (it is virtual-supervisor code) while a
;  trap-and-emulate monitor runs it directly: the cost difference is the point.
;  (Assembled with klib.s for the output routines.)

        .equ QUEENS_N, 10
        .equ COLLATZ_N, 3000


        .org 0x100
        .entry boot
boot:
        movl    sp, kstack_top
        srr     r2, r3                  ; every trap would be a bug: report it
        movl    r1, vectors
        call    kvectors

        ; --- N queens
        movi    r9, 1
        movi    r1, QUEENS_N
        shl     r9, r1
        dec     r9                      ; mask of the N columns
        clr     r10                     ; solutions
        clr     r11                     ; placements tried (calls of queens)
        clr     r1
        clr     r2
        clr     r3
        call    queens
        movl    r1, s_queens
        call    kputs
        movi    r1, QUEENS_N
        call    kputdec
        movl    r1, s_queens2
        call    kputs
        mov     r1, r10
        call    kputdec
        movl    r1, s_queens3
        call    kputs
        mov     r1, r11
        call    kputdec
        movl    r1, s_queens4
        call    kputs

        ; --- Collatz: the start below COLLATZ_N with the longest chain
        movi    r8, 1                   ; start
        clr     r9                      ; best start
        clr     r10                     ; best length
collatz_start:
        mov     r1, r8
        clr     r2                      ; steps
collatz_step:
        cmpi    r1, 1
        beq     collatz_end
        andi    r3, r1, 1
        bne     collatz_odd
        shri    r1, r1, 1
        inc     r2
        br      collatz_step
collatz_odd:
        muli    r1, r1, 3
        inc     r1
        inc     r2
        br      collatz_step
collatz_end:
        cmp     r2, r10
        bleu    collatz_next
        mov     r10, r2
        mov     r9, r8
collatz_next:
        inc     r8
        cmpi    r8, COLLATZ_N
        blt     collatz_start
        movl    r1, s_collatz
        call    kputs
        movi    r1, COLLATZ_N
        call    kputdec
        movl    r1, s_collatz2
        call    kputs
        mov     r1, r9
        call    kputdec
        movl    r1, s_collatz3
        call    kputs
        mov     r1, r10
        call    kputdec
        movl    r1, s_collatz4
        call    kputs
        halt

; queens: r1 = occupied columns, r2 = attacked by "/" diagonals, r3 = by "\" diagonals
; (bit masks for the current row); r9 = all columns.  Counts solutions in r10 and
; calls in r11.  Clobbers r4, r5; preserves r1..r3.
queens:
        inc     r11
        cmp     r1, r9
        bne     queens_row
        inc     r10                     ; every column taken: a solution
        ret
queens_row:
        mov     r4, r1
        or      r4, r2
        or      r4, r3
        not     r4
        and     r4, r9                  ; free squares in this row
queens_try:
        cmpi    r4, 0
        beq     queens_done
        mov     r5, r4
        neg     r5
        and     r5, r4                  ; the lowest free square
        xor     r4, r5
        push    r1
        push    r2
        push    r3
        push    r4
        or      r1, r5
        or      r2, r5
        shli    r2, r2, 1
        or      r3, r5
        shri    r3, r3, 1
        call    queens
        pop     r4
        pop     r3
        pop     r2
        pop     r1
        br      queens_try
queens_done:
        ret


s_queens:       .asciz "kcompute: "
s_queens2:      .asciz "-queens has "
s_queens3:      .asciz " solutions ("
s_queens4:      .asciz " placements tried)\n"
s_collatz:      .asciz "kcompute: below "
s_collatz2:     .asciz " the longest Collatz chain starts at "
s_collatz3:     .asciz " ("
s_collatz4:     .asciz " steps)\n"
        .align 4
vectors:        .word unexpected, unexpected, unexpected, unexpected, unexpected, unexpected
s_unexpected:   .asciz "kcompute: unexpected trap, status "
        .align 4
                .space 512
kstack_top:
