# =====================================================================================
#  rvminios — a tiny RISC-V teaching kernel: M-mode firmware, S-mode kernel, two U tasks
# =====================================================================================
#
#  The RISC-V counterpart of minios, and the guest the monitor will run next.  It runs
#  on QEMU's `virt` board (-bios none) and on hybridvmm's rv32 machine, which puts its
#  devices at the same addresses.  GNU as compatible: link .text at 0x80000000
#  (`as -march=rv32ima_zicsr_zifencei -mno-relax` + `ld -Ttext=0x80000000`); the guest
#  registry does the same for hybridvmm's assembler.
#
#  What each privilege level does
#  * M-mode firmware (`_start`, `m_trap`): sets mtvec, opens memory to S and U with PMP
#    (RAM and the UART only: the CLINT and the test finisher stay M's), delegates every
#    exception from U and S except ecall-from-S, and the supervisor interrupts, to S,
#    lets S read `time` (mcounteren.TM), and mrets to the kernel in S-mode.  Afterwards
#    it serves two SBI v0.1 ("legacy") calls made with ecall from S: set_timer and
#    shutdown.
#  * S-mode kernel (`s_main`, `s_trap`): builds one Sv32 address space per task, takes
#    the timer interrupt, round-robins the tasks, serves their system calls, kills a task
#    that faults, and finally reports and asks the firmware to stop the machine.
#  * Two U-mode tasks (`alpha_main`, `beta_main`), preempted by the timer, printing through
#    the kernel's write system call.
#
#  The timer (no Sstc, so the privileged spec's usual arrangement, as OpenSBI does it)
#  Only M-mode may program the CLINT.  The kernel asks for an interrupt with the SBI call
#  set_timer(absolute time); the firmware writes mtimecmp, clears mip.STIP and enables
#  mie.MTIE.  When mtime reaches mtimecmp the *machine* timer interrupt traps to M; the
#  firmware disables MTIE and sets mip.STIP, which mideleg makes a *supervisor* timer
#  interrupt, taken by the kernel as soon as a task runs (the kernel itself runs with
#  sstatus.SIE = 0, so it is never interrupted and needs no locks).  mtime counts
#  retired instructions on hybridvmm, so every run is the same.
#
#  Address spaces (Sv32: a 1024-entry root table of 4 MiB entries, leaf tables of 4 KiB
#  pages).  Every task's root maps
#      0x80000000  4 MiB superpage -> RAM (identity), R W X, not U: the kernel
#      0x10000000  4 MiB superpage -> the UART (identity), R W, not U
#      0x00010000  4 KiB page -> the user text page (the same frame for both tasks), R X U
#      0x00011000  4 KiB page -> the task's own frame, R W U: name, line buffer, stack
#  so both tasks see *different* memory at 0x00011000 - each says so at its end.
#  The kernel runs identity-mapped, so turning paging on does not move it.  Page
#  tables and private frames come from a bump allocator over the RAM after the image.
#  Every leaf PTE is made with A set, and D where it is writable, so no page fault
#  asks software to set them (spike and Svade would; QEMU sets them itself).
#
#  System calls (ecall from U; Linux's numbers and registers)
#      a7 = 64  write(a0 = fd 1, a1 = buffer, a2 = length) -> a0 = length (-1: bad)
#      a7 = 93  exit(a0 = status)
#  A buffer must lie inside the task's two pages; the kernel reads it with sstatus.SUM
#  set only while it copies (S-mode may not touch U pages otherwise).
#
#  How a run ends: the firmware writes the test finisher - status 0 when every task is
#  done, 3 when the kernel itself trapped (a panic), 2 for a trap the firmware did not
#  expect.  Console output is the UART's; every line is written by one system call or
#  by the kernel, so lines never interleave.

# ---- the platform: QEMU virt ---------------------------------------------------------
        .equ RAM_BASE, 0x80000000
        .equ RAM_SIZE, 0x100000           # what the kernel may use (QEMU has more)
        .equ UART, 0x10000000             # NS16550A; THR at +0, LSR at +5
        .equ UART_LSR, 5
        .equ LSR_THRE, 0x20               # transmitter holding register empty
        .equ CLINT_MTIMECMP, 0x2004000
        .equ FINISHER, 0x100000           # SiFive test device
        .equ FINISHER_PASS, 0x5555
        .equ FINISHER_FAIL, 0x3333        # | status << 16

