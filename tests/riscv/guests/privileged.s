# A guest that records what the privileged architecture does, for comparing this machine
# with QEMU (tests/riscv/test_qemu_oracle.py).  M-mode first: every trap records (mcause,
# mepc, mtval, mstatus & (MPP|SPP|MPIE|SPIE|MIE|SIE)) and returns past the instruction;
# then WARL values (medeleg, mideleg, mie, mtvec with a reserved MODE, mepc with bits 1:0,
# sstatus, mscratch after writing all ones); then the same from U-mode (ecall ends it) and
# from S-mode (ecall ends it).  It prints every word as 8 hex digits on the UART and ends
# through the test finisher.  Runs on `-machine virt -bios none` (PMP is opened before
# dropping below M).  Only base instructions and fixed addresses: no pseudo-instructions.
        .org 0x80000000
        .entry start
start:
        lui   s0, 0x80008
        lui   t0, 0x80000
        addi  t0, t0, 0x400
        csrrw zero, mtvec, t0
        csrrs t1, 0x744, zero
        .word 0xc0001073
        ebreak
        ecall
        lui   t1, 0x800
        lw    t2, 0(t1)
        sw    t2, 4(t1)
        auipc t1, 0
        jalr  t2, 6(t1)
        lui   t1, 0x80009
        addi  t1, t1, 2
        amoadd.w t2, t3, (t1)
        lr.w  t2, (t1)
        addi  t0, zero, -1
        csrrw zero, medeleg, t0
        csrrs t1, medeleg, zero
        sw    t1, 0(s0)
        csrrw zero, mideleg, t0
        csrrs t1, mideleg, zero
        sw    t1, 4(s0)
        csrrw zero, mie, t0
        csrrs t1, mie, zero
        sw    t1, 8(s0)
        csrrw zero, mie, zero
        csrrw zero, mideleg, zero
        csrrw zero, medeleg, zero
        csrrs t2, mtvec, zero
        ori   t1, t2, 2
        csrrw zero, mtvec, t1
        csrrs t1, mtvec, zero
        sw    t1, 12(s0)
        csrrw zero, mtvec, t2
        lui   t1, 0x80000
        addi  t1, t1, 3
        csrrw zero, mepc, t1
        csrrs t1, mepc, zero
        sw    t1, 16(s0)
        csrrw zero, sstatus, t0
        csrrs t1, sstatus, zero
        sw    t1, 20(s0)
        csrrw zero, mstatus, zero
        csrrw zero, mscratch, t0
        csrrs t1, mscratch, zero
        sw    t1, 24(s0)
        addi  s0, s0, 28
        csrrw zero, pmpaddr0, t0
        addi  t0, zero, 0x1f
        csrrw zero, pmpcfg0, t0
        lui   t0, 0x80000
        addi  t0, t0, 0x500
        csrrw zero, mepc, t0
        mret

        .org 0x80000400
handler:
        csrrs s1, mcause, zero
        sw    s1, 0(s0)
        csrrs s1, mepc, zero
        sw    s1, 4(s0)
        csrrs s1, mtval, zero
        sw    s1, 8(s0)
        csrrs s1, mstatus, zero
        lui   s2, 2
        addi  s2, s2, -0x656
        and   s1, s1, s2
        sw    s1, 12(s0)
        addi  s0, s0, 16
        csrrs s1, mcause, zero
        addi  s2, zero, 8
        beq   s1, s2, to_phase2
        addi  s2, zero, 9
        beq   s1, s2, to_phase3
        csrrs s1, mepc, zero
        addi  s1, s1, 4
        csrrw zero, mepc, s1
        mret
to_phase2:
        lui   s1, 0x80000
        addi  s1, s1, 0x600
        jal   zero, back_to_m
to_phase3:
        lui   s1, 0x80000
        addi  s1, s1, 0x700
back_to_m:
        csrrw zero, mepc, s1
        lui   s1, 2
        addi  s1, s1, -0x800
        csrrs zero, mstatus, s1
        mret

        .org 0x80000500
user:
        csrrs t1, mstatus, zero
        csrrs t1, cycle, zero
        wfi
        sret
        mret
        csrrs t1, sstatus, zero
        csrrw zero, satp, zero
        sfence.vma zero, zero
        ebreak
        ecall

        .org 0x80000580
super:
        csrrs t1, sstatus, zero
        csrrs t1, mstatus, zero
        csrrs t1, time, zero
        mret
        csrrw zero, sscratch, t0
        csrrw zero, satp, zero
        ebreak
        ecall

        .org 0x80000600
phase2:
        lui   t0, 1
        addi  t0, t0, -0x800
        csrrs zero, mstatus, t0
        lui   t0, 0x80000
        addi  t0, t0, 0x580
        csrrw zero, mepc, t0
        mret

        .org 0x80000700
phase3:
        lui   a0, 0x80008
        lui   a5, 0x10000
ploop:
        bgeu  a0, s0, finish
        lw    a1, 0(a0)
        addi  a2, zero, 28
nib:
        srl   a3, a1, a2
        andi  a3, a3, 15
        addi  a4, zero, 10
        blt   a3, a4, digit
        addi  a3, a3, 87
        jal   zero, emit
digit:
        addi  a3, a3, 48
emit:
        sb    a3, 0(a5)
        addi  a2, a2, -4
        bge   a2, zero, nib
        addi  a3, zero, 10
        sb    a3, 0(a5)
        addi  a0, a0, 4
        jal   zero, ploop
finish:
        lui   t5, 0x100
        lui   t6, 5
        addi  t6, t6, 0x555
        sw    t6, 0(t5)
spin:
        jal   zero, spin
