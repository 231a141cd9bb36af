# An interrupt-driven UART echo for QEMU virt (and hybridvmm's rv32 machine): the receive
# interrupt comes through the PLIC, context 0 (M-mode), source 10.  It prints the prompt
# "> ", echoes every byte it receives, and after each newline prints the prompt again; the
# line "q" ends the run (test finisher, pass).  The trap handler claims the source, reads
# every byte the UART holds, and completes it; mcause other than the machine external
# interrupt ends the run with a failure (status 2).  The FIFOs are left off (writing FCR
# to enable them flushes what QEMU may already have received), and the main loop spins
# (no wfi), so input that arrives early is not lost and nothing else traps.
        .org 0x80000000
        .equ UART, 0x10000000
        .equ PLIC, 0x0c000000
        .equ PLIC_ENABLE0, 0x0c002000
        .equ PLIC_CONTEXT0, 0x0c200000     # threshold; claim/complete at +4
        .equ FINISHER, 0x100000
        .equ MEIE, 0x800
        .equ M_EXTERNAL, 0x8000000b
        .equ UART_IRQ, 10

        .entry _start
_start:
        la    t0, trap
        csrw  mtvec, t0
        li    s0, UART
        li    t0, 1                       # IER: received data available
        sb    t0, 1(s0)
        li    t1, PLIC
        li    t0, 1
        sw    t0, 4*UART_IRQ(t1)          # source 10: priority 1
        li    t1, PLIC_ENABLE0
        li    t0, 1 << UART_IRQ
        sw    t0, 0(t1)
        li    t1, PLIC_CONTEXT0
        sw    zero, 0(t1)                 # threshold 0
        li    t0, MEIE
        csrs  mie, t0
        la    s1, line                    # s1: where the next byte of the line goes
        jal   prompt
        csrsi mstatus, 8                  # MIE
idle:
        j     idle

# Print "> " (the transmitter is never busy on either machine, but wait as a driver does).
prompt:
        li    t0, '>'
        sb    t0, 0(s0)
        li    t0, ' '
        sb    t0, 0(s0)
        ret

trap:
        csrr  t0, mcause
        li    t1, M_EXTERNAL
        bne   t0, t1, fail
        li    s2, PLIC_CONTEXT0
        lw    s3, 4(s2)                   # claim
        li    t1, UART_IRQ
        bne   s3, t1, fail
receive:
        lbu   t0, 5(s0)                   # LSR
        andi  t0, t0, 1                   # DR
        beqz  t0, received
        lbu   t2, 0(s0)                   # RBR
        sb    t2, 0(s0)                   # echo
        sb    t2, 0(s1)
        addi  s1, s1, 1
        li    t1, '\n'
        bne   t2, t1, receive
        la    t3, line                    # a whole line: "q" ends the run
        sub   t4, s1, t3
        mv    s1, t3
        li    t1, 2
        bne   t4, t1, next
        lbu   t4, 0(t3)
        li    t1, 'q'
        beq   t4, t1, pass
next:
        jal   prompt
        j     receive
received:
        sw    s3, 4(s2)                   # complete
        mret

pass:
        li    t0, FINISHER
        li    t1, 0x5555
        sw    t1, 0(t0)
        j     pass
fail:
        li    t0, FINISHER
        li    t1, 0x23333                 # status 2
        sw    t1, 0(t0)
        j     fail

        .align 4
line:
        .zero 256
