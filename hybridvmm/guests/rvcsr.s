# =====================================================================================
#  rvcsr — a privileged-heavy RISC-V micro-guest: CSR accesses from a supervisor
# =====================================================================================
#
#  M-mode firmware opens memory with PMP and mrets to S.  The S-mode kernel runs CSR_N
#  rounds of a loop that reads and writes sscratch, each CSR access followed by an
#  ordinary instruction (so that a trap-and-emulate monitor takes one exit per access:
#  nothing to cluster), then ecalls to M, which prints the count on the UART and stops
#  the machine.  Under `pure` every round costs two exits: what `bench --isa rv32` divides
#  by to measure one CSR trap round trip.
#  GNU as compatible: link .text at 0x80000000.

        .equ UART, 0x10000000
        .equ LSR_THRE, 0x20
        .equ FINISHER, 0x100000
        .equ FINISHER_PASS, 0x5555
        .equ PMP_ALL, 0xffffffff
        .equ PMP_CFG_RWX, 0x1f
        .equ MSTATUS_MPP, 0x1800
        .equ MPP_S, 0x800
        .equ CSR_N, 20000

        .text
_start:
        la      t0, m_trap
        csrw    mtvec, t0
        li      t0, PMP_ALL
        csrw    pmpaddr0, t0
        li      t0, PMP_CFG_RWX
        csrw    pmpcfg0, t0
        li      t0, MSTATUS_MPP
        csrc    mstatus, t0
        li      t0, MPP_S
        csrs    mstatus, t0
        la      t0, s_main
        csrw    mepc, t0
        mret

s_main:
        li      t0, 0
        li      t1, CSR_N
loop:
        csrw    sscratch, t0              # an exit under trap-and-emulate ...
        addi    t0, t0, 1                 # ... then an ordinary instruction
        csrr    t2, sscratch              # another exit
        add     t3, t3, t2
        bne     t0, t1, loop
        mv      a0, t0
        ecall                             # done: to M

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

putc:
        li      t0, UART
1:      lbu     t1, 5(t0)
        andi    t1, t1, LSR_THRE
        beqz    t1, 1b
        sb      a0, 0(t0)
        ret

puts:
        mv      t2, a0
        mv      t3, ra
1:      lbu     a0, 0(t2)
        beqz    a0, 2f
        call    putc
        addi    t2, t2, 1
        j       1b
2:      mv      ra, t3
        ret

puthex:
        mv      t2, a0
        mv      t3, ra
        li      t4, 28
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
says:   .asciz "rvcsr: CSR rounds 0x"