# ---- the privileged architecture -----------------------------------------------------
        .equ MSTATUS_MPP, 0x1800
        .equ MPP_S, 0x800
        .equ SSTATUS_SPP, 0x100
        .equ SSTATUS_SPIE, 0x20
        .equ SSTATUS_SUM, 0x40000
        .equ MIE_MTIE, 0x80
        .equ MIP_STIP, 0x20
        .equ SIE_STIE, 0x20
        .equ DELEGATED_EXCEPTIONS, 0xb1ff # causes 0-8, 12, 13, 15: all but ecall from S/M
        .equ DELEGATED_INTERRUPTS, 0x222  # supervisor software, timer, external
        .equ MCOUNTEREN_TM, 2             # S may read `time`
        .equ CAUSE_U_ECALL, 8
        .equ CAUSE_S_ECALL, 9
        .equ CAUSE_M_TIMER, 0x80000007
        .equ PMP_RAM, (RAM_BASE >> 2) | (RAM_SIZE / 8 - 1)   # NAPOT: RAM_SIZE bytes at RAM_BASE
        .equ PMP_UART, (UART >> 2) | (0x100 / 8 - 1)        # NAPOT: the UART's 256 bytes
        .equ PMP_CFG, 0x1b1f              # entry 0 NAPOT|R|W|X, entry 1 NAPOT|R|W
        .equ SATP_SV32, 0x80000000
        .equ PTE_V, 0x01
        .equ PTE_R, 0x02
        .equ PTE_W, 0x04
        .equ PTE_X, 0x08
        .equ PTE_U, 0x10
        .equ PTE_G, 0x20
        .equ PTE_A, 0x40
        .equ PTE_D, 0x80
        .equ KERNEL_PTE, (RAM_BASE >> 2) | PTE_V | PTE_R | PTE_W | PTE_X | PTE_G | PTE_A | PTE_D
        .equ UART_PTE, (UART >> 2) | PTE_V | PTE_R | PTE_W | PTE_G | PTE_A | PTE_D
        .equ TEXT_FLAGS, PTE_V | PTE_R | PTE_X | PTE_U | PTE_A
        .equ OWN_FLAGS, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D
        .equ PAGE, 4096

# ---- SBI v0.1 calls (ecall from S: a7 = which, a0/a1 = arguments) --------------------
        .equ SBI_SET_TIMER, 0             # a0/a1 = low/high word of the absolute time
        .equ SBI_SHUTDOWN, 8              # a0 = exit status (0 = success; our addition)

# ---- the user address space and the system calls ---------------------------------
        .equ USER_TEXT, 0x00010000        # the user text page
        .equ USER_OWN, 0x00011000         # the task's own page
        .equ USER_END, 0x00012000         # (the stack grows down from here)
        .equ ROOT_KERNEL, (RAM_BASE >> 22) * 4   # byte offsets of the PTEs: VPN[1] * 4 in the root ...
        .equ ROOT_UART, (UART >> 22) * 4
        .equ LEAF_TEXT, (USER_TEXT >> 12 & 0x3ff) * 4  # ... VPN[0] * 4 in the leaf table
        .equ LEAF_OWN, (USER_OWN >> 12 & 0x3ff) * 4
        .equ NAME_VA, USER_OWN            # the task's name, copied in at start
        .equ LINE_VA, USER_OWN + 32       # the line being formatted
        .equ SYS_WRITE, 64
        .equ SYS_EXIT, 93

# ---- the kernel's task control blocks ------------------------------------------------
        .equ T_PC, 0                      # x0's slot holds the user pc
        .equ T_A0, 40                     # x10; x11 at 44, x12 at 48, x17 (a7) at 68
        .equ T_SATP, 128
        .equ T_STATE, 132                 # RUNNABLE, EXITED or KILLED
        .equ T_STATUS, 136                # exit status
        .equ T_TICKS, 140                 # timer interrupts taken while it ran
        .equ T_CALLS, 144                 # system calls it made
        .equ T_NAME, 148                  # kernel address of its name
        .equ T_ID, 152
        .equ TCB_SIZE, 160
        .equ RUNNABLE, 0
        .equ EXITED, 1
        .equ KILLED, 2

# ---- what the run does ---------------------------------------------------------------
        .equ NTASKS, 2
        .equ QUANTUM, 2000                # time slice, in instructions (mtime ticks)
        .equ ALPHA_STEPS, 4               # alpha: longest Collatz chain below ALPHA_N*k, k = 1..4
        .equ ALPHA_N, 50
        .equ BETA_STEPS, 4                # beta: primes below BETA_N*k, k = 1..4
        .equ BETA_N, 250

        .text
        .globl _start
