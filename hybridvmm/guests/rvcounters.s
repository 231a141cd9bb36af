# =====================================================================================
#  rvcounters — RISC-V's one virtualization hole, shown by running: counters read in U
# =====================================================================================
#
#  RISC-V meets Popek and Goldberg's Theorem 1 on one condition the classifier derives:
#  the counters (cycle, time, instret) are sensitive (they reveal time), and while
#  mcounteren/scounteren expose them to U-mode, reading them is not privileged.  A
#  monitor that clears those enables on the host while a guest runs makes every counter
#  read trap, and serves it from the guest's own virtual counters (hybridvmm's default,
#  `--counters trap`).  A naive monitor that leaves the guest's enables on the host
#  (`--counters passthrough`) lets a U-mode read see the *host's* counter instead: the
#  guest under `pure` prints other numbers than on the bare machine, and `compare` names
#  the `csrr ... time` that read it.
#
#  What it does
#  * M-mode: opens memory to S and U with PMP, enables every counter for S
#    (mcounteren = 7), and mrets to S.
#  * S-mode: enables every counter for U (scounteren = 7) and srets to U.
#  * U-mode: spends a little time, reads time, instret and cycle, prints them on the UART
#    (bare mode: no paging, PMP lets U reach the UART), and ecalls to M, which stops the
#    machine through the test finisher.
#  GNU as compatible: link .text at 0x80000000.

        .equ UART, 0x10000000             # NS16550A: THR at +0, LSR at +5
        .equ LSR_THRE, 0x20
        .equ FINISHER, 0x100000
        .equ FINISHER_PASS, 0x5555
        .equ MPP_S, 0x800
        .equ MSTATUS_MPP, 0x1800
        .equ SSTATUS_SPP, 0x100
        .equ PMP_ALL, 0xffffffff          # NAPOT over the whole physical space
        .equ PMP_CFG_RWX, 0x1f            # entry 0: NAPOT | R | W | X
        .equ ALL_COUNTERS, 7              # CY | TM | IR
        .equ WORK, 200                    # iterations spent before reading

        .text
_start:
        la      t0, m_trap
        csrw    mtvec, t0
        li      t0, PMP_ALL
        csrw    pmpaddr0, t0
        li      t0, PMP_CFG_RWX
        csrw    pmpcfg0, t0
        li      t0, ALL_COUNTERS
        csrw    mcounteren, t0            # S may read every counter ...
        li      t0, MSTATUS_MPP
        csrc    mstatus, t0
        li      t0, MPP_S
        csrs    mstatus, t0
        la      t0, s_main
        csrw    mepc, t0
        mret

s_main:
        li      t0, ALL_COUNTERS
        csrw    scounteren, t0            # ... and so may U
        li      t0, SSTATUS_SPP
        csrc    sstatus, t0
        la      t0, u_main
        csrw    sepc, t0
        sret

u_main:
        li      s0, WORK
1:      addi    s0, s0, -1
        bnez    s0, 1b
        csrr    s1, time                  # the reads a naive monitor lets through
        csrr    s2, instret
        csrr    s3, cycle
        la      a0, says_time
        call    puts
        mv      a0, s1
        call    puthex
        la      a0, says_instret
        call    puts
        mv      a0, s2
        call    puthex
        la      a0, says_cycle
        call    puts
        mv      a0, s3
        call    puthex
        li      a0, '\n'
        call    putc
        ecall                             # done: to M

m_trap:                                   # the only trap is the final ecall from U
        li      t0, FINISHER
        li      t1, FINISHER_PASS
        sw      t1, 0(t0)
1:      j       1b

# --- U-mode console routines (the UART is reachable: bare mode, PMP open) ------------
putc:                                     # a0 = the character
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

puthex:                                   # a0 = the word, printed as 8 hex digits
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
says_time:      .asciz "rvcounters: U-mode read time=0x"
says_instret:   .asciz " instret=0x"
says_cycle:     .asciz " cycle=0x"
