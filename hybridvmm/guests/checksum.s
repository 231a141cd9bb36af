; =====================================================================================
;  checksum — minios running one user-heavy task: CRC-32 and Adler-32 of a buffer
; =====================================================================================
;  Assembled after minios_kernel.s.  The task fills a buffer of CHECKSUM_LEN bytes from
;  a linear congruential generator (x = x * 1103515245 + 12345 mod 2^32 starting at
;  CHECKSUM_SEED; each byte is bits 16..23 of x), then computes the CRC-32 of zlib/PNG
;  (reflected, polynomial 0xedb88320, bit by bit) and Adler-32 over it.
;  (Addresses inside the task are `label - CHECKSUM`: see minios_tasks.s.)

        .equ QUANTUM, 2000
        .equ NTASKS, 1
        .equ CHECKSUM_LEN, 16384
        .equ CHECKSUM_SEED, 7
        .equ CHECKSUM, 0x10000          ; region base
        .equ STACK_SIZE, 0x400


        .text
        .align 4
guest_name:     .asciz "checksum"
        .align 4
task_table:
        .word   tn_checksum, CHECKSUM, CHECKSUM_BOUND, 0
tn_checksum:    .asciz "checksum"

        .section checksum, "awx"
        .org CHECKSUM + USER_ENTRY
cks_main:
        movl    r8, cks_buffer - CHECKSUM
        movl    r9, CHECKSUM_LEN
        ; --- fill the buffer
        movl    r2, CHECKSUM_SEED
        movl    r3, 1103515245
        movl    r4, 12345
        mov     r5, r8
        mov     r6, r9
cks_gen:
        mul     r2, r3
        add     r2, r4
        shri    r7, r2, 16
        stb     r7, 0(r5)
        inc     r5
        dec     r6
        bne     cks_gen
        ; --- CRC-32, one bit at a time
        movl    r10, 0xffffffff         ; crc
        movl    r7, 0xedb88320          ; the reflected polynomial
        mov     r5, r8
        mov     r6, r9
cks_crc_byte:
        ldb     r2, 0(r5)
        xor     r10, r2
        movi    r3, 8
cks_crc_bit:
        andi    r4, r10, 1
        shri    r10, r10, 1
        cmpi    r4, 0
        beq     cks_crc_nox
        xor     r10, r7
cks_crc_nox:
        dec     r3
        bne     cks_crc_bit
        inc     r5
        dec     r6
        bne     cks_crc_byte
        not     r10                     ; final xor with 0xffffffff
        ; --- Adler-32: a = 1 + sum of bytes, b = sum of the a's, both mod 65521
        movi    r2, 1                   ; a
        clr     r3                      ; b
        movl    r4, 65521
        mov     r5, r8
        mov     r6, r9
cks_adler:
        ldb     r7, 0(r5)
        add     r2, r7
        remu    r2, r4
        add     r3, r2
        remu    r3, r4
        inc     r5
        dec     r6
        bne     cks_adler
        shli    r11, r3, 16
        or      r11, r2
        ; --- report
        movl    r1, s_len - CHECKSUM
        svc     SYS_PUTS
        mov     r1, r9
        svc     SYS_PUTDEC
        movl    r1, s_crc - CHECKSUM
        svc     SYS_PUTS
        mov     r1, r10
        svc     SYS_PUTHEX
        movl    r1, s_adler - CHECKSUM
        svc     SYS_PUTS
        mov     r1, r11
        svc     SYS_PUTHEX
        movi    r1, '\n'
        svc     SYS_PUTC
        clr     r1
        svc     SYS_EXIT
        br      . - 2                   ; exit does not return (if it did: exit again)

s_len:          .asciz "checksum: "
s_crc:          .asciz " bytes, crc32 "
s_adler:        .asciz ", adler32 "
        .align 4
cks_buffer:                             ; CHECKSUM_LEN bytes (not in the image), then the stack
        .equ CHECKSUM_BOUND, (cks_buffer - CHECKSUM + CHECKSUM_LEN + STACK_SIZE + 0xff) / 0x100 * 0x100