# =====================================================================================
#  M-mode firmware
# =====================================================================================
_start:
        la      t0, m_trap
        csrw    mtvec, t0                 # direct mode: every M trap enters m_trap
        la      sp, m_stack_top           # M's own stack, also m_trap's (via mscratch)
        csrw    mscratch, sp
        li      t0, PMP_RAM               # without a PMP entry S and U may touch nothing
        csrw    pmpaddr0, t0
        li      t0, PMP_UART
        csrw    pmpaddr1, t0
        li      t0, PMP_CFG
        csrw    pmpcfg0, t0
        li      t0, DELEGATED_EXCEPTIONS
        csrw    medeleg, t0
        li      t0, DELEGATED_INTERRUPTS
        csrw    mideleg, t0
        li      t0, MCOUNTEREN_TM
        csrw    mcounteren, t0
        csrw    0x31a, zero               # menvcfgh.STCE = 0: no Sstc, STIP stays ours to set
        la      a0, msg_firmware
        call    kputs                     # the kernel's routine: the same address in M and S
        li      t0, MSTATUS_MPP
        csrc    mstatus, t0
        li      t0, MPP_S
        csrs    mstatus, t0               # mret goes to S ...
        la      t0, s_main
        csrw    mepc, t0                  # ... at s_main, with paging still off
        mret

# Every M trap: the machine timer, or an SBI call from the kernel.  Runs with MIE = 0
# on M's stack (mscratch) and saves what it uses, so S and U registers survive.
m_trap:
        csrrw   sp, mscratch, sp          # sp = M's stack, mscratch = the interrupted sp
        addi    sp, sp, -16
        sw      t0, 0(sp)
        sw      t1, 4(sp)
        csrr    t0, mcause
        li      t1, CAUSE_M_TIMER
        beq     t0, t1, m_timer
        li      t1, CAUSE_S_ECALL
        bne     t0, t1, m_unexpected
        csrr    t0, mepc
        addi    t0, t0, 4                 # return past the ecall
        csrw    mepc, t0
        beqz    a7, sbi_set_timer         # SBI_SET_TIMER = 0
        li      t1, SBI_SHUTDOWN
        beq     a7, t1, sbi_shutdown
        li      a0, -2                    # SBI_ERR_NOT_SUPPORTED
        j       m_return
m_timer:                                  # hand the tick to S as a supervisor timer interrupt
        li      t0, MIE_MTIE
        csrc    mie, t0                   # mtime stays >= mtimecmp: stop MTI re-firing
        li      t0, MIP_STIP
        csrs    mip, t0
        j       m_return
sbi_set_timer:
        li      t0, CLINT_MTIMECMP
        li      t1, -1
        sw      t1, 4(t0)                 # high word first: never a spurious early match
        sw      a0, 0(t0)
        sw      a1, 4(t0)
        li      t0, MIP_STIP
        csrc    mip, t0                   # the tick it answers has been served
        li      t0, MIE_MTIE
        csrs    mie, t0
        li      a0, 0
m_return:
        lw      t0, 0(sp)
        lw      t1, 4(sp)
        addi    sp, sp, 16
        csrrw   sp, mscratch, sp
        mret
m_unexpected:                             # a firmware bug or an undelegated fault
        la      a0, msg_m_unexpected
        call    kputs
        li      a0, 2
sbi_shutdown:                             # the test finisher ends the run with status a0
        li      t1, FINISHER_PASS
        beqz    a0, 1f
        slli    t1, a0, 16
        li      t0, FINISHER_FAIL
        or      t1, t1, t0
1:      li      t0, FINISHER
        sw      t1, 0(t0)
2:      wfi                               # not reached where the finisher exists
        j       2b

# =====================================================================================
#  S-mode kernel
# =====================================================================================
s_main:
        la      t0, s_trap
        csrw    stvec, t0
        csrw    sscratch, zero            # 0 while the kernel runs (see s_trap)
        la      t0, image_end             # free RAM starts at the first page after the image
        li      t1, PAGE - 1
        add     t0, t0, t1
        li      t1, -PAGE
        and     t0, t0, t1
        sw      t0, free_page, t1
        call    alloc_page                # the kernel stack: one page
        li      t0, PAGE
        add     sp, a0, t0
        sw      sp, kstack_top, t0
        la      a0, msg_kernel
        call    kputs
        li      a0, NTASKS
        call    kputdec
        la      a0, msg_kernel_2
        call    kputs
        li      a0, QUANTUM
        call    kputdec
        la      a0, msg_kernel_3
        call    kputs
        la      s0, tcbs
        la      s1, task_table
        li      s5, 1                     # task id
1:      call    make_task
        addi    s0, s0, TCB_SIZE
        addi    s1, s1, 8
        addi    s5, s5, 1
        li      t0, NTASKS
        bleu    s5, t0, 1b
        li      t0, SIE_STIE
        csrs    sie, t0                   # the only interrupt the kernel takes
        call    set_timer
        la      tp, tcbs
        j       resume                    # paging goes on with the first task's satp

