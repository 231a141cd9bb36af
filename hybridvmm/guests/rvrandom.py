"""Random RV32 guest programs: the RISC-V differential tests' workload (bare hart vs every monitor mode).

The counterpart of :mod:`hybridvmm.guests.randomized` for ``rv32``.  A program is drawn
from a seed and built to exercise what a monitor that deprivileges guest M *and* S must
get exactly right:

* **M-mode firmware**: ``mtvec``; PMP opened (entry 0 NAPOT over everything) or a TOR
  guard over one region for S and U (the page tables, a frame, part of the data, the
  CLINT, the UART), sometimes with a *locked* read-only entry that binds M too; random
  ``medeleg``/``mideleg`` subsets; counters enabled for S and U or not; the CLINT timer
  armed with a random period (3 to 2000 instructions) or not; ``mstatus.TW``/``TVM``
  sometimes; a random M block (CSR reads, writes of ``minstret``/``mcycle``/
  ``mcountinhibit``/``mtime``/``mstatus`` bits, ``mscratch`` swaps, MPRV accesses and an
  LR/SC pair across an MPRV change, ``ebreak``, illegal words, ``wfi``, ``msip`` and
  supervisor interrupts raised in ``mip``, an ``mret`` to M itself), then ``mret`` to S —
  or straight to U, sometimes with Sv32 set up by M (the RAM identity-mapped *with* U);
* an **S-mode kernel**: ``stvec``, maybe Sv32 (itself identity-mapped without U, the RAM
  aliased at 0x4000_0000 with U for user code, 4 KiB user pages — writable, unmapped,
  read-only, execute-only, code — and the UART with or without U; A/D preset or left to
  the hart), random S blocks (ALU, loads/stores, CSR reads and writes of ``sscratch``/
  ``sepc``/``stval``/``scounteren``/``sie``/``sstatus``, ``sfence.vma`` global, per address
  and per ASID, paging switched off and on, ASID changes, SBI-like ecalls to M, faulting
  loads, SUM and MXR, live PTE edits with or without a fence, self-modifying code, jumps
  into U pages, ``sret`` to S itself, ``wfi``, a self-raised software interrupt,
  interrupt windows, CLINT writes), then ``sret`` to U, sometimes holding a reservation
  that U's first ``sc.w`` uses;
* **U-mode blocks**: ALU, counted loops, branches, loads/stores (misaligned, across pages
  and across the end of the RAM), LR/SC (also around a live remap) and AMOs (misaligned,
  or on a device), system calls (to S when delegated, else to M: putchar, a remap of the
  user page, an MPRV peek, a PMP change, the kernel rewriting U's code or running code U
  wrote into its buffer), illegal instructions, ``ebreak``, ``wfi``, counter reads (and
  writes), self-modifying code (also written through one mapping and run through
  another), jumps to places that cannot be fetched, accesses to unmapped pages, live PTE
  edits through the alias (moved, unmapped, reserved, pointed at the UART or past the
  RAM), the CLINT and the UART read and written;
* **handlers**: M and S each count traps (and each cause), skip the faulting instruction
  (``xepc += 4``; a failed fetch returns to ``ra``), serve the calls, re-arm or disarm the
  timer (M's; or M forwards it to S through ``mip.STIP`` as OpenSBI does, and S asks for the
  next one with set_timer), and open a window with interrupts enabled in which a timer
  interrupt (a ``wfi`` makes it due) nests;
* **termination**: U's exit call reaches M (through S's shutdown call when delegated), which
  prints the counters and writes the test finisher; a trap storm past a cap ends it too.

Same seed, same bytes.  Whatever a program does, the bare machine defines it: equivalence is
the only property checked.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from hybridvmm.asm import assemble
from hybridvmm.image import Image

RAM = 0x80000000
ROOT = 0x800F0000
"""The Sv32 root table (physical; the RAM above the image is zero at reset)."""
LEAF = 0x800F1000
"""The leaf table of the user pages at 0x0001_0000."""
UFRAME = 0x800F2000
UFRAME2 = 0x800F3000
"""The two frames the writable user page maps to (a remap call swaps them)."""
UFRAME3 = 0x800F4000
"""The frame of the user code page at 0x14000 (R W X U), also reachable through the RAM mapping."""
UPAGE = 0x10000
"""The writable user page (virtual); 0x11000 is left unmapped, 0x12000 maps UFRAME read-only,
0x13000 maps UFRAME2 execute-only (readable with MXR) and 0x14000 maps UFRAME3 R W X."""
UALIAS = 0x40000000
"""Where U sees the RAM (with U) while the kernel runs paged (the kernel's own mapping has no U)."""
UART = 0x10000000
MSIP = 0x2000000
MTIMECMP = 0x2004000
MTIME = 0x200BFF8
RAM_END = RAM + 0x100000
"""The end of the RAM the generated guests get (1 MiB): beyond it, access faults."""
TRAP_CAP = 1500
"""Traps after which a handler stops the machine (a storm ends, whatever its cause)."""

PAGING = ("off", "kernel", "user")
"""``off``: bare; ``kernel``: S builds Sv32 and runs paged, U at the alias;
``user``: M builds an identity mapping with U and goes straight to U."""
DELEGABLE = (0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 13, 15)
INTERRUPTS = (1, 5, 9)
RD = ["a0", "a1", "a2", "a3", "a4", "a5", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11",
      "t3", "t4", "t5", "t6"]
"""Registers random code may write (t0-t2 form addresses, s0/s1 count loops, a6/a7 carry calls)."""
RS = RD + ["zero", "s0", "s1", "gp", "tp"]
ALU_R = ("add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and",
         "mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu")
ALU_I = ("addi", "slti", "sltiu", "xori", "ori", "andi")
SHIFT_I = ("slli", "srli", "srai")
LOADS = (("lw", 4), ("lh", 2), ("lhu", 2), ("lb", 1), ("lbu", 1))
STORES = (("sw", 4), ("sh", 2), ("sb", 1))
AMOS = ("amoswap.w", "amoadd.w", "amoxor.w", "amoand.w", "amoor.w", "amomin.w", "amomax.w", "amominu.w", "amomaxu.w")
COUNTERS = ("cycle", "time", "instret", "cycleh", "timeh", "instreth")
SMC_WORDS = ("addi a0, a0, 7", "csrrs a1, time, zero", "csrrs a2, instret, zero", "ecall", "ebreak", "wfi",
             ".word 0", "lw a3, 0(t0)", "sw a4, 12(t0)", "sfence.vma", "csrr a5, sstatus", "mret")
"""What self-modifying code writes before a ``ret`` and calls (t0 points at the buffer); U adds
``sret`` (illegal there: in S it would return to whatever sepc last held)."""
HANDLER_WORDS = ("addi a0, a0, 7", "csrrs a1, time, zero", "csrrs a2, instret, zero", "ebreak", "wfi", ".word 0",
                 "lw a3, 0(t0)", "sw a4, 12(t0)", "csrr a5, sstatus", "addi a1, a1, -3")
"""What a handler may run of code its caller wrote (no xRET, no ecall: those would leave it)."""

HEAD = """\
        .org 0x80000000
# ---- a random RV32 guest (hybridvmm.guests.rvrandom), seed {seed} --------------------------
        .equ UART, 0x10000000
        .equ FINISHER, 0x100000
        .equ MSIP, 0x2000000
        .equ MTIMECMP, 0x2004000
        .equ MTIME, 0x200bff8
        .equ ROOT, 0x{root:x}
        .equ LEAF, 0x{leaf:x}
        .equ UFRAME, 0x{uframe:x}
        .equ UFRAME2, 0x{uframe2:x}
        .equ UPAGE, 0x{upage:x}
        .equ UALIAS, 0x{ualias:x}
        .equ TRAP_CAP, {cap}
        .equ PERIOD, {period}
        .equ MAX_TICKS, {max_ticks}
        .equ MPRV, 0x20000
        .equ MIP_STIP, 0x20
        .equ MIE_MTIE, 0x80
        .equ MIE_MSIE, 0x8
        .equ SSTATUS_SPP, 0x100
        .equ SSTATUS_SPIE, 0x20
        .equ SSTATUS_SUM, 0x40000
        .equ SSTATUS_MXR, 0x80000
        .equ SYS_PUTCHAR, 1
        .equ SYS_COUNT, 2
        .equ SYS_NEST, 3
        .equ SYS_REMAP, 5
        .equ SYS_PEEK, 6
        .equ SYS_PMP, 7
        .equ SYS_UPATCH, 9
        .equ SYS_KRUN, 10
        .equ SYS_SHUTDOWN, 8
        .equ SYS_EXIT, 93
        .text
_start:
# ---- M-mode firmware ---------------------------------------------------------------------
        la      t0, m_trap
        csrw    mtvec, t0
        la      t0, m_stack_top
        csrw    mscratch, t0
        la      sp, m_kstack_top
"""

M_HANDLER = """\
# ---- M-mode trap handler: count, skip, serve calls, the timer --------------------------
m_trap:
        csrrw   sp, mscratch, sp
        addi    sp, sp, -64
        sw      t0, 0(sp)
        sw      t1, 4(sp)
        sw      t2, 8(sp)
        sw      t3, 12(sp)
        sw      t4, 16(sp)
        csrr    t0, mscratch
        sw      t0, 20(sp)                   # the interrupted sp
        csrw    mscratch, sp                 # a nested trap's frame goes below this one
        la      t0, m_count
        lw      t1, 0(t0)
        addi    t1, t1, 1
        sw      t1, 0(t0)
        li      t2, TRAP_CAP
        bgeu    t1, t2, m_runaway
        csrr    t0, mcause
        bltz    t0, m_interrupt
        andi    t1, t0, 15
        slli    t1, t1, 2
        la      t2, m_causes
        add     t2, t2, t1
        lw      t3, 0(t2)
        addi    t3, t3, 1
        sw      t3, 0(t2)
        li      t1, 8
        beq     t0, t1, m_ecall
        li      t1, 9
        beq     t0, t1, m_ecall
        li      t1, 11
        beq     t0, t1, m_ecall
        beqz    t0, m_refetch
        li      t1, 1
        beq     t0, t1, m_refetch
        li      t1, 12
        beq     t0, t1, m_refetch
m_skip:
        csrr    t1, mepc
        addi    t1, t1, 4
        csrw    mepc, t1
m_return:
        addi    t0, sp, 64
        csrw    mscratch, t0
        lw      t0, 0(sp)
        lw      t1, 4(sp)
        lw      t2, 8(sp)
        lw      t3, 12(sp)
        lw      t4, 16(sp)
        lw      sp, 20(sp)
        mret
m_refetch:                                   # a fetch that failed: back to the caller's ra
        csrw    mepc, ra
        j       m_return
m_runaway:
        li      t0, FINISHER
        li      t1, 0x13333                  # exit 1: a trap storm
        sw      t1, 0(t0)
        j       m_runaway
m_interrupt:
        slli    t0, t0, 1
        srli    t0, t0, 1
        li      t1, 7
        beq     t0, t1, m_timer
        li      t1, 3
        beq     t0, t1, m_soft
        li      t1, 1                        # SSI, STI or SEI that M raised itself: clear it
        sll     t1, t1, t0
        csrc    mip, t1
        j       m_return
m_soft:
        li      t1, MSIP
        sw      zero, 0(t1)
        la      t1, m_softs
        lw      t2, 0(t1)
        addi    t2, t2, 1
        sw      t2, 0(t1)
        j       m_return
m_timer:
        la      t0, m_ticks
        lw      t1, 0(t0)
        addi    t1, t1, 1
        sw      t1, 0(t0)
{timer_body}
m_timer_off:
        li      t0, MTIMECMP
        li      t1, -1
        sw      t1, 4(t0)                    # never again
{timer_off_extra}
        j       m_return
m_ecall:
        csrr    t1, mepc
        addi    t1, t1, 4
        csrw    mepc, t1
        li      t1, SYS_EXIT
        beq     a7, t1, m_exit
        li      t1, SYS_SHUTDOWN
        beq     a7, t1, m_shutdown
        li      t1, SYS_PUTCHAR
        beq     a7, t1, m_putchar
        li      t1, SYS_COUNT
        beq     a7, t1, m_getcount
        beqz    a7, m_set_timer
        li      t1, SYS_NEST
        beq     a7, t1, m_nest
        li      t1, SYS_PEEK
        beq     a7, t1, m_peek
        li      t1, SYS_PMP
        beq     a7, t1, m_pmp
        li      t1, SYS_UPATCH
        beq     a7, t1, m_upatch
        li      t1, SYS_KRUN
        beq     a7, t1, m_krun
        j       m_return
m_upatch:                                    # M rewrites the user's code buffer (physical)
        la      t0, u_code
        li      t1, {m_upatch_word}
        sw      t1, 0(t0)
        li      t1, 0x8067                   # ret
        sw      t1, 4(t0)
        j       m_return
m_krun:                                      # M runs what the caller wrote into the kernel's buffer
        csrr    t1, mepc
        sw      t1, 24(sp)
        csrr    t1, mstatus
        sw      t1, 28(sp)
        sw      ra, 32(sp)
        la      t0, s_code
        jalr    ra, 0(t0)
        lw      ra, 32(sp)
        lw      t1, 24(sp)
        csrw    mepc, t1
        lw      t1, 28(sp)
        csrw    mstatus, t1
        j       m_return
m_pmp:                                       # the guard entry's permissions change: S and U see it
{pmp_body}
        j       m_return
m_putchar:
        li      t1, UART
        sb      a0, 0(t1)
        j       m_return
m_getcount:
        la      t1, m_count
        lw      a0, 0(t1)
        j       m_return
m_set_timer:                                 # SBI set_timer(a0 = delay, 0: none); clears STIP
        li      t1, MIP_STIP
        csrc    mip, t1
        li      t0, MTIMECMP
        beqz    a0, m_timer_off
        li      t1, MTIME
        lw      t1, 0(t1)
        add     t1, t1, a0
        sw      t1, 0(t0)
        sw      zero, 4(t0)
        li      t1, MIE_MTIE
        csrs    mie, t1
        j       m_return
m_nest:                                      # a window with MIE set: a timer interrupt nests here
        csrr    t1, mepc
        sw      t1, 24(sp)
        csrr    t1, mstatus
        sw      t1, 28(sp)
        csrsi   mstatus, 8
{nest_body}
        csrci   mstatus, 8
        lw      t1, 24(sp)
        csrw    mepc, t1
        lw      t1, 28(sp)
        csrw    mstatus, t1
        j       m_return
m_peek:                                      # a0 = the word at a0 as the caller's mode sees it (MPRV)
        csrr    t1, mepc
        sw      t1, 24(sp)
        csrr    t1, mstatus
        sw      t1, 28(sp)
        li      t1, MPRV
        csrs    mstatus, t1
        lw      a0, 0(a0)                    # may fault: a nested trap, which skips it
        li      t1, MPRV
        csrc    mstatus, t1
        lw      t1, 24(sp)
        csrw    mepc, t1
        lw      t1, 28(sp)
        csrw    mstatus, t1
        j       m_return
m_shutdown:
        bnez    a0, m_failed
m_exit:
        la      t3, m_count                  # print the counters, then stop
        li      t4, 7
m_print_word:
        lw      t0, 0(t3)
        li      t2, 28
m_print_digit:
        srl     t1, t0, t2
        andi    t1, t1, 15
        addi    t1, t1, 48
        li      a0, 58
        bltu    t1, a0, m_print_put
        addi    t1, t1, 39
m_print_put:
        li      a0, UART
        sb      t1, 0(a0)
        addi    t2, t2, -4
        bgez    t2, m_print_digit
        li      t1, 32
        sb      t1, 0(a0)
        addi    t3, t3, 4
        addi    t4, t4, -1
        bnez    t4, m_print_word
        li      t1, 10
        sb      t1, 0(a0)
        li      t0, FINISHER
        li      t1, 0x5555
        sw      t1, 0(t0)
m_halt:
        j       m_halt
m_failed:
        slli    a0, a0, 16
        li      t1, 0x3333
        or      a0, a0, t1
        li      t0, FINISHER
        sw      a0, 0(t0)
        j       m_failed
"""

S_HANDLER = """\
# ---- S-mode trap handler: what M delegated -------------------------------------------------
s_trap:
        csrrw   sp, sscratch, sp
        addi    sp, sp, -64
        sw      t0, 0(sp)
        sw      t1, 4(sp)
        sw      t2, 8(sp)
        sw      t3, 12(sp)
        sw      t4, 16(sp)
        sw      a7, 32(sp)
        sw      a0, 36(sp)
        csrr    t0, sscratch
        sw      t0, 20(sp)
        csrw    sscratch, sp
        la      t0, s_count
        lw      t1, 0(t0)
        addi    t1, t1, 1
        sw      t1, 0(t0)
        li      t2, TRAP_CAP
        bgeu    t1, t2, s_runaway
        csrr    t0, scause
        bltz    t0, s_interrupt
        andi    t1, t0, 15
        slli    t1, t1, 2
        la      t2, s_causes
        add     t2, t2, t1
        lw      t3, 0(t2)
        addi    t3, t3, 1
        sw      t3, 0(t2)
        li      t1, 8
        beq     t0, t1, s_syscall
        beqz    t0, s_refetch
        li      t1, 1
        beq     t0, t1, s_refetch
        li      t1, 12
        beq     t0, t1, s_refetch
s_skip:
        csrr    t1, sepc
        addi    t1, t1, 4
        csrw    sepc, t1
s_return:
        addi    t0, sp, 64
        csrw    sscratch, t0
        lw      t0, 0(sp)
        lw      t1, 4(sp)
        lw      t2, 8(sp)
        lw      t3, 12(sp)
        lw      t4, 16(sp)
        lw      sp, 20(sp)
        sret
s_refetch:
        csrw    sepc, ra
        j       s_return
s_runaway:
        li      a0, 2                        # exit 2: a trap storm in S
        li      a7, SYS_SHUTDOWN
        ecall
        j       s_runaway
s_interrupt:
        slli    t0, t0, 1
        srli    t0, t0, 1
        li      t1, 5
        beq     t0, t1, s_timer
        li      t1, 1
        beq     t0, t1, s_soft
        li      t1, 1                        # SEI (M raised it; S cannot clear it): disable it
        sll     t1, t1, t0
        csrc    sie, t1
        j       s_return
s_soft:
        csrci   sip, 2
        j       s_return
s_timer:                                     # forwarded by M: ask for the next one (or none)
        la      t0, s_ticks
        lw      t1, 0(t0)
        addi    t1, t1, 1
        sw      t1, 0(t0)
        li      a0, PERIOD
        li      t2, MAX_TICKS
        bltu    t1, t2, 1f
        li      a0, 0
1:      li      a7, 0
        ecall
        lw      a0, 36(sp)
        lw      a7, 32(sp)
        j       s_return
s_syscall:
        csrr    t1, sepc
        addi    t1, t1, 4
        csrw    sepc, t1
        la      t0, u_calls
        lw      t1, 0(t0)
        addi    t1, t1, 1
        sw      t1, 0(t0)
        li      t1, SYS_EXIT
        beq     a7, t1, s_exit
        li      t1, SYS_PUTCHAR
        beq     a7, t1, s_forward
        li      t1, SYS_PEEK
        beq     a7, t1, s_forward
        li      t1, SYS_PMP
        beq     a7, t1, s_forward
        li      t1, SYS_UPATCH
        beq     a7, t1, s_upatch
        li      t1, SYS_KRUN
        beq     a7, t1, s_krun
        li      t1, SYS_COUNT
        beq     a7, t1, s_getcount
        li      t1, SYS_NEST
        beq     a7, t1, s_nest
        li      t1, SYS_REMAP
        beq     a7, t1, s_remap
        j       s_return
s_forward:                                   # the same call to M (SBI putchar / peek)
        ecall
        j       s_return
s_getcount:
        la      t1, s_count
        lw      a0, 0(t1)
        j       s_return
s_exit:
        li      a0, 0
        li      a7, SYS_SHUTDOWN
        ecall
        j       s_exit
s_nest:                                      # a window with SIE set: an S interrupt nests here
        csrr    t1, sepc
        sw      t1, 24(sp)
        csrr    t1, sstatus
        sw      t1, 28(sp)
        csrsi   sstatus, 2
{s_nest_body}
        csrci   sstatus, 2
        lw      t1, 24(sp)
        csrw    sepc, t1
        lw      t1, 28(sp)
        csrw    sstatus, t1
        j       s_return
s_upatch:                                    # S rewrites the user's code buffer (identity)
        la      t0, u_code
        li      t1, {s_upatch_word}
        sw      t1, 0(t0)
        li      t1, 0x8067                   # ret
        sw      t1, 4(t0)
        j       s_return
s_krun:                                      # S runs what the user wrote into its buffer
        csrr    t1, sepc
        sw      t1, 24(sp)
        csrr    t1, sstatus
        sw      t1, 28(sp)
        sw      ra, 40(sp)
        la      t0, s_code
        jalr    ra, 0(t0)
        lw      ra, 40(sp)
        lw      t1, 24(sp)
        csrw    sepc, t1
        lw      t1, 28(sp)
        csrw    sstatus, t1
        j       s_return
s_remap:                                     # the user page moves to the other frame
{remap_body}
        j       s_return
"""

DATA = """\
# ---- data ----------------------------------------------------------------------------------
        .balign 16
m_count:        .word 0                      # printed at the end, in this order
m_ticks:        .word 0
s_count:        .word 0
s_ticks:        .word 0
u_calls:        .word 0
m_softs:        .word 0
checksum:       .word 0
m_causes:       .space 64
s_causes:       .space 64
u_code:         .space 16                    # self-modifying code buffers
s_code:         .space 16
m_data:
{m_data}
s_data:
{s_data}
u_data:
{u_data}
                .space 512
u_stack_top:
                .space 512
s_kstack_top:
                .space 512
s_stack_top:
                .space 512
m_kstack_top:
                .space 512
m_stack_top:
"""


@dataclass(frozen=True)
class RvProgram:
    """A generated RV32 guest: its seed, the choices drawn, and the assembly source."""

    seed: int
    paging: str
    supervisor: bool
    """Whether an S-mode kernel runs (else M goes straight to U)."""
    timer: int
    """The timer period in instructions (0: no timer)."""
    forward: bool
    """M forwards its timer interrupt to S through ``mip.STIP``."""
    medeleg: int
    mideleg: int
    mcounteren: int
    scounteren: int
    pmp: str
    """``open`` (entry 0 grants everything) or the region a guard entry restricts for S and U."""
    source: str

    def image(self, isa: str = "rv32") -> Image:
        image = assemble(self.source, isa, f"rvrandom:{self.seed}")
        image.source = f"rvrandom:{self.seed}"
        return image


def pte(pa: int, flags: int) -> int:
    """An Sv32 PTE pointing at physical ``pa`` (leaf or table)."""
    return (pa >> 12) << 10 | flags


V, R, W, X, U, G, A, D = 1, 2, 4, 8, 0x10, 0x20, 0x40, 0x80
PMP_R, PMP_W, PMP_X, PMP_TOR, PMP_L = 1, 2, 4, 0x08, 0x80
GUARDS: dict[str, tuple[int | tuple[str, int], int | tuple[str, int]]] = {
    "uframe2": (UFRAME2, UFRAME2 + 0x1000),
    "tables": (ROOT, ROOT + 0x2000),
    "u_data": (("u_data", 512), ("u_data", 1024)),
    "s_data": (("s_data", 0), ("s_data", 1024)),
    "clint": (0x2000000, 0x2010000),
    "uart": (UART, UART + 0x100),
}
"""Regions a PMP guard may cover (addresses, or a label and an offset), none that S or U
must reach to run on: their stacks, code and the counters stay open."""


@lru_cache(maxsize=None)
def encode(text: str) -> int:
    """The instruction word of one line of assembly (the project's assembler encodes it)."""
    image = assemble(f".org 0x{RAM:x}\n        {text}\n", "rv32")
    return int.from_bytes(image.sections[0].data[:4], "little")


def leaf_va(paging: str, vpage: int) -> int:
    """Where the code of ``paging`` addresses the leaf PTE of user page ``vpage``: U sees the
    tables through the alias under the kernel's mapping, at their physical address otherwise."""
    pa = LEAF + (vpage >> 12 & 0x3FF) * 4
    return pa - RAM + UALIAS if paging == "kernel" else pa


def root_va(paging: str, va: int) -> int:
    pa = ROOT + (va >> 22) * 4
    return pa - RAM + UALIAS if paging == "kernel" else pa


class _Gen:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.seed = seed
        self.n = 0
        self.lines: list[str] = []

    def label(self, stem: str) -> str:
        self.n += 1
        return f"{stem}_{self.n}"

    def emit(self, text: str) -> None:
        self.lines.append(f"        {text}")

    def comment(self, text: str) -> None:
        self.lines.append(f"        # {text}")

    def put(self, label: str) -> None:
        self.lines.append(f"{label}:")

    def rd(self) -> str:
        return "zero" if self.rng.random() < 0.02 else self.rng.choice(RD)

    def rs(self) -> str:
        return self.rng.choice(RS)

    def imm12(self) -> int:
        r = self.rng.random()
        if r < 0.3:
            return self.rng.choice([0, 1, -1, 2, 2047, -2048, 4, 8])
        return self.rng.randint(-2048, 2047)

    def word(self) -> int:
        r = self.rng.random()
        if r < 0.25:
            return self.rng.choice([0, 1, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 2, 0xFFFFFFFE])
        return self.rng.getrandbits(32)

    def li(self, reg: str, value: int) -> None:
        self.emit(f"li      {reg}, 0x{value & 0xFFFFFFFF:x}")

    # --- pieces common to every mode -------------------------------------------------------
    def alu(self) -> None:
        rng = self.rng
        k = rng.random()
        if k < 0.45:
            self.emit(f"{rng.choice(ALU_R):<7} {self.rd()}, {self.rs()}, {self.rs()}")
        elif k < 0.75:
            self.emit(f"{rng.choice(ALU_I):<7} {self.rd()}, {self.rs()}, {self.imm12()}")
        elif k < 0.85:
            self.emit(f"{rng.choice(SHIFT_I):<7} {self.rd()}, {self.rs()}, {rng.randint(0, 31)}")
        elif k < 0.92:
            self.emit(f"lui     {self.rd()}, 0x{rng.getrandbits(20):x}")
        else:
            self.li(self.rd(), self.word())

    def memory(self, base: str, extent: int = 1024) -> None:
        """A load or store in the mode's own data area, misaligned one time in ten."""
        rng = self.rng
        self.emit(f"la      t0, {base}")
        if rng.random() < 0.5:
            op, size = rng.choice(LOADS)
        else:
            op, size = rng.choice(STORES)
        misaligned = rng.random() < 0.1 and size > 1
        offset = rng.randrange(0, extent - 4, 1 if misaligned else size)
        if misaligned and offset % size == 0:
            offset += 1
        if op.startswith("s"):
            self.emit(f"{op:<7} {self.rs()}, {offset}(t0)")
        else:
            self.emit(f"{op:<7} {self.rd()}, {offset}(t0)")

    def lrsc_remap(self, paging: str) -> None:
        """LR on the user page, its PTE moved to the other frame (no fence: the TLB may keep
        the old one), SC through the same virtual address."""
        rng = self.rng
        self.comment("lr.w, a live remap of its page, sc.w")
        self.li("t0", UPAGE + rng.randrange(0, 0x100, 4))
        rd = self.rd()
        self.emit(f"lr.w    {rd}, (t0)")
        self.li("t2", leaf_va(paging, UPAGE))
        self.emit("lw      t1, 0(t2)")
        self.li("t0", ((UFRAME ^ UFRAME2) >> 12) << 10)
        self.emit("xor     t1, t1, t0")
        self.emit("sw      t1, 0(t2)")
        if rng.random() < 0.3:
            self.li("t1", UPAGE)
            self.emit("lw      t1, 0(t1)                    # touches the page again")
        self.li("t0", UPAGE + rng.randrange(0, 0x100, 4))
        self.emit(f"sc.w    {self.rd()}, {self.rs()}, (t0)")

    def cross_smc(self, paging: str) -> None:
        """Code written through one virtual page and run through another mapping the same frame."""
        rng = self.rng
        other = UFRAME3 - RAM + UALIAS if paging == "kernel" else UFRAME3
        write, run = (0x14000, other) if rng.random() < 0.5 else (other, 0x14000)
        self.comment("code written at one virtual address, run at another (the same frame)")
        self.li("t0", write)
        self.li("t1", encode(rng.choice(SMC_WORDS)))
        self.emit("sw      t1, 0(t0)")
        self.li("t1", encode("ret"))
        self.emit("sw      t1, 4(t0)")
        if rng.random() < 0.5:
            self.emit("fence.i")
        self.li("t0", run)
        self.emit("jalr    ra, 0(t0)")

    def atomic(self, base: str, user_page: bool) -> None:
        """LR/SC pairs (kept, broken, misdirected) and AMOs, sometimes misaligned or on a device."""
        rng = self.rng
        where = rng.random()
        if where < 0.15 and user_page:
            self.li("t0", UPAGE + rng.randrange(0, 0x100, 4))
        elif where < 0.2:
            self.li("t0", UART)
            self.comment("an AMO on a device: access fault")
        else:
            self.emit(f"la      t0, {base}")
            offset = rng.randrange(0, 1020, 4)
            if rng.random() < 0.07:
                offset += rng.choice([1, 2])
                self.comment("misaligned atomic: a fault")
            self.emit(f"addi    t0, t0, {offset}")
        k = rng.random()
        if k < 0.45:
            rd, rv = self.rd(), self.rd()
            self.emit(f"lr.w    {rd}, (t0)")
            if rng.random() < 0.5:
                self.emit(f"addi    {rv}, {rd}, {rng.randint(-50, 50)}")
            if rng.random() < 0.15:
                self.emit("addi    t0, t0, 4")    # sc to another word: fails
            self.emit(f"sc.w    {self.rd()}, {rv}, (t0)")
        elif k < 0.55:
            self.emit(f"sc.w    {self.rd()}, {self.rs()}, (t0)")  # no reservation
        else:
            op = rng.choice(AMOS) + rng.choice(["", "", "", ".aq", ".rl", ".aqrl"])
            self.emit(f"{op:<10} {self.rd()}, {self.rs()}, (t0)")

    def branch(self, body) -> None:
        skip = self.label("skip")
        op = self.rng.choice(("beq", "bne", "blt", "bge", "bltu", "bgeu"))
        self.emit(f"{op:<7} {self.rs()}, {self.rs()}, {skip}")
        body()
        self.put(skip)

    def loop(self, depth: int, body) -> None:
        counter = "s0" if depth == 0 else "s1"
        top = self.label("loop")
        self.emit(f"li      {counter}, {self.rng.randint(1, 6)}")
        self.put(top)
        body(depth + 1)
        self.emit(f"addi    {counter}, {counter}, -1")
        self.emit(f"bnez    {counter}, {top}")

    def bad_fetch(self, supervisor: bool = False) -> None:
        """Jump where nothing can be fetched; the handler resumes at ``ra``."""
        rng = self.rng
        kind = rng.choice(["unmapped", "data", "device", "misaligned"] + (["user"] if supervisor else []))
        if kind == "user":
            self.comment("S jumps into U's code at the alias: never executable for S")
            self.emit("la      t0, u_main")
            self.li("t1", RAM - UALIAS)
            self.emit("sub     t0, t0, t1")
            self.emit("auipc   ra, 0")
            self.emit("addi    ra, ra, 12")
            self.emit("jr      t0")
            return
        self.comment(f"a jump that cannot fetch ({kind}): the handler returns to ra")
        if kind == "misaligned":
            self.emit("auipc   ra, 0")
            self.emit("addi    ra, ra, 16")
            self.emit("addi    t0, ra, 2")
            self.emit("jr      t0")
            return
        target = {"unmapped": rng.choice([0x11000, 0x400000, 0x0]), "data": UPAGE, "device": UART}[kind]
        self.li("t0", target)
        self.emit("auipc   ra, 0")
        self.emit("addi    ra, ra, 12")
        self.emit("jr      t0")

    def counter(self) -> None:
        rng = self.rng
        if rng.random() < 0.85:
            self.emit(f"csrr    {self.rd()}, {rng.choice(COUNTERS)}")
        else:
            self.emit(f"{rng.choice(['csrrs', 'csrrc'])}   {self.rd()}, {rng.choice(COUNTERS)}, {self.rs()}"
                      "   # a write unless the source is x0")

    def uart_read(self) -> None:
        """A read of a UART register (t0 = the UART): RBR takes input, LSR tells whether any waits."""
        rng = self.rng
        offset = rng.choice([0, 0, 5, 5, 1, 2, 3, 4, 6, 7, 0x10])
        op = rng.choice(["lbu", "lbu", "lb", "lw", "lh"])
        self.comment("a read of a UART register")
        self.emit(f"{op:<7} {self.rd()}, {offset}(t0)")

    def kernel_smc(self) -> None:
        """U writes code into the kernel's buffer and asks the kernel (S, or M) to run it:
        one physical page, two contexts."""
        rng = self.rng
        self.comment("U writes code the kernel runs")
        self.emit("la      t0, s_code")
        self.li("t1", encode(rng.choice(HANDLER_WORDS)))
        self.emit("sw      t1, 0(t0)")
        self.li("t1", encode("ret"))
        self.emit("sw      t1, 4(t0)")
        self.li("a7", 10)
        self.emit("ecall                                # the kernel runs s_code")

    def smc(self, buffer: str, words: tuple[str, ...] = SMC_WORDS) -> None:
        """Self-modifying code: write an instruction and a ``ret`` into a buffer, call it;
        sometimes rewrite it and call again."""
        rng = self.rng
        self.comment("self-modifying code: an instruction written, then run")
        self.emit(f"la      t0, {buffer}")
        for round_ in range(rng.choice([1, 1, 2])):
            self.li("t1", encode(rng.choice(words)))
            self.emit("sw      t1, 0(t0)")
            if round_ == 0:
                self.li("t1", encode("ret"))
                self.emit("sw      t1, 4(t0)")
            if rng.random() < 0.7:
                self.emit("fence.i")
            self.emit("jalr    ra, 0(t0)")
            self.emit(f"la      t0, {buffer}")

    def crossing(self, bases: list[int]) -> None:
        """A misaligned access straddling a page (or the end of the RAM): each half may fault."""
        rng = self.rng
        self.comment("a misaligned access across a page boundary")
        self.li("t0", rng.choice(bases) - rng.choice([1, 2, 3]))
        op = rng.choice(["lw", "lh", "lhu", "sw", "sh"])
        if op.startswith("s"):
            self.emit(f"{op:<7} {self.rs()}, 0(t0)")
        else:
            self.emit(f"{op:<7} {self.rd()}, 0(t0)")

    def edit_pte(self, paging: str) -> None:
        """A live page-table edit (no fence): a user page moved, mapped, unmapped, made
        reserved, pointed at a device or past the RAM, or a megapage set at 0x400000."""
        rng = self.rng
        kind = rng.choice(["swap", "map", "unmap", "reserved", "device", "beyond", "readonly", "clear-ad", "megapage"])
        self.comment(f"a live PTE edit, no fence ({kind})")
        if kind == "megapage":
            self.li("t0", root_va(paging, 0x400000))
            value = rng.choice([0, pte(RAM, V | R | U | A), pte(RAM + 0x1000, V | R | U | A), pte(RAM, V | R | W | U)])
            self.li("t1", value)
            self.emit("sw      t1, 0(t0)")
            return
        page = UPAGE + 0x1000 if kind in ("map", "unmap") else UPAGE
        self.li("t0", leaf_va(paging, page))
        if kind == "swap":
            self.emit("lw      t1, 0(t0)")
            self.li("t2", ((UFRAME ^ UFRAME2) >> 12) << 10)
            self.emit("xor     t1, t1, t2")
        elif kind == "clear-ad":
            self.emit("lw      t1, 0(t0)")
            self.emit("andi    t1, t1, -193")
        else:
            value = {"map": pte(UFRAME2, V | R | W | U), "unmap": 0, "reserved": pte(UFRAME, V | W | U),
                     "device": pte(UART, V | R | W | U | A | D), "beyond": pte(RAM_END + 0x1000, V | R | W | U | A | D),
                     "readonly": pte(UFRAME, V | R | U | A)}[kind]
            self.li("t1", value)
        self.emit("sw      t1, 0(t0)")

    def ecall(self, numbers: list[tuple[int, str]]) -> None:
        rng = self.rng
        number, what = rng.choice(numbers)
        if number == 1:
            self.li("a0", rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789"))
        elif number == 0:
            self.li("a0", rng.choice([0, rng.randint(20, 400), rng.randint(400, 3000)]))
        elif number == 6:
            self.li("a0", rng.choice([UPAGE, UPAGE + 0x1000, UPAGE + 0x2000, RAM + 0x100, UALIAS + 0x100, 0x400000]))
        self.li("a7", number)
        self.emit(f"ecall                                # {what}")

    # --- M ---------------------------------------------------------------------------------
    def m_block(self, count: int, paging: str) -> None:
        rng = self.rng
        for _ in range(count):
            k = rng.random()
            if k < 0.3:
                self.alu()
            elif k < 0.45:
                self.memory("m_data")
            elif k < 0.58:
                csr = rng.choice(["mstatus", "misa", "mhartid", "mvendorid", "mcycle", "minstret", "mip", "mie",
                                  "medeleg", "mideleg", "mcounteren", "pmpcfg0", "pmpaddr0", "time", "cycle",
                                  "mtvec", "mepc", "mcause", "mtval"])
                self.emit(f"csrr    {self.rd()}, {csr}")
            elif k < 0.63:
                self.comment("mscratch swapped out and back with MIE clear")
                self.emit("csrrci  t2, mstatus, 8")
                self.emit(f"csrrw   t1, mscratch, {self.rs()}")
                self.emit(f"csrrw   {self.rd()}, mscratch, t1")
                self.emit("andi    t2, t2, 8")
                self.emit("csrs    mstatus, t2")
            elif k < 0.70:
                self.comment("an MPRV access: data as MPP's mode sees it")
                mpp = rng.choice([0, 0x800])
                self.li("t1", 0x1800)
                self.emit("csrc    mstatus, t1")
                if mpp:
                    self.li("t1", mpp)
                    self.emit("csrs    mstatus, t1")
                self.li("t1", 0x20000)
                self.emit("csrs    mstatus, t1")
                if rng.random() < 0.5:
                    self.li("t0", rng.choice([UPAGE, UPAGE + 0x1000, RAM + 0x40, UALIAS + 0x40, 0x400000]))
                    self.emit(f"lw      {self.rd()}, 0(t0)")
                else:
                    self.li("t0", rng.choice([UPAGE, UPAGE + 0x1000, UPAGE + 0x2000, 0x400000]))
                    self.emit(f"sw      {self.rs()}, 8(t0)")
                self.li("t1", 0x20000)
                self.emit("csrc    mstatus, t1")
            elif k < 0.74:
                self.emit("ebreak")
            elif k < 0.78:
                self.emit(rng.choice([".word 0", ".word 0xffffffff", "csrr a0, 0x7c0"]) + "       # illegal in M")
            elif k < 0.81:
                self.emit("wfi")
            elif k < 0.84:
                self.comment("mret to M itself (MIE clear while mepc and MPP wait; MIE = MPIE after)")
                after = self.label("m_again")
                self.emit("csrci   mstatus, 8")
                self.li("t0", 0x80)
                self.emit(f"{rng.choice(['csrs', 'csrc'])}    mstatus, t0")
                self.emit(f"la      t0, {after}")
                self.emit("csrw    mepc, t0")
                self.li("t0", 0x1800)
                self.emit("csrs    mstatus, t0")
                self.emit("mret")
                self.put(after)
            elif k < 0.87:
                self.comment("a machine software interrupt, taken once M drops below M")
                self.li("t0", 0x2000000)
                self.li("t1", 1)
                self.emit("sw      t1, 0(t0)")
                self.li("t1", 8)
                self.emit("csrs    mie, t1")
            elif k < 0.87:
                which = rng.choice(["minstret", "mcycle", "minstreth", "mcycleh", "mcountinhibit", "mtime",
                                    "mstatus", "uart"])
                if which == "mtime":
                    self.comment("mtime written through the CLINT")
                    self.li("t0", MTIME)
                    if rng.random() < 0.5:
                        self.emit("lw      t1, 0(t0)")
                        self.emit(f"addi    t1, t1, {rng.randint(-200, 500)}")
                    else:
                        self.li("t1", rng.randint(0, 5000))
                    self.emit("sw      t1, 0(t0)")
                elif which == "mstatus":
                    self.comment("mstatus written with random bits (never MPRV, TSR, TVM)")
                    self.li("t1", self.word() & 0x2C19AA)
                    self.emit(f"{rng.choice(['csrs', 'csrc'])}    mstatus, t1")
                elif which == "uart":
                    self.li("t0", UART)
                    self.uart_read()
                else:
                    self.comment(f"{which} written")
                    value = rng.randrange(8) if which == "mcountinhibit" else rng.choice([0, 5, 1000, 0xFFFFFFF0])
                    self.li("t1", value)
                    self.emit(f"csrw    {which}, t1")
            elif k < 0.885:
                bit = rng.choice([0x2, 0x20, 0x200])
                self.comment("M raises a supervisor interrupt in mip")
                self.li("t1", bit)
                self.emit("csrs    mip, t1")
                if rng.random() < 0.5:
                    self.emit("csrs    mie, t1")
            elif k < 0.90:
                if rng.random() < 0.7:
                    self.li("t0", 0x200BFF8)
                    self.emit(f"lw      {self.rd()}, 0(t0)              # mtime through the CLINT")
                else:
                    self.li("t0", RAM_END - rng.choice([0, 2, 4]))
                    self.emit(f"lw      {self.rd()}, 0(t0)              # at the end of the RAM")
            elif k < 0.93:
                self.ecall([(2, "from M: the trap count"), (1, "from M: putchar"), (3, "from M: a window in M")])
            elif k < 0.97:
                self.branch(self.alu)
            elif rng.random() < 0.3:
                self.comment("lr.w and sc.w on either side of an MPRV change (MPP = M: the same word)")
                self.li("t1", 0x1800)
                self.emit("csrs    mstatus, t1")
                self.emit("la      t0, m_data")
                self.emit(f"addi    t0, t0, {rng.randrange(0, 1020, 4)}")
                self.li("t1", 0x20000)
                first, second = ("csrs", "csrc") if rng.random() < 0.5 else ("csrc", "csrs")
                self.emit(f"{first}    mstatus, t1")
                self.emit(f"lr.w    {self.rd()}, (t0)")
                self.emit(f"{second}    mstatus, t1")
                self.emit(f"sc.w    {self.rd()}, {self.rs()}, (t0)")
                self.emit("csrc    mstatus, t1")
            else:
                self.atomic("m_data", paging != "off")

    # --- S ---------------------------------------------------------------------------------
    def s_block(self, depth: int, count: int, paging: str) -> None:
        rng = self.rng
        for _ in range(count):
            k = rng.random()
            if k < 0.22:
                self.alu()
            elif k < 0.32:
                self.memory("s_data")
            elif k < 0.40:
                csr = rng.choice(["sstatus", "sie", "sip", "stvec", "scounteren", "sscratch", "sepc", "scause",
                                  "stval", "satp", "time", "cycle", "instret"])
                self.emit(f"csrr    {self.rd()}, {csr}")
            elif k < 0.47:
                which = rng.choice(["sepc", "stval", "sscratch", "scounteren", "sie", "sum"])
                if which == "sscratch":
                    self.comment("sscratch swapped out and back with SIE clear")
                    self.emit("csrrci  t2, sstatus, 2")
                    self.emit(f"csrrw   t1, sscratch, {self.rs()}")
                    self.emit(f"csrrw   {self.rd()}, sscratch, t1")
                    self.emit("andi    t2, t2, 2")
                    self.emit("csrs    sstatus, t2")
                elif which == "scounteren":
                    self.li("t1", rng.randrange(8))
                    self.emit("csrw    scounteren, t1")
                elif which == "sie":
                    self.li("t1", rng.choice([0x2, 0x20, 0x22, 0x222, 0]))
                    self.emit(f"{rng.choice(['csrs', 'csrc', 'csrs'])}    sie, t1")
                elif which == "sum":
                    self.li("t1", rng.choice([0x40000, 0x80000, 0xC0000]))
                    self.emit(f"{rng.choice(['csrs', 'csrc'])}    sstatus, t1")
                else:
                    self.emit(f"csrw    {which}, {self.rs()}")
            elif k < 0.52:
                if rng.random() < 0.5:
                    self.emit("sfence.vma")
                else:
                    self.li("t0", rng.choice([UPAGE, RAM, UALIAS, 0x11000, UART]))
                    self.emit("sfence.vma t0")
            elif k < 0.60:
                self.ecall([(1, "SBI putchar"), (0, "SBI set_timer"), (3, "SBI: M opens an interrupt window"),
                            (6, "SBI peek: M reads through MPRV as S"), (2, "SBI: M's trap count"),
                            (7, "SBI: M changes the PMP guard")])
            elif k < 0.66:
                self.comment("a load that faults (or not: the mapping decides)")
                self.li("t0", rng.choice([0x11000, 0x400000, UPAGE, 0x200BFF8, UALIAS + 0x40, 0x0,
                                          UPAGE + 0x3000, RAM_END, RAM_END - 4]))
                self.emit(f"lw      {self.rd()}, 0(t0)")
            elif k < 0.69:
                self.comment("the user page with SUM set")
                self.li("t1", 0x40000)
                self.emit("csrs    sstatus, t1")
                self.li("t0", UPAGE + rng.randrange(0, 0x200, 4))
                self.emit(f"{rng.choice(['lw', 'sw'])}      {self.rd()}, 0(t0)")
                self.emit("csrc    sstatus, t1")
            elif k < 0.72:
                self.emit("ebreak")
            elif k < 0.75:
                self.emit(rng.choice(["csrr    a0, mscratch", "csrw    mstatus, zero", "mret", ".word 0"])
                          + "       # illegal in S")
            elif k < 0.77:
                self.emit("wfi")
            elif k < 0.79:
                self.comment("sret to S itself")
                after = self.label("s_again")
                self.emit("csrci   sstatus, 2")
                self.emit(f"la      t0, {after}")
                self.emit("csrw    sepc, t0")
                self.li("t0", 0x100)
                self.emit("csrs    sstatus, t0")
                self.emit("sret")
                self.put(after)
            elif k < 0.81:
                self.comment("a supervisor software interrupt raised by S itself")
                self.emit("csrsi   sip, 2")
            elif k < 0.84:
                self.comment("an interrupt window in S")
                self.emit("csrsi   sstatus, 2")
                for _ in range(rng.randint(1, 4)):
                    self.alu()
                self.emit("csrci   sstatus, 2")
            elif k < 0.87:
                self.counter()
            elif k < 0.90:
                self.atomic("s_data", False)
            elif k < 0.93 and paging == "kernel":
                self.remap(inline=True)
            elif k < 0.96 and depth < 2:
                self.loop(depth, lambda d: self.s_block(d, rng.randint(2, 4), paging))
            elif k < 0.97:
                self.smc("s_code") if rng.random() < 0.6 else self.bad_fetch(supervisor=True)
            elif k < 0.98:
                self.crossing([UPAGE + 0x1000, RAM_END, UPAGE + 0x3000])
            elif k < 0.99 and paging == "kernel":
                self.satp_game()
            elif paging == "off" and rng.random() < 0.5:
                self.device_write(supervisor=True)
            elif rng.random() < 0.3:
                self.li("t0", UART)
                self.uart_read()
            elif rng.random() < 0.3:
                self.comment("sstatus written with random bits (WARL)")
                self.li("t1", self.word())
                self.emit(f"{rng.choice(['csrs', 'csrc'])}    sstatus, t1")
            else:
                self.branch(self.alu)

    def satp_game(self) -> None:
        """Paging off and on again, or a new ASID, around a little kernel work."""
        rng = self.rng
        if rng.random() < 0.5:
            self.comment("paging off for a moment (the kernel is identity-mapped)")
            self.emit("csrr    t2, satp")
            self.emit("csrw    satp, zero")
            for _ in range(rng.randint(1, 3)):
                self.memory("s_data") if rng.random() < 0.5 else self.alu()
            self.emit("csrw    satp, t2")
        else:
            asid = rng.randrange(512)
            self.comment(f"the same tables under ASID {asid}")
            self.li("t0", 0x80000000 | asid << 22 | ROOT >> 12)
            self.emit("csrw    satp, t0")
        if rng.random() < 0.6:
            if rng.random() < 0.5:
                self.emit("sfence.vma")
            else:
                self.li("t0", UPAGE)
                self.li("t1", rng.randrange(512))
                self.emit("sfence.vma t0, t1")

    def device_write(self, supervisor: bool) -> None:
        """Bare and with PMP open, anyone reaches the CLINT: raise MSIP, or move mtimecmp."""
        rng = self.rng
        if rng.random() < 0.5 or not supervisor:
            self.comment("msip written from below M")
            self.li("t0", MSIP)
            self.li("t1", 1)
            self.emit("sw      t1, 0(t0)")
        else:
            self.comment("mtimecmp moved from S")
            self.li("t0", MTIME)
            self.emit("lw      t1, 0(t0)")
            self.emit(f"addi    t1, t1, {rng.randint(5, 300)}")
            self.li("t0", MTIMECMP)
            self.emit("sw      t1, 0(t0)")
            self.emit("sw      zero, 4(t0)")

    def remap(self, inline: bool) -> None:
        """Move the writable user page to the other frame: a live PTE edit, fenced or not."""
        rng = self.rng
        self.comment("the user page's PTE edited in place" + ("" if inline else " (a system call)"))
        self.li("t0", LEAF + (UPAGE >> 12 & 0x3FF) * 4)
        self.emit("lw      t1, 0(t0)")
        self.li("t2", ((UFRAME ^ UFRAME2) >> 12) << 10)
        self.emit("xor     t1, t1, t2")
        self.emit("sw      t1, 0(t0)")
        fence = rng.random()
        if fence < 0.45:
            self.li("t0", UPAGE)
            self.emit("sfence.vma t0")
        elif fence < 0.8:
            self.emit("sfence.vma")
        else:
            self.comment("no sfence.vma: what the hart sees is what bare sees")

    # --- U ---------------------------------------------------------------------------------
    def u_block(self, depth: int, count: int, paging: str) -> None:
        rng = self.rng
        for _ in range(count):
            k = rng.random()
            if k < 0.24:
                self.alu()
            elif k < 0.34:
                self.memory("u_data")
            elif k < 0.38:
                self.comment("the user page")
                self.li("t0", rng.choice([UPAGE, UPAGE + 0x2000]) + rng.randrange(0, 0x400, 4))
                if rng.random() < 0.5:
                    self.emit(f"lw      {self.rd()}, 0(t0)")
                else:
                    self.emit(f"sw      {self.rs()}, 0(t0)")
            elif k < 0.43:
                self.comment("an access that faults (page fault under paging, access fault bare)")
                self.li("t0", rng.choice([0x11000, 0x400000, 0x0, RAM + 0x80, 0x200BFF8, 0x20000000,
                                          UPAGE + 0x3000, RAM_END, UALIAS + 0x100000]))
                self.emit(f"lw      {self.rd()}, 0(t0)")
            elif k < 0.51:
                self.atomic("u_data", True)
            elif k < 0.59:
                self.ecall([(1, "putchar"), (2, "count"), (3, "nest"), (5, "remap the user page"),
                            (6, "peek (M reads through MPRV as U)"), (7, "M changes the PMP guard"),
                            (9, "the kernel rewrites u_code: then U runs it")])
                if self.lines[-1].endswith("run it"):
                    self.emit("la      t0, u_code")
                    self.emit("jalr    ra, 0(t0)")
            elif k < 0.64:
                self.emit(rng.choice(["csrr    a0, mstatus", "csrw    sscratch, a1", "csrr    a2, satp",
                                      "mret", "sret", "sfence.vma", ".word 0", "csrw    time, a0"])
                          + "       # illegal in U")
            elif k < 0.67:
                self.emit("ebreak")
            elif k < 0.69:
                self.emit("wfi                                  # illegal in U")
            elif k < 0.75:
                self.counter()
            elif k < 0.80:
                self.li("t0", UART)
                if rng.random() < 0.7:
                    self.comment("a byte on the UART (if U can reach it)")
                    self.li("t1", rng.choice(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
                    self.emit("sb      t1, 0(t0)")
                else:
                    self.uart_read()
            elif k < 0.83:
                self.bad_fetch()
            elif k < 0.88 and depth < 2:
                self.loop(depth, lambda d: self.u_block(d, rng.randint(2, 5), paging))
            elif k < 0.91:
                r = rng.random()
                if paging != "off" and r < 0.35:
                    self.cross_smc(paging)
                elif r < 0.6:
                    self.kernel_smc()
                else:
                    self.smc("u_code", SMC_WORDS + ("sret",))
            elif k < 0.93:
                self.crossing([UPAGE + 0x1000, UPAGE + 0x2000, UPAGE + 0x3000,
                               UALIAS + 0x100000 if paging == "kernel" else RAM_END])
            elif k < 0.96 and paging != "off":
                self.lrsc_remap(paging) if rng.random() < 0.3 else self.edit_pte(paging)
            elif k < 0.97 and paging == "off":
                self.device_write(supervisor=False)
            elif k < 0.98:
                self.emit(rng.choice(["fence", "fence.i", "fence rw, rw"]))
            else:
                self.branch(self.alu)


def _timer_body(forward: bool) -> str:
    if forward:
        return ("        li      t1, MIE_MTIE\n"
                "        csrc    mie, t1                      # forwarded: S asks for the next one\n"
                "        li      t1, MIP_STIP\n"
                "        csrs    mip, t1\n"
                "        j       m_return")
    return ("        li      t2, MAX_TICKS\n"
            "        bgeu    t1, t2, m_timer_off\n"
            "        li      t0, MTIME\n"
            "        lw      t1, 0(t0)\n"
            "        li      t2, PERIOD\n"
            "        add     t1, t1, t2\n"
            "        li      t0, MTIMECMP\n"
            "        sw      t1, 0(t0)\n"
            "        sw      zero, 4(t0)\n"
            "        j       m_return")


def _words(rng: random.Random, n: int) -> str:
    out = []
    for i in range(0, n, 4):
        out.append("        .word   " + ", ".join(f"0x{rng.getrandbits(32):08x}" for _ in range(4)))
    return "\n".join(out)


def generate(seed: int) -> RvProgram:
    """The random RV32 program of ``seed``."""
    g = _Gen(seed)
    rng = g.rng
    supervisor = rng.random() < 0.8
    paging = rng.choice(["off", "kernel"]) if supervisor else rng.choice(["off", "user"])
    timer = rng.choice([0, rng.randint(3, 40), rng.randint(40, 300), rng.randint(300, 2000)])
    max_ticks = rng.randint(2, 25)
    medeleg = mideleg = 0
    if paging != "user" and rng.random() < 0.75:
        medeleg = sum(1 << c for c in DELEGABLE if rng.random() < 0.5)
        mideleg = sum(1 << c for c in INTERRUPTS if rng.random() < 0.6)
    forward = supervisor and bool(timer) and bool(mideleg & 0x20) and rng.random() < 0.7
    mcounteren = rng.randrange(8) if rng.random() < 0.7 else 0
    scounteren = rng.randrange(8) if rng.random() < 0.7 else 0
    ad = rng.random() < 0.5
    tw = rng.random() < 0.1
    entry_sc = rng.random() < 0.3
    tvm = supervisor and paging == "off" and rng.random() < 0.1
    pmp = rng.choice(["open", "open", "open"] + list(GUARDS))
    guard_perms = rng.choice([0, PMP_R, PMP_R | PMP_X, PMP_R | PMP_W, PMP_R | PMP_W | PMP_X, PMP_X])
    if pmp == "tables":                       # readable by walks (S writes them when it builds them)
        guard_perms = rng.choice([PMP_R, PMP_R | PMP_X]) | (PMP_W if paging == "kernel" else 0)
        ad = True                              # the guard may deny A/D updates
    locked = pmp != "open" and rng.random() < 0.4

    g.lines.append(HEAD.format(seed=seed, root=ROOT, leaf=LEAF, uframe=UFRAME, uframe2=UFRAME2, upage=UPAGE,
                               ualias=UALIAS, cap=TRAP_CAP, period=timer or 500, max_ticks=max_ticks).rstrip("\n"))
    pmp_body = _pmp(g, pmp, guard_perms, locked)
    for r in RD + ["gp", "tp"]:
        g.li(r, g.word())
    if medeleg or mideleg:
        g.comment("delegation to S")
        g.li("t0", medeleg)
        g.emit("csrw    medeleg, t0")
        g.li("t0", mideleg)
        g.emit("csrw    mideleg, t0")
    if paging != "user":
        g.emit("la      t0, s_trap")
        g.emit("csrw    stvec, t0")
        g.emit("la      t0, s_stack_top")
        g.emit("csrw    sscratch, t0")
    if mcounteren:
        g.li("t0", mcounteren)
        g.emit("csrw    mcounteren, t0")
    if scounteren:
        g.li("t0", scounteren)
        g.emit("csrw    scounteren, t0")
    if tw:
        g.li("t0", 0x200000)
        g.emit("csrs    mstatus, t0                  # TW: wfi below M is illegal")
    if tvm:
        g.li("t0", 0x100000)
        g.emit("csrs    mstatus, t0                  # TVM: satp and sfence.vma in S are illegal")
    if timer:
        g.comment(f"the CLINT timer: every {timer} instructions, {max_ticks} times")
        g.li("t0", 0x2004000)
        g.li("t1", timer)
        g.emit("sw      t1, 0(t0)")
        g.emit("sw      zero, 4(t0)")
        g.li("t0", 0x80)
        g.emit("csrs    mie, t0")
    a_d = (A | D) if ad else 0
    if paging == "user":
        g.comment("Sv32 built by M: the RAM identity-mapped with U, straight to U")
        g.li("t0", ROOT + (RAM >> 22) * 4)
        g.li("t1", pte(RAM, V | R | W | X | U | a_d))
        g.emit("sw      t1, 0(t0)")
        _user_pages(g, a_d, uart_user=rng.random() < 0.6)
        g.li("t0", 0x80000000 | ROOT >> 12)
        g.emit("csrw    satp, t0")
        g.emit("sfence.vma")
    g.m_block(rng.randint(3, 12), paging)
    # --- leave M
    g.emit("csrci   mstatus, 8                   # no interrupt between mepc and mret")
    g.li("t0", 0x1800)
    g.emit("csrc    mstatus, t0")
    if supervisor:
        g.li("t0", 0x800)
        g.emit("csrs    mstatus, t0")
        g.emit("la      t0, s_main")
    else:
        g.emit("la      t0, u_main")
    g.li("t1", 0x80)
    g.emit(f"{rng.choice(['csrs', 'csrc'])}    mstatus, t1                  # MPIE")
    g.emit("csrw    mepc, t0")
    if entry_sc and not supervisor:
        _entry_reservation(g, paging)
    g.emit("mret                                 # to " + ("S" if supervisor else "U"))
    g.lines.append(M_HANDLER.format(
        timer_body=_timer_body(forward),
        pmp_body=pmp_body,
        m_upatch_word=f"0x{encode(rng.choice(SMC_WORDS + ('sret',))):x}",
        timer_off_extra=("        li      t1, MIE_MTIE\n        csrc    mie, t1" if rng.random() < 0.5 else ""),
        nest_body="\n".join("        " + x for x in rng.choice([["nop", "nop"], ["wfi", "nop"], ["nop", "wfi", "nop"]])),
    ).rstrip("\n"))
    # --- the S kernel
    g.put("s_main")
    if supervisor:
        g.emit("la      sp, s_kstack_top")
        sie = (0x20 if forward else 0) | (0x2 if mideleg & 2 and rng.random() < 0.8 else 0)
        if sie:
            g.li("t0", sie)
            g.emit("csrs    sie, t0")
        if paging == "kernel":
            g.comment("Sv32 built by S: itself identity-mapped without U, the RAM again at UALIAS for U")
            g.li("t0", ROOT + (RAM >> 22) * 4)
            g.li("t1", pte(RAM, V | R | W | X | G | a_d))
            g.emit("sw      t1, 0(t0)")
            g.li("t0", ROOT + (UALIAS >> 22) * 4)
            g.li("t1", pte(RAM, V | R | W | X | U | a_d))
            g.emit("sw      t1, 0(t0)")
            _user_pages(g, a_d, uart_user=rng.random() < 0.5)
            g.li("t0", 0x80000000 | ROOT >> 12)
            g.emit("csrw    satp, t0")
            g.emit("sfence.vma")
        g.s_block(0, rng.randint(5, 25), paging)
        g.comment("to U")
        g.emit("csrci   sstatus, 2")
        g.emit("la      t0, u_main")
        if paging == "kernel":
            g.li("t1", RAM - UALIAS)
            g.emit("sub     t0, t0, t1                   # U runs at the alias")
        g.emit("csrw    sepc, t0")
        g.li("t0", 0x100)
        g.emit("csrc    sstatus, t0")
        g.li("t0", 0x20)
        g.emit(f"{rng.choice(['csrs', 'csrc'])}    sstatus, t0                  # SPIE")
        if entry_sc:
            _entry_reservation(g, paging)
        g.emit("sret")
    else:
        g.emit("j       s_main")
    remap = []
    saved, g.lines = g.lines, remap
    if paging == "kernel":
        g.remap(inline=False)
    g.lines = saved
    g.lines.append(S_HANDLER.format(
        s_nest_body="\n".join("        " + x for x in rng.choice([["nop", "nop"], ["nop", "nop", "nop", "nop"],
                                                                  ["li a7, 3", "ecall", "nop"]])),
        remap_body="\n".join(remap) if remap else "        nop",
        s_upatch_word=f"0x{encode(rng.choice(SMC_WORDS + ('sret',))):x}",
    ).rstrip("\n"))
    # --- U
    g.put("u_main")
    if entry_sc:
        g.emit(f"sc.w    {g.rd()}, {g.rs()}, (t2)           # the reservation taken before the xRET")
    g.emit("la      sp, u_stack_top")
    g.u_block(0, rng.randint(10, 40), paging)
    g.emit("li      a0, 0")
    g.emit("li      a7, SYS_EXIT")
    g.emit("ecall                                # exit")
    g.put("u_spin")
    g.emit("j       u_spin")
    g.lines.append(DATA.format(m_data=_words(rng, 256), s_data=_words(rng, 256), u_data=_words(rng, 256)).rstrip("\n"))
    return RvProgram(seed, paging, supervisor, timer, forward, medeleg, mideleg, mcounteren, scounteren, pmp,
                     "\n".join(g.lines) + "\n")


def _entry_reservation(g: _Gen, paging: str) -> None:
    """lr.w just before the xRET to U, whose first instruction is the sc.w (t2: the word, as U
    addresses it): an xRET keeps the reservation, so it succeeds on bare."""
    g.comment("a reservation carried across the xRET")
    g.emit("la      t2, u_data")
    g.emit(f"lr.w    {g.rd()}, (t2)")
    if paging == "kernel":
        g.li("t1", RAM - UALIAS)
        g.emit("sub     t2, t2, t1")


def _pmp(g: _Gen, kind: str, perms: int, locked: bool) -> str:
    """Program the PMP: everything open, or a TOR guard (entries 0-1) over one region with
    ``perms`` for S and U, maybe a *locked* read-only TOR entry (2-3) over the start of
    M's data that binds M too, and entry 4 open; the body of M's SBI call that flips one
    of the guard's permissions."""
    if kind == "open":
        g.li("t0", 0xFFFFFFFF)
        g.emit("csrw    pmpaddr0, t0")
        g.li("t0", 0x1F)
        g.emit("csrw    pmpcfg0, t0                  # PMP entry 0: NAPOT over everything, R W X")
        return "        nop"
    lo, hi = GUARDS[kind]
    g.comment(f"PMP: a TOR guard over {kind} (perms {perms:#x} for S and U)" + (", M's data locked read-only" if locked else ""))
    for entry, bound in ((0, lo), (1, hi)):
        if isinstance(bound, int):
            g.li("t0", bound >> 2)
        else:
            label, offset = bound
            g.emit(f"la      t0, {label}")
            g.emit(f"addi    t0, t0, {offset}")
            g.emit("srli    t0, t0, 2")
        g.emit(f"csrw    pmpaddr{entry}, t0")
    cfg = (PMP_TOR | perms) << 8
    if locked:
        g.emit("la      t0, m_data")
        g.emit("srli    t0, t0, 2")
        g.emit("csrw    pmpaddr2, t0")
        g.emit("la      t0, m_data")
        g.emit("addi    t0, t0, 256")
        g.emit("srli    t0, t0, 2")
        g.emit("csrw    pmpaddr3, t0")
        cfg |= (PMP_L | PMP_TOR | PMP_R) << 24
    g.li("t0", 0xFFFFFFFF)
    g.emit("csrw    pmpaddr4, t0")
    g.li("t0", 0x1F)
    g.emit("csrw    pmpcfg1, t0                  # entry 4: NAPOT over everything, R W X")
    g.li("t0", cfg)
    g.emit("csrw    pmpcfg0, t0")
    flip = (PMP_W if perms & PMP_R else PMP_R) << 8
    return (f"        csrr    t1, pmpcfg0\n        li      t2, 0x{flip:x}\n        xor     t1, t1, t2\n"
            "        csrw    pmpcfg0, t1")


def _user_pages(g: _Gen, a_d: int, uart_user: bool) -> None:
    """The UART megapage and the leaf table of the user pages (0x10000 RW, 0x11000 none, 0x12000 RO,
    0x13000 X, 0x14000 RWX)."""
    g.li("t0", ROOT + (UART >> 22) * 4)
    g.li("t1", pte(UART, V | R | W | (U if uart_user else 0) | a_d))
    g.emit("sw      t1, 0(t0)")
    g.li("t0", ROOT + (UPAGE >> 22) * 4)
    g.li("t1", pte(LEAF, V))
    g.emit("sw      t1, 0(t0)")
    g.li("t0", LEAF + (UPAGE >> 12 & 0x3FF) * 4)
    g.li("t1", pte(UFRAME, V | R | W | U | a_d))
    g.emit("sw      t1, 0(t0)")
    g.li("t0", LEAF + ((UPAGE + 0x2000) >> 12 & 0x3FF) * 4)
    g.li("t1", pte(UFRAME, V | R | U | (a_d & A)))
    g.emit("sw      t1, 0(t0)")
    g.li("t0", LEAF + ((UPAGE + 0x3000) >> 12 & 0x3FF) * 4)
    g.li("t1", pte(UFRAME2, V | X | U | (a_d & A)))
    g.emit("sw      t1, 0(t0)")
    g.li("t0", LEAF + ((UPAGE + 0x4000) >> 12 & 0x3FF) * 4)
    g.li("t1", pte(UFRAME3, V | R | W | X | U | a_d))
    g.emit("sw      t1, 0(t0)")
