# =====================================================================================
#  rvloop64 — rvloop for RV64: a compute loop in U-mode under Sv39
# =====================================================================================
#
#  M-mode firmware opens memory to U with PMP, builds one Sv39 root table whose gigapage
#  identity-maps the RAM for U (R W X U A D), turns paging on and mrets to U.  U runs
#  LOOP_N iterations of a compute loop (ALU, 64-bit multiply, a 32-bit *w operation,
#  doubleword and byte loads and stores, branches), then makes an ecall; M prints the
#  loop's 64-bit checksum on the UART and stops the machine through the test finisher.
#  Almost every instruction is U-mode, through the TLB: rvloop's workload at XLEN 64.
#  GNU as compatible: link .text at 0x80000000.

        .equ UART, 0x10000000
        .equ LSR_THRE, 0x20
        .equ FINISHER, 0x100000
        .equ FINISHER_PASS, 0x5555
        .equ PMP_CFG_RWX, 0x1f
        .equ ROOT, 0x80040000             # the Sv39 root table (one page, beyond the image)
        .equ RAM_PTE, ((0x80000000 >> 12) << 10) | 0xdf   # gigapage: V R W X U A D
        .equ SATP_SV39, 8
        .equ MSTATUS_MPP, 0x1800
        .equ LOOP_N, 250000
        .equ SCRATCH, 0x80030000          # the loop's doubleword and byte

        .text
_start:
        la      t0, m_trap
        csrw    mtvec, t0
        li      t0, -1
        csrw    pmpaddr0, t0
        li      t0, PMP_CFG_RWX
        csrw    pmpcfg0, t0
        li      t0, ROOT + (0x80000000 >> 30) * 8
        li      t1, RAM_PTE
        sd      t1, 0(t0)                 # root[2]: RAM, identity, for U
        li      t0, SATP_SV39
        slli    t0, t0, 60
        li      t1, ROOT >> 12
        or      t0, t0, t1
        csrw    satp, t0
        sfence.vma
        li      t0, MSTATUS_MPP
        csrc    mstatus, t0               # MPP = U
        la      t0, u_main
        csrw    mepc, t0
        mret

u_main:
        li      sp, SCRATCH
        li      t0, 0
        li      t1, LOOP_N
        li      t3, 0
loop:
        addi    t0, t0, 1
        sd      t0, 0(sp)
        ld      t2, 0(sp)
        add     t3, t3, t2
        mul     t4, t3, t0
        xor     t4, t4, t3
        slli    t5, t4, 3
        srli    t5, t5, 1
        sb      t5, 5(sp)
        lbu     t6, 5(sp)
        sltu    a0, t6, t5
        addw    a1, t4, t0
        add     t3, t3, a0
        xor     t3, t3, a1
        bne     t0, t1, loop
        mv      a0, t3
        ecall                             # done: to M with the checksum in a0

m_trap:
        mv      s0, a0
        la      a0, says
        call    puts
        mv      a0, s0
        call    puthex
        li      a0, '\n'
        call    putc
        li      t0, FINISHER
        li      t1, FINISHER_PASS
        sw      t1, 0(t0)
1:      j       1b

putc:                                     # a0 = the character (M-mode, physical)
        li      t0, UART
1:      lbu     t1, 5(t0)
        andi    t1, t1, LSR_THRE
        beqz    t1, 1b
        sb      a0, 0(t0)
        ret

puts:                                     # a0 = a NUL-terminated string
        mv      t2, a0
        mv      t3, ra
1:      lbu     a0, 0(t2)
        beqz    a0, 2f
        call    putc
        addi    t2, t2, 1
        j       1b
2:      mv      ra, t3
        ret

puthex:                                   # a0 = the doubleword, as 16 hex digits
        mv      t2, a0
        mv      t3, ra
        li      t4, 60
1:      srl     a0, t2, t4
        andi    a0, a0, 15
        addi    a0, a0, '0'
        li      t5, '9'
        ble     a0, t5, 2f
        addi    a0, a0, 'a' - '9' - 1
2:      call    putc
        addi    t4, t4, -4
        bgez    t4, 1b
        mv      ra, t3
        ret

        .data
says:   .asciz "rvloop64: checksum 0x"