# make_task: s0 = its TCB, s1 = its task_table entry (name, entry), s5 = its id.
# Builds its address space (see the top of the file) and prints it; uses s2-s4.
make_task:
        addi    sp, sp, -16
        sw      ra, 12(sp)
        call    alloc_page
        mv      s2, a0                    # root table
        call    alloc_page
        mv      s3, a0                    # leaf table for 0x00000000-0x003fffff
        call    alloc_page
        mv      s4, a0                    # the task's own page
        li      t0, KERNEL_PTE
        li      t1, ROOT_KERNEL
        add     t1, s2, t1
        sw      t0, 0(t1)                 # root[512]: the kernel superpage
        li      t0, UART_PTE
        sw      t0, ROOT_UART(s2)         # root[64]: the UART superpage
        srli    t0, s3, 2                 # a page-aligned address >> 2 = its PPN << 10
        ori     t0, t0, PTE_V             # V without R/W/X: points to the next level
        sw      t0, 0(s2)                 # root[0]: the leaf table
        la      t0, user_text
        srli    t0, t0, 2
        ori     t0, t0, TEXT_FLAGS
        sw      t0, LEAF_TEXT(s3)
        srli    t0, s4, 2
        ori     t0, t0, OWN_FLAGS
        sw      t0, LEAF_OWN(s3)
        srli    t0, s2, 12
        li      t1, SATP_SV32
        or      t0, t0, t1
        sw      t0, T_SATP(s0)
        lw      t0, 4(s1)                 # entry: its offset in the text page, at USER_TEXT
        la      t1, user_text
        sub     t0, t0, t1
        li      t1, USER_TEXT
        add     t0, t0, t1
        sw      t0, T_PC(s0)
        li      t0, USER_END
        sw      t0, 8(s0)                 # sp (x2)
        lw      t0, 0(s1)
        sw      t0, T_NAME(s0)
        sw      s5, T_ID(s0)
        mv      tp, s0
        call    kputs_task                # "rvminios: task N NAME"
        la      a0, msg_satp
        call    kputs
        lw      a0, T_SATP(s0)
        call    kputhex
        la      a0, msg_text
        call    kputs
        la      a0, user_text
        call    kputhex
        la      a0, msg_own
        call    kputs
        mv      a0, s4
        call    kputhex
        call    kputnl
        lw      ra, 12(sp)
        addi    sp, sp, 16
        ret

# alloc_page -> a0: the next free physical page, zeroed (pages are never freed).
alloc_page:
        lw      a0, free_page
        li      t0, PAGE
        add     t1, a0, t0
        li      t0, RAM_BASE + RAM_SIZE
        bgtu    t1, t0, out_of_memory
        sw      t1, free_page, t0
        mv      t0, a0
1:      sw      zero, 0(t0)
        addi    t0, t0, 4
        bne     t0, t1, 1b
        ret
out_of_memory:
        la      a0, msg_oom
        j       panic

# set_timer: ask the firmware for a supervisor timer interrupt QUANTUM instructions from now.
set_timer:
1:      rdtimeh a1                        # a 64-bit time on RV32: read high, low, high
        rdtime  a0
        rdtimeh t0
        bne     a1, t0, 1b                # the low word wrapped in between: again
        li      t0, QUANTUM
        add     a0, a0, t0
        sltu    t0, a0, t0                # carry into the high word
        add     a1, a1, t0
        li      a7, SBI_SET_TIMER
        ecall
        ret

# ---- traps from U-mode ----------------------------------------------------------------
# sscratch holds the running task's TCB while it runs and 0 while the kernel runs, so
# one swap gives the handler a place to save the task's registers - or tells it that
# the kernel itself trapped.  The kernel is not reentrant: it keeps sstatus.SIE = 0.
        .balign 4
s_trap:
        csrrw   tp, sscratch, tp          # tp = the TCB, sscratch = the task's tp
        beqz    tp, kernel_trap
        sw      x1, 4(tp)
        sw      x2, 8(tp)
        sw      x3, 12(tp)
        sw      x5, 20(tp)
        sw      x6, 24(tp)
        sw      x7, 28(tp)
        sw      x8, 32(tp)
        sw      x9, 36(tp)
        sw      x10, 40(tp)
        sw      x11, 44(tp)
        sw      x12, 48(tp)
        sw      x13, 52(tp)
        sw      x14, 56(tp)
        sw      x15, 60(tp)
        sw      x16, 64(tp)
        sw      x17, 68(tp)
        sw      x18, 72(tp)
        sw      x19, 76(tp)
        sw      x20, 80(tp)
        sw      x21, 84(tp)
        sw      x22, 88(tp)
        sw      x23, 92(tp)
        sw      x24, 96(tp)
        sw      x25, 100(tp)
        sw      x26, 104(tp)
        sw      x27, 108(tp)
        sw      x28, 112(tp)
        sw      x29, 116(tp)
        sw      x30, 120(tp)
        sw      x31, 124(tp)
        csrrw   t0, sscratch, zero        # the task's tp; sscratch = 0: in the kernel
        sw      t0, 16(tp)
        csrr    t0, sepc
        sw      t0, T_PC(tp)
        lw      sp, kstack_top
        csrr    t0, scause
        bltz    t0, on_timer              # the only interrupt enabled: sie.STIE
        li      t1, CAUSE_U_ECALL
        beq     t0, t1, on_syscall
        j       on_fault

