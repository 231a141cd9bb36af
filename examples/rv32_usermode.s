# rv32_usermode.s - the RISC-V counterpart of usermode.s: M-mode firmware and a U-mode
# program.  The firmware sets its trap vector, opens one page of RAM to U with PMP (RISC-V's
# relocation-bounds register, without the relocation), drops to U with mret, serves the
# program's ecalls on the UART, and stops the machine with the test finisher when the
# program exits or is killed.  docs/writing-guests.md walks through it:
#   python -m hybridvmm asm examples/rv32_usermode.s -o rvuser.img
#   python -m hybridvmm run rvuser.img
.isa rv32
        .equ UART, 0x10000000           # NS16550A: transmit at +0, line status at +5
        .equ UART_LSR, 5
        .equ LSR_THRE, 0x20             # the transmitter can take a byte
        .equ FINISHER, 0x100000         # SiFive test finisher: 0x5555 = pass
        .equ FINISHER_PASS, 0x5555
        .equ MSTATUS_MPP, 0x1800        # the mode mret returns to: 0 = U
        .equ CAUSE_U_ECALL, 8
        .equ PMP_NAPOT_RWX, 0x1f        # a pmpcfg byte: A = NAPOT, X, W, R
        .equ USER_SIZE, 4096            # the user's page (a NAPOT region: a power of two)

        # system calls: ecall with a7 = the call, a0 = its argument; a0 is not preserved
        .equ SYS_EXIT, 0                # a0 = exit status
        .equ SYS_PUTS, 1                # a0 = a NUL-terminated string
        .equ SYS_PUTDEC, 2              # a0 = an unsigned number, printed in decimal

        .org 0x80000000
        .globl _start
# ---- M-mode firmware: the hart starts here, in M-mode, with PMP granting U nothing ------
_start:
        la      t0, m_trap
        csrw    mtvec, t0               # direct mode: every trap to M enters m_trap
        la      t0, m_stack_top
        csrw    mscratch, t0            # m_trap's stack (it swaps sp with mscratch)
        la      t0, user
        srli    t0, t0, 2
        ori     t0, t0, USER_SIZE / 8 - 1
        csrw    pmpaddr0, t0            # entry 0: the USER_SIZE bytes at `user` ...
        li      t0, PMP_NAPOT_RWX
        csrw    pmpcfg0, t0             # ... readable, writable, executable by U (and S)
        la      a0, msg_boot
        call    m_puts
        li      t0, MSTATUS_MPP
        csrc    mstatus, t0             # MPP = U ...
        la      t0, u_main
        csrw    mepc, t0                # ... at u_main
        mret

# ---- every trap to M: an ecall from U, or a fault that kills the program ---------------
m_trap:
        csrrw   sp, mscratch, sp        # sp = M's stack; mscratch = the program's sp
        addi    sp, sp, -16
        sw      ra, 0(sp)
        sw      t0, 4(sp)
        sw      t1, 8(sp)
        sw      t2, 12(sp)
        csrr    t0, mcause
        li      t1, CAUSE_U_ECALL
        bne     t0, t1, m_kill
        csrr    t0, mepc
        addi    t0, t0, 4               # mepc is the ecall itself: return past it
        csrw    mepc, t0
        li      t1, SYS_PUTS
        beq     a7, t1, sys_puts
        li      t1, SYS_PUTDEC
        beq     a7, t1, sys_putdec
        beqz    a7, sys_exit
        j       m_kill
sys_puts:                               # (a real firmware would check that the string is
        call    m_puts                  # the program's: mstatus.MPRV checks M's loads as U's)
        j       m_return
sys_putdec:
        call    m_putdec
        j       m_return
m_return:
        lw      ra, 0(sp)
        lw      t0, 4(sp)
        lw      t1, 8(sp)
        lw      t2, 12(sp)
        addi    sp, sp, 16
        csrrw   sp, mscratch, sp        # the program's sp back, M's stack in mscratch
        mret

