; =====================================================================================
;  sort — minios running one user-heavy task: quicksort of pseudo-random words
; =====================================================================================
;  Assembled after minios_kernel.s.  The task fills an array with SORT_N words from a
;  linear congruential generator (x = x * 1103515245 + 12345 mod 2^32, starting at
;  SORT_SEED), sorts it with a recursive quicksort (Lomuto partition, unsigned order),
;  checks that it is sorted and prints an order-sensitive checksum
;  sum((i + 1) * a[i]) mod 2^32 together with the smallest and largest element.
;  (Addresses inside the task are `label - SORT`: see minios_tasks.s.)

        .equ QUANTUM, 2000
        .equ NTASKS, 1
        .equ SORT_N, 5000
        .equ SORT_SEED, 2024
        .equ SORT, 0x10000              ; region base
        .equ STACK_SIZE, 0x1000         ; recursion depth ~ 2 log2 N frames of 12 bytes


        .text
        .align 4
guest_name:     .asciz "sort"
        .align 4
task_table:
        .word   tn_sort, SORT, SORT_BOUND, 0
tn_sort:        .asciz "sort"

        .section sort, "awx"
        .org SORT + USER_ENTRY
sort_main:
        movl    r8, sort_array - SORT   ; a[0]
        movl    r9, SORT_N
        ; --- generate
        movl    r2, SORT_SEED
        movl    r3, 1103515245
        movl    r4, 12345
        mov     r5, r8
        mov     r6, r9
sort_gen:
        mul     r2, r3
        add     r2, r4
        st      r2, 0(r5)
        addi    r5, r5, 4
        dec     r6
        bne     sort_gen
        ; --- sort a[0 .. N-1]
        mov     r1, r8
        mov     r2, r9
        shli    r2, r2, 2
        add     r2, r8
        addi    r2, r2, -4              ; &a[N-1]
        callrel qsort
        ; --- check the order and compute the checksum
        clr     r10                     ; checksum
        clr     r11                     ; out-of-order pairs
        clr     r6                      ; i
        mov     r5, r8
        clr     r7                      ; previous element
sort_check:
        ld      r2, 0(r5)
        cmp     r2, r7
        bgeu    sort_inorder
        inc     r11
sort_inorder:
        mov     r7, r2
        inc     r6
        mul     r2, r6                  ; (i + 1) * a[i]
        add     r10, r2
        addi    r5, r5, 4
        cmp     r6, r9
        bltu    sort_check
        ; --- report
        movl    r1, s_sorted - SORT
        svc     SYS_PUTS
        mov     r1, r9
        svc     SYS_PUTDEC
        movl    r1, s_words - SORT
        svc     SYS_PUTS
        movl    r1, s_yes - SORT
        cmpi    r11, 0
        beq     sort_ok
        movl    r1, s_no - SORT
sort_ok:
        svc     SYS_PUTS
        movl    r1, s_min - SORT
        svc     SYS_PUTS
        ld      r1, 0(r8)
        svc     SYS_PUTHEX
        movl    r1, s_max - SORT
        svc     SYS_PUTS
        mov     r1, r7
        svc     SYS_PUTHEX
        movl    r1, s_sum - SORT
        svc     SYS_PUTS
        mov     r1, r10
        svc     SYS_PUTHEX
        movi    r1, '\n'
        svc     SYS_PUTC
        clr     r1
        svc     SYS_EXIT
        br      . - 2                   ; exit does not return (if it did: exit again)

; qsort: sort the words at addresses r1 .. r2 (inclusive) in unsigned ascending order.
; Clobbers r0..r6.  Recurses on the left part, loops on the right part.
qsort:
        cmp     r1, r2
        bgeu    qsort_ret               ; zero or one element (or lo > hi)
        ld      r3, 0(r2)               ; pivot = a[hi]
        mov     r4, r1                  ; i: where the next element < pivot goes
        mov     r5, r1                  ; j
qsort_part:
        ld      r6, 0(r5)
        cmp     r6, r3
        bgeu    qsort_keep
        ld      r0, 0(r4)               ; a[j] < pivot: swap a[i], a[j]
        st      r6, 0(r4)
        st      r0, 0(r5)
        addi    r4, r4, 4
qsort_keep:
        addi    r5, r5, 4
        cmp     r5, r2
        bltu    qsort_part
        ld      r0, 0(r4)               ; the pivot goes to a[i]
        st      r3, 0(r4)
        st      r0, 0(r2)
        push    r4
        push    r2
        addi    r2, r4, -4
        callrel qsort                   ; a[lo .. i-1]
        pop     r2
        pop     r4
        addi    r1, r4, 4
        br      qsort                   ; a[i+1 .. hi]
qsort_ret:
        ret

s_sorted:       .asciz "sort: "
s_words:        .asciz " words, sorted: "
s_yes:          .asciz "yes"
s_no:           .asciz "NO"
s_min:          .asciz ", min "
s_max:          .asciz ", max "
s_sum:          .asciz ", checksum "
        .align 4
sort_array:                             ; SORT_N words (not in the image), then the stack
        .equ SORT_BOUND, (sort_array - SORT + 4 * SORT_N + STACK_SIZE + 0xff) / 0x100 * 0x100