on_timer:
        lw      t0, ticks
        addi    t0, t0, 1
        sw      t0, ticks, t1
        lw      t0, T_TICKS(tp)
        addi    t0, t0, 1
        sw      t0, T_TICKS(tp)
        call    set_timer                 # the next tick; clears STIP
        j       schedule

on_syscall:
        lw      t0, T_PC(tp)
        addi    t0, t0, 4                 # resume after the ecall
        sw      t0, T_PC(tp)
        lw      t0, T_CALLS(tp)
        addi    t0, t0, 1
        sw      t0, T_CALLS(tp)
        lw      t0, syscalls
        addi    t0, t0, 1
        sw      t0, syscalls, t1
        lw      a7, 68(tp)
        li      t0, SYS_WRITE
        beq     a7, t0, sys_write
        li      t0, SYS_EXIT
        beq     a7, t0, sys_exit
bad_call:
        li      t0, -1
        sw      t0, T_A0(tp)
        j       resume

sys_write:
        lw      a0, T_A0(tp)
        lw      s0, 44(tp)                # buffer
        lw      s1, 48(tp)                # length
        li      t0, 1
        bne     a0, t0, bad_call          # only stdout
        add     s2, s0, s1                # end
        bltu    s2, s0, bad_call          # wrapped around
        li      t0, USER_TEXT
        bltu    s0, t0, bad_call
        li      t0, USER_END
        bgtu    s2, t0, bad_call
        li      s3, SSTATUS_SUM
        csrs    sstatus, s3               # let S read U pages, for the copy only
1:      beq     s0, s2, 2f
        lbu     a0, 0(s0)
        call    kputc
        addi    s0, s0, 1
        j       1b
2:      csrc    sstatus, s3
        sw      s1, T_A0(tp)
        j       resume

sys_exit:
        lw      t0, T_A0(tp)
        sw      t0, T_STATUS(tp)
        li      t0, EXITED
        sw      t0, T_STATE(tp)
        call    kputs_task
        la      a0, msg_exited
        call    kputs
        lw      a0, T_STATUS(tp)
        call    kputdec
        call    kputnl
        j       schedule

on_fault:                                 # any other exception: the task dies
        li      t0, KILLED
        sw      t0, T_STATE(tp)
        call    kputs_task
        la      a0, msg_killed
        call    kputs
        csrr    t0, scause
        slli    t0, t0, 2
        la      a0, cause_names
        add     a0, a0, t0
        lw      a0, 0(a0)
        call    kputs
        la      a0, msg_at_pc
        call    kputs
        csrr    a0, sepc
        call    kputhex
        la      a0, msg_address
        call    kputs
        csrr    a0, stval
        call    kputhex
        call    kputnl
        j       schedule

kernel_trap:                              # a trap from S-mode: a kernel bug
        csrrw   tp, sscratch, zero        # the kernel's tp back, sscratch = 0 again
        la      a0, msg_panic
        call    kputs
        csrr    a0, scause
        call    kputhex
        la      a0, msg_at_pc
        call    kputs
        csrr    a0, sepc
        call    kputhex
        la      a0, msg_address
        call    kputs
        csrr    a0, stval
        call    kputhex
        la      a0, msg_nl
panic:                                    # a0 = what went wrong
        call    kputs
        li      a0, 3
        li      a7, SBI_SHUTDOWN
        ecall

# ---- the scheduler: round robin over the runnable tasks ------------------------------
schedule:                                 # tp = the task that ran
        mv      t0, tp
        li      t2, NTASKS
1:      addi    t0, t0, TCB_SIZE          # the next TCB, wrapping around ...
        la      t1, tcbs_end
        bltu    t0, t1, 2f
        la      t0, tcbs
2:      lw      t1, T_STATE(t0)
        beqz    t1, 3f                    # ... the first RUNNABLE one, the same task last
        addi    t2, t2, -1
        bnez    t2, 1b
        j       all_done
3:      beq     t0, tp, resume
        lw      t1, switches
        addi    t1, t1, 1
        sw      t1, switches, t2
        mv      tp, t0
resume:                                   # run task tp in U-mode
        lw      t0, T_SATP(tp)
        csrr    t1, satp
        beq     t0, t1, 1f
        csrw    satp, t0                  # its address space ...
        sfence.vma zero, zero             # ... and no translation of the previous one