sys_exit:
        mv      t2, a0
        la      a0, msg_exit
        call    m_puts
        mv      a0, t2
        call    m_putdec
        j       m_stop
m_kill:                                 # "killed: mcause 5 at pc 0x..., mtval 0x..."
        la      a0, msg_killed
        call    m_puts
        csrr    a0, mcause
        call    m_putdec
        la      a0, msg_at
        call    m_puts
        csrr    a0, mepc
        call    m_puthex
        la      a0, msg_mtval
        call    m_puts
        csrr    a0, mtval
        call    m_puthex
m_stop:
        li      a0, '\n'
        call    m_putc
        li      t0, FINISHER
        li      t1, FINISHER_PASS
        sw      t1, 0(t0)               # the machine stops here (exit status 0)
1:      wfi
        j       1b

# ---- M's console routines (argument in a0; t0, t1, t2 and a0 clobbered) -----------------
m_putc:
        li      t0, UART
1:      lbu     t1, UART_LSR(t0)
        andi    t1, t1, LSR_THRE
        beqz    t1, 1b                  # wait until the UART can take a byte
        sb      a0, 0(t0)
        ret
m_puts:
        mv      t2, a0
        mv      a1, ra
1:      lbu     a0, 0(t2)
        beqz    a0, 2f
        call    m_putc
        addi    t2, t2, 1
        j       1b
2:      mv      ra, a1
        ret
m_putdec:                               # the digits on M's stack, last first
        mv      a1, ra
        mv      t2, sp
        li      t1, 10
1:      remu    t0, a0, t1
        addi    t0, t0, '0'
        addi    sp, sp, -4
        sw      t0, 0(sp)
        divu    a0, a0, t1
        bnez    a0, 1b
2:      lw      a0, 0(sp)
        addi    sp, sp, 4
        mv      a2, t2
        call    m_putc
        mv      t2, a2
        bne     sp, t2, 2b
        mv      ra, a1
        ret
m_puthex:                               # 0x%08x
        mv      a1, ra
        mv      a2, a0
        li      a0, '0'
        call    m_putc
        li      a0, 'x'
        call    m_putc
        li      t2, 8
1:      srli    a0, a2, 28
        li      t1, 10
        blt     a0, t1, 2f
        addi    a0, a0, 'a' - 10 - '0'
2:      addi    a0, a0, '0'
        call    m_putc
        slli    a2, a2, 4
        addi    t2, t2, -1
        bnez    t2, 1b
        mv      ra, a1
        ret

msg_boot:   .asciz "firmware (M-mode): PMP opens one page to U; mret to the program\n"
msg_exit:   .asciz "firmware: the program exited with status "
msg_killed: .asciz "firmware: program killed: mcause "
msg_at:     .asciz " at pc "
msg_mtval:  .asciz ", mtval "
        .align  4
        .space  256
m_stack_top:

# ---- the U-mode program: its page is all PMP lets it touch --------------------------------
        .align  12
user:
u_main:
        la      a0, u_hello
        li      a7, SYS_PUTS
        ecall
        li      s0, 0                   # s0 = 1*1 + 2*2 + ... + 10*10
        li      s1, 1
        li      s2, 11
1:      mul     t0, s1, s1
        add     s0, s0, t0
        addi    s1, s1, 1
        blt     s1, s2, 1b
        la      a0, u_sum
        li      a7, SYS_PUTS
        ecall
        mv      a0, s0
        li      a7, SYS_PUTDEC
        ecall
        la      a0, u_peek
        li      a7, SYS_PUTS
        ecall
        li      t0, 0x80000000
        lw      t1, 0(t0)               # the firmware's memory: a load access fault
        li      a0, 0
        li      a7, SYS_EXIT            # (not reached)
        ecall

u_hello:    .asciz "user (U-mode): hello\n"
u_sum:      .asciz "user: 1*1 + 2*2 + ... + 10*10 = "
u_peek:     .asciz "\nuser: reading the firmware's first word at 0x80000000\n"
