"""Deterministic time (CLINT), the UART console, the test finisher and HTIF."""

from __future__ import annotations

from hybridvmm.asm import assemble
from hybridvmm.isas.riscv.constants import MSI, MTI
from hybridvmm.machine.results import HALTED

FINISH = """
finish:
        lui   t5, 0x100
        lui   t6, 5
        addi  t6, t6, 0x555
        sw    t6, 0(t5)
"""

TIMER = """
        .org 0x80000000
        .entry start
start:
        lui   t0, 0x80000
        addi  t0, t0, 0x100
        csrrw zero, mtvec, t0
        lui   t1, 0x200c
        addi  t1, t1, -8
        lw    t2, 0(t1)
        addi  t2, t2, 50
        lui   t3, 0x2004
        sw    zero, 4(t3)
        sw    t2, 0(t3)
        addi  t4, zero, 128
        csrrs zero, mie, t4
        csrrsi zero, mstatus, 8
loop:
        addi  a0, a0, 1
        jal   zero, loop
        .org 0x80000100
handler:
        csrrs a1, mcause, zero
        csrrs a2, mepc, zero
        csrrs a3, minstret, zero
""" + FINISH


def test_the_timer_interrupt_arrives_at_an_exact_instruction(asm_machine):
    m = asm_machine(TIMER)
    result = m.run(10_000)
    x = m.x
    assert result.reason == HALTED and m.exit_code == 0
    # mtime read 5 → mtimecmp 55: the interrupt is taken when 55 instructions have retired,
    # before instruction 55 (13 set-up instructions, then addi/jal pairs: the 22nd addi)
    assert x[11] == 0x80000007 and x[12] == m.symbols["loop"] and x[10] == 21 and x[13] == 57
    assert m.stats.timer_interrupts == 1


def test_stepping_and_running_see_the_interrupt_at_the_same_instruction(asm_machine):
    a, b = asm_machine(TIMER), asm_machine(TIMER)
    a.run(10_000)
    while not b.halted:
        b.step()
    assert a.x == b.x and a.stats.as_dict() == b.stats.as_dict()


def test_any_chunking_of_run_gives_the_same_result(asm_machine):
    ref = asm_machine(TIMER)
    ref.run(10_000)
    for chunk in (1, 3, 7, 20):
        m = asm_machine(TIMER)
        while not m.halted:
            m.run(chunk)
        assert m.x == ref.x, chunk


def test_mtip_follows_mtime_and_mtimecmp(rig):
    m = rig().m
    clint = m.clint
    assert not m.csr.mip >> MTI & 1
    clint.write(0x4000, 8, 0)                                  # mtimecmp = 0 <= mtime: pending
    assert m.csr.mip >> MTI & 1 and m.countdown == 0
    clint.write(0x4000, 8, clint.mtime() + 10)                 # in the future: clear, countdown armed
    assert not m.csr.mip >> MTI & 1 and m.countdown == 10
    m.elapse(10)
    assert m.csr.mip >> MTI & 1


def test_mtime_counts_retired_instructions_and_is_writable(rig):
    t = rig()
    m = t.m
    t.exec("addi", rd=0, rs1=0, imm_i=0)
    t.exec("addi", rd=0, rs1=0, imm_i=0)
    assert m.clint.mtime() == 2 and m.clint.read(0xBFF8, 4) == 2 and m.clint.read(0xBFFC, 4) == 0
    m.clint.write(0xBFF8, 8, 1000)
    assert m.clint.mtime() == 1000 and m.get_csr("time") == 1000


def test_msip_raises_the_machine_software_interrupt(rig):
    m = rig().m
    m.clint.write(0, 4, 1)
    assert m.csr.mip >> MSI & 1 and m.clint.read(0, 4) == 1
    m.clint.write(0, 4, 0)
    assert not m.csr.mip >> MSI & 1


UART = """
        .org 0x80000000
        .entry start
start:
        lui   s0, 0x10000
wait:
        lbu   t0, 5(s0)
        andi  t0, t0, 1
        beq   t0, zero, wait
        lbu   t1, 0(s0)
        addi  t2, zero, 91
        sb    t2, 0(s0)
        sb    t1, 0(s0)
        addi  t2, zero, 93
        sb    t2, 0(s0)
""" + FINISH


def test_uart_echoes_console_input(asm_machine):
    m = asm_machine(UART)
    m.console.feed(b"z")
    result = m.run(1000)
    assert result.halted and bytes(m.console.output) == b"[z]"


def test_uart_lsr_reports_an_empty_transmitter(rig):
    m = rig().m
    assert m.uart.read(5, 1) == 0x60
    m.uart.write(3, 1, 0x80)                                   # DLAB: offsets 0/1 are the divisor
    m.uart.write(0, 1, 3)
    assert m.uart.read(0, 1) == 3 and bytes(m.console.output) == b""


def test_finisher_failure_is_an_exit_code(asm_machine, cli, tmp_path):
    src = """
        .org 0x80000000
        .entry start
start:
        lui   t5, 0x100
        lui   t6, 0x70003
        addi  t6, t6, 0x333
        sw    t6, 0(t5)
"""
    m = asm_machine(src)
    assert m.run(100).halted and m.exit_code == 0x7000
    path = tmp_path / "fail.img"
    path.write_bytes(assemble(src, "rv32").to_bytes())
    r = cli("run", str(path))
    assert r.code == 1 and "guest reported failure 28672" in r.err


HTIF = """
        .org 0x80000000
        .entry start
start:
        lui   s0, 0x80001
        addi  t0, zero, 72
        sw    t0, 0(s0)
        lui   t1, 0x1010
        sw    t1, 4(s0)
        addi  t0, zero, 1
        sw    t0, 0(s0)
        sw    zero, 4(s0)
spin:
        jal   zero, spin
        .org 0x80001000
tohost:
        .word 0, 0
"""


def test_htif_prints_and_exits(asm_machine):
    m = asm_machine(HTIF)
    result = m.run(1000)
    assert result.halted and m.exit_code == 0 and bytes(m.console.output) == b"H"
    assert result.steps == 8                                   # stopped at the exit's high-word store


def test_htif_acts_on_the_high_word_only(asm_machine):
    """Regression: RV32 C code stores tohost low word first; a character with an odd code
    ('I' = 73) in the low word alone looked like an exit and ended the console at once."""
    m = asm_machine(HTIF.replace("addi  t0, zero, 72", "addi  t0, zero, 73"))
    result = m.run(1000)
    assert result.halted and m.exit_code == 0 and bytes(m.console.output) == b"I"


def test_htif_failure_code(asm_machine):
    m = asm_machine(HTIF.replace("addi  t0, zero, 1\n", "addi  t0, zero, 7\n"))
    m.run(1000)
    assert m.exit_code == 3 and m.exit_message == "test 3 failed"


def test_htif_syscall_write_is_served_and_acknowledged(rig):
    t = rig(ram=0x10000)
    m = t.m
    from hybridvmm.image import Image, Section
    image = Image("rv32", 0x80000000, [Section("text", 0x80000000, bytearray(0x2000))],
                  symbols={"tohost": 0x80001000, "fromhost": 0x80001040})
    m.load(image)
    block = 0x80000800
    m.write_physical(0x80000900, b"ok")
    m.write_physical(block, b"".join(v.to_bytes(8, "little") for v in (64, 1, 0x80000900, 2)))
    m.write_physical(0x80001000, block.to_bytes(8, "little"))
    assert bytes(m.console.output) == b"ok" and m.read_physical(0x80001040, 8) == (1).to_bytes(8, "little")
    assert m.read_physical(0x80001000, 8) == bytes(8) and not m.halted