1:      lw      t0, T_PC(tp)
        csrw    sepc, t0
        li      t0, SSTATUS_SPP | SSTATUS_SPIE
        csrc    sstatus, t0               # sret to U; the kernel keeps SIE = 0
        csrw    sscratch, tp
        lw      x1, 4(tp)
        lw      x2, 8(tp)
        lw      x3, 12(tp)
        lw      x5, 20(tp)
        lw      x6, 24(tp)
        lw      x7, 28(tp)
        lw      x8, 32(tp)
        lw      x9, 36(tp)
        lw      x10, 40(tp)
        lw      x11, 44(tp)
        lw      x12, 48(tp)
        lw      x13, 52(tp)
        lw      x14, 56(tp)
        lw      x15, 60(tp)
        lw      x16, 64(tp)
        lw      x17, 68(tp)
        lw      x18, 72(tp)
        lw      x19, 76(tp)
        lw      x20, 80(tp)
        lw      x21, 84(tp)
        lw      x22, 88(tp)
        lw      x23, 92(tp)
        lw      x24, 96(tp)
        lw      x25, 100(tp)
        lw      x26, 104(tp)
        lw      x27, 108(tp)
        lw      x28, 112(tp)
        lw      x29, 116(tp)
        lw      x30, 120(tp)
        lw      x31, 124(tp)
        lw      x4, 16(tp)                # tp last
        sret

all_done:                                 # no task left: report and stop the machine
        la      a0, msg_done
        call    kputs
        lw      a0, ticks
        call    kputdec
        la      a0, msg_done_2
        call    kputs
        lw      a0, switches
        call    kputdec
        la      a0, msg_done_3
        call    kputs
        lw      a0, syscalls
        call    kputdec
        la      a0, msg_done_4
        call    kputs
        la      tp, tcbs
1:      call    kputs_task
        lw      t0, T_STATE(tp)
        la      a0, msg_was_killed
        li      t1, KILLED
        beq     t0, t1, 2f
        la      a0, msg_was_exited
        call    kputs
        lw      a0, T_STATUS(tp)
        call    kputdec
        la      a0, msg_close
2:      call    kputs
        lw      a0, T_TICKS(tp)
        call    kputdec
        la      a0, msg_ticks
        call    kputs
        lw      a0, T_CALLS(tp)
        call    kputdec
        la      a0, msg_calls
        call    kputs
        addi    tp, tp, TCB_SIZE
        la      t0, tcbs_end
        bltu    tp, t0, 1b
        la      a0, msg_stop
        call    kputs
        li      a0, 0
        li      a7, SBI_SHUTDOWN
        ecall

# ---- console output (UART); kputc uses t0, t1; the others save what they use ----
kputc:                                    # a0 = the character
        li      t0, UART
1:      lbu     t1, UART_LSR(t0)
        andi    t1, t1, LSR_THRE
        beqz    t1, 1b                    # wait until the transmitter takes a byte
        sb      a0, 0(t0)
        ret

kputs:                                    # a0 = a NUL-terminated string
        addi    sp, sp, -16
        sw      ra, 12(sp)
        sw      s0, 8(sp)
        mv      s0, a0
1:      lbu     a0, 0(s0)
        beqz    a0, 2f
        call    kputc
        addi    s0, s0, 1
        j       1b
2:      lw      s0, 8(sp)
        lw      ra, 12(sp)
        addi    sp, sp, 16
        ret

kputnl:
        la      a0, msg_nl
        j       kputs

kputs_task:                               # "rvminios: task N NAME" for the TCB at tp
        addi    sp, sp, -16
        sw      ra, 12(sp)
        la      a0, msg_task
        call    kputs
        lw      a0, T_ID(tp)
        call    kputdec
        li      a0, ' '
        call    kputc
        lw      a0, T_NAME(tp)
        lw      ra, 12(sp)
        addi    sp, sp, 16
        j       kputs

kputdec:                                  # a0 = an unsigned number, in decimal
        addi    sp, sp, -32
        sw      ra, 28(sp)
        sw      s0, 24(sp)
        addi    s0, sp, 16                # digits are stored backwards below sp+16
        li      t0, 10
1:      remu    t1, a0, t0
        addi    t1, t1, '0'
        addi    s0, s0, -1
        sb      t1, 0(s0)
        divu    a0, a0, t0
        bnez    a0, 1b
2:      lbu     a0, 0(s0)
        call    kputc
        addi    s0, s0, 1
        addi    t0, sp, 16
        bne     s0, t0, 2b
        lw      s0, 24(sp)
        lw      ra, 28(sp)
        addi    sp, sp, 32
        ret

kputhex:                                  # a0 = a word, as 0x%08x
        addi    sp, sp, -16
        sw      ra, 12(sp)
        sw      s0, 8(sp)
        sw      s1, 4(sp)
        mv      s0, a0
        li      a0, '0'
        call    kputc
        li      a0, 'x'
        call    kputc
        li      s1, 28
1:      srl     a0, s0, s1
        andi    a0, a0, 15
        addi    a0, a0, '0'
        li      t0, '9'
        bleu    a0, t0, 2f
        addi    a0, a0, 'a' - '9' - 1
2:      call    kputc
        addi    s1, s1, -4
        bgez    s1, 1b
        lw      s1, 4(sp)
        lw      s0, 8(sp)
        lw      ra, 12(sp)
        addi    sp, sp, 16
        ret

# ---- kernel data ---------------------------------------------------------------------
        .balign 4
task_table:                               # name, entry (an address in the text page)
        .word   alpha_name, alpha_main
        .word   beta_name, beta_main
cause_names:                              # scause -> what to call it
        .word   c_0, c_1, c_2, c_3, c_4, c_5, c_6, c_7
        .word   c_8, c_r, c_r, c_r, c_12, c_13, c_r, c_15
free_page:      .word 0
kstack_top:     .word 0
ticks:          .word 0
switches:       .word 0
syscalls:       .word 0
tcbs:           .space TCB_SIZE * NTASKS
tcbs_end:
                .space 64                 # M's stack (boot, traps, SBI calls)
m_stack_top:

msg_firmware:   .asciz "rvminios: firmware (M-mode): PMP opens RAM and the UART, traps delegated, mret to the kernel\n"
msg_m_unexpected: .asciz "rvminios: firmware: unexpected trap\n"
msg_kernel:     .asciz "rvminios: kernel (S-mode): "
msg_kernel_2:   .asciz " tasks, Sv32 paging, time slice "
msg_kernel_3:   .asciz " instructions\n"
msg_task:       .asciz "rvminios: task "
msg_satp:       .asciz ": satp "
msg_text:       .asciz ", text 0x00010000 -> "
msg_own:        .asciz " (shared), own page 0x00011000 -> "
msg_exited:     .asciz " exited with status "
msg_killed:     .asciz " killed: "
msg_at_pc:      .asciz " at pc "
msg_address:    .asciz ", address "
msg_panic:      .asciz "rvminios: kernel trap: scause "
msg_oom:        .asciz "rvminios: out of memory\n"
msg_done:       .asciz "rvminios: all tasks done: "
msg_done_2:     .asciz " timer interrupts, "
msg_done_3:     .asciz " context switches, "
msg_done_4:     .asciz " system calls\n"
msg_was_exited: .asciz ": exited ("
msg_close:      .asciz "), "
msg_was_killed: .asciz ": killed, "
msg_ticks:      .asciz " ticks, "
msg_calls:      .asciz " system calls\n"
msg_stop:       .asciz "rvminios: stopping the machine\n"
msg_nl:         .asciz "\n"
c_0:            .asciz "misaligned fetch"
c_1:            .asciz "fetch access fault"
c_2:            .asciz "illegal instruction"
c_3:            .asciz "breakpoint"
c_4:            .asciz "misaligned load"
c_5:            .asciz "load access fault"
c_6:            .asciz "misaligned store"
c_7:            .asciz "store access fault"
c_8:            .asciz "ecall"
c_12:           .asciz "fetch page fault"
c_13:           .asciz "load page fault"
c_15:           .asciz "store page fault"
c_r:            .asciz "reserved cause"

# =====================================================================================
#  User text: one page, mapped at USER_TEXT into both tasks.  It is position independent
#  (pc-relative addresses only), so it runs at USER_TEXT though it is linked in RAM.
# =====================================================================================
        .balign PAGE, 0
user_text:

# alpha: the longest Collatz chain below 50, 100, 150, 200, then a look at its own
# page, then exit(0).
alpha_main:
        la      a0, alpha_name
        call    u_claim
        li      s0, 1                     # k
        li      s2, 0                     # the longest chain so far: its length ...
        li      s3, 0                     # ... and its start
        li      s4, 1                     # m, the next start to try
1:      li      t0, ALPHA_N
        mul     s1, s0, t0                # n = ALPHA_N * k
2:      bgeu    s4, s1, 5f
        mv      t0, s4                    # x
        li      t1, 0                     # steps
3:      li      t2, 1
        beq     t0, t2, 4f
        addi    t1, t1, 1
        andi    t2, t0, 1
        bnez    t2, 6f
        srli    t0, t0, 1                 # even: x / 2
        j       3b
6:      slli    t2, t0, 1
        add     t0, t0, t2
        addi    t0, t0, 1                 # odd: 3x + 1
        j       3b
4:      bleu    t1, s2, 7f
        mv      s2, t1
        mv      s3, s4
7:      addi    s4, s4, 1
        j       2b
5:      la      a0, alpha_says
        call    u_begin
        mv      a0, s1
        call    u_dec
        la      a0, alpha_says_2
        call    u_str
        mv      a0, s3
        call    u_dec
        la      a0, alpha_says_3
        call    u_str
        mv      a0, s2
        call    u_dec
        la      a0, alpha_says_4
        call    u_str
        call    u_end
        addi    s0, s0, 1
        li      t0, ALPHA_STEPS
        bleu    s0, t0, 1b
        la      a0, alpha_prefix
        call    u_whoami
        li      a0, 0
        li      a7, SYS_EXIT
        ecall

# beta: counts primes by trial division, looks at its own page, then reads kernel
# memory - a page without U - and is killed for it.
beta_main:
        la      a0, beta_name
        call    u_claim
        li      s0, 1                     # k
1:      li      t0, BETA_N
        mul     s1, s0, t0                # n = BETA_N * k
        li      s2, 0                     # primes below n
        li      s3, 2                     # m
2:      bgeu    s3, s1, 5f
        li      t0, 2                     # d
3:      mul     t1, t0, t0
        bgtu    t1, s3, 4f                # d*d > m: m is prime
        remu    t1, s3, t0
        beqz    t1, 6f
        addi    t0, t0, 1
        j       3b
4:      addi    s2, s2, 1
6:      addi    s3, s3, 1
        j       2b
5:      la      a0, beta_says
        call    u_begin
        mv      a0, s1
        call    u_dec
        la      a0, u_colon
        call    u_str
        mv      a0, s2
        call    u_dec
        call    u_end
        addi    s0, s0, 1
        li      t0, BETA_STEPS
        bleu    s0, t0, 1b
        la      a0, beta_prefix
        call    u_whoami
        la      a0, beta_peeks
        call    u_begin
        call    u_end
        li      t0, RAM_BASE
        lw      t0, 0(t0)                 # a load page fault: the kernel kills beta
        li      a0, 1
        li      a7, SYS_EXIT
        ecall

# ---- the user library: a task formats a line in its own page (s11 = the end of the
# line so far) and writes it with one system call, so lines never interleave.
u_begin:                                  # start a line with the string at a0
        li      s11, LINE_VA
u_str:                                    # append the string at a0
1:      lbu     t0, 0(a0)
        beqz    t0, 2f
        sb      t0, 0(s11)
        addi    s11, s11, 1
        addi    a0, a0, 1
        j       1b
2:      ret

u_dec:                                    # append a0, unsigned, in decimal
        mv      t0, sp                    # digits go below sp: traps never use this stack
        li      t1, 10
1:      remu    t2, a0, t1
        addi    t2, t2, '0'
        addi    t0, t0, -1
        sb      t2, 0(t0)
        divu    a0, a0, t1
        bnez    a0, 1b
2:      lbu     t2, 0(t0)
        sb      t2, 0(s11)
        addi    s11, s11, 1
        addi    t0, t0, 1
        bne     t0, sp, 2b
        ret

u_end:                                    # end the line and write it
        li      t0, '\n'
        sb      t0, 0(s11)
        addi    s11, s11, 1
        li      a0, 1
        li      a1, LINE_VA
        sub     a2, s11, a1
        li      a7, SYS_WRITE
        ecall
        ret

u_claim:                                  # copy the name at a0 into my own page
        li      t1, NAME_VA
1:      lbu     t0, 0(a0)
        sb      t0, 0(t1)
        addi    a0, a0, 1
        addi    t1, t1, 1
        bnez    t0, 1b
        ret

u_whoami:                                 # "<a0>page 0x00011000 still holds "<name>""
        addi    sp, sp, -16
        sw      ra, 12(sp)
        call    u_begin
        la      a0, u_holds
        call    u_str
        li      a0, NAME_VA
        call    u_str
        la      a0, u_quote
        call    u_str
        call    u_end
        lw      ra, 12(sp)
        addi    sp, sp, 16
        ret

alpha_name:     .asciz "alpha"
beta_name:      .asciz "beta"
alpha_prefix:   .asciz "alpha: "
beta_prefix:    .asciz "beta: "
alpha_says:     .asciz "alpha: the longest Collatz chain below "
alpha_says_2:   .asciz " starts at "
alpha_says_3:   .asciz " ("
alpha_says_4:   .asciz " steps)"
beta_says:      .asciz "beta: primes below "
beta_peeks:     .asciz "beta: reading kernel memory at 0x80000000"
u_colon:        .asciz ": "
u_holds:        .asciz "my page 0x00011000 still holds \""
u_quote:        .asciz "\""
user_text_end:
image_end:
