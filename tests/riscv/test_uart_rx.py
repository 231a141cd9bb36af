"""The 16550's receive side and the console's delivery rules: RBR/LSR/IER/IIR/FCR at the
register level, the RX interrupt through PLIC irq 10, the ``interval`` rule's exact timing
(the multiplexed countdown), the ``prompt`` rule, and an interrupt-driven echo guest that
gives the same transcript and instruction counts run after run, bare and in every monitor
mode, from the library and from ``run``/``compare``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from devrig import guest, machine, raw_binary
from hybridvmm.asm import assemble
from hybridvmm.isas.riscv.machine import RiscvMachine
from hybridvmm.machine.console import Console, ConsoleInput
from hybridvmm.vmm import COMPARE_MODES, RUN_MODES
from hybridvmm.vmm.compare import compare_images, run_bare, run_monitor

UART = 0x1000_0000
RBR, IER, IIR, FCR, LCR, MCR, LSR, MSR = (UART + k for k in (0, 1, 2, 2, 3, 4, 5, 6))


@pytest.fixture
def m():
    return RiscvMachine("rv32", 0x10000)


def rd(m, address):
    return m.bus.read(address, 1)


def wr(m, address, value):
    return m.bus.write(address, 1, value)


# --- registers ------------------------------------------------------------------------------
def test_lsr_says_data_ready_while_bytes_wait(m):
    assert rd(m, LSR) == 0x60
    m.console.feed(b"ab")
    assert rd(m, LSR) == 0x61 and rd(m, RBR) == ord("a")
    assert rd(m, LSR) == 0x61 and rd(m, RBR) == ord("b")
    assert rd(m, LSR) == 0x60 and rd(m, RBR) == 0


def test_the_fifo_holds_16_and_the_console_the_rest(m):
    wr(m, FCR, 0x01)
    m.console.feed(bytes(range(65, 65 + 40)))
    assert len(m.uart.rx) == 16 and m.console.remaining() == 24
    assert bytes(rd(m, RBR) for _ in range(40)) == bytes(range(65, 65 + 40))
    wr(m, FCR, 0x00)                                # FIFOs off: one byte at a time
    m.console.feed(b"xyz")
    assert len(m.uart.rx) == 1 and m.console.remaining() == 2


def test_fcr_clears_the_receive_fifo_and_reports_fifos_in_iir(m):
    wr(m, FCR, 0x01)
    m.console.feed(b"abc")
    assert rd(m, IIR) & 0xC0 == 0xC0
    wr(m, FCR, 0x03)                                # clear: what the FIFO held is lost
    assert rd(m, RBR) == 0 and rd(m, LSR) & 1 == 0
    wr(m, FCR, 0x00)
    assert rd(m, IIR) & 0xC0 == 0


def test_iir_reports_received_data_before_thr_empty(m):
    assert rd(m, IIR) == 0x01
    wr(m, IER, 0x03)                                # received data + THR empty
    assert rd(m, IIR) == 0x02                       # THR empty, cleared by this read
    assert rd(m, IIR) == 0x01
    m.console.feed(b"k")
    assert rd(m, IIR) == 0x04
    rd(m, RBR)
    wr(m, RBR, ord("!"))                            # transmitted at once: THR empty again
    assert rd(m, IIR) == 0x02 and bytes(m.console.output) == b"!"


def test_below_the_trigger_level_it_is_a_character_timeout(m):
    wr(m, IER, 0x01)
    wr(m, FCR, 0x41)                                # FIFOs on, trigger level 4
    m.console.feed(b"abc")
    assert rd(m, IIR) == 0xCC
    m.console.feed(b"d")
    assert rd(m, IIR) == 0xC4


def test_the_rx_interrupt_goes_through_plic_irq_10(m):
    m.console.feed(b"z")
    assert not m.plic.pending                       # IER off: no request
    wr(m, IER, 0x01)
    assert m.plic.pending == 1 << 10
    rd(m, RBR)
    assert not m.plic.pending


def test_dlab_reaches_the_divisor_and_loopback_returns_output(m):
    wr(m, LCR, 0x80)
    wr(m, RBR, 3)
    wr(m, IER, 1)
    assert rd(m, RBR) == 3 and rd(m, IER) == 1 and m.uart.regs["ier"] == 0
    wr(m, LCR, 0x03)
    wr(m, MCR, 0x10 | 0x03)                         # loopback, DTR and RTS
    m.console.feed(b"c")                            # the line is disconnected: not received
    wr(m, RBR, ord("L"))
    assert rd(m, RBR) == ord("L") and bytes(m.console.output) == b"" and rd(m, MSR) == 0x30
    assert rd(m, LSR) & 1 == 0
    wr(m, MCR, 0)
    assert rd(m, MSR) == 0xB0 and rd(m, RBR) == ord("c")


# --- delivery rules -----------------------------------------------------------------------------
SPIN = """
        .org 0x80000000
        .entry start
start:
        j     start
"""


def test_the_interval_rule_delivers_at_the_exact_instruction():
    m = machine(assemble(SPIN, "rv32"), feed=ConsoleInput(b"ab", interval=1000))
    assert m.countdown == 1000
    m.run(999)
    assert not m.uart.rx
    m.run(1)
    assert m.uart.rx == b"a" and m.countdown == 0   # the next waits for this one to be read
    m.run(500)
    assert rd(m, RBR) == ord("a") and m.events.remaining("uart-rx") == 1000
    m.run(999)
    assert not m.uart.rx
    m.run(1)
    assert m.uart.rx == b"b" and m.stats.instructions == 2500


def test_the_interval_rule_shares_the_countdown_with_the_timer():
    m = machine(assemble(SPIN, "rv32"), feed=ConsoleInput(b"a", interval=300))
    m.clint.write(0x4000, 8, 100)                   # timer at mtime 100, input at 300
    assert m.countdown == 100
    m.run(100)
    assert m.csr.mip >> 7 & 1 and m.countdown == 200 and not m.uart.rx
    m.run(200)
    assert m.uart.rx == b"a"


def test_the_prompt_rule_releases_a_line_per_prompt():
    c = Console()
    c.feed(ConsoleInput(b"one\ntwo\nthree", prompt=b"$ "))
    assert c.remaining() == 0
    for b in b"boot $":
        c.write_byte(b)
    assert c.remaining() == 0
    c.write_byte(ord(" "))
    assert bytes(c.read_byte() for _ in range(c.remaining())) == b"one\n"
    for b in b"$ ":
        c.write_byte(b)
    assert c.remaining() == 4
    for b in b"$ ":                                  # a second prompt before "two" was read
        c.write_byte(b)
    assert c.remaining() == 4 + 5


def test_a_prompted_session_is_over_when_its_prompt_is_back_after_the_last_line():
    """A scripted session ends as a user would stop typing: the prompt that follows the last
    line ends the run, with exit code 0 (run guest:xv6 --input cmds --prompt '$ ' stops there)."""
    c = Console()
    c.feed(ConsoleInput(b"ls\n", prompt=b"$ "))
    for b in b"$ ":
        c.write_byte(b)
    assert not c.finished and c.remaining() == 3
    for b in b"ls\nREADME\n$ ":
        c.write_byte(b)
    assert c.finished
    d = Console()
    d.set_state(c.state())
    assert d.finished
    m = RiscvMachine("rv32", 0x10000)
    m.console.feed(ConsoleInput(b"x\n", prompt=b"> "))
    for b in b"> x\n> ":
        assert not m.halted
        m.console_out(b)
    assert m.halted and m.exit_code == 0 and "session is over" in m.exit_message


def test_console_state_round_trips():
    c = Console()
    c.feed(ConsoleInput(b"x\ny\n", prompt=b"> "))
    c.write_byte(ord(">"))
    d = Console()
    d.set_state(c.state())
    d.write_byte(ord(" "))
    assert d.remaining() == 2 and d.prompt == b"> "


# --- the echo guest -------------------------------------------------------------------------------
LINES = b"hello\nworld, again\nq\n"
EXPECTED = b"> hello\n> world, again\n> q\n"
FEEDS = {"interval": ConsoleInput(LINES, interval=200), "prompt": ConsoleInput(LINES, prompt=b"> "),
         "immediate": ConsoleInput(LINES)}


@pytest.mark.parametrize("rule", sorted(FEEDS))
def test_the_echo_guest_is_deterministic_and_equivalent_in_every_mode(rule):
    image = guest("uart_echo")
    first, second = run_bare(image, "rv32", 200_000, FEEDS[rule]), run_bare(image, "rv32", 200_000, FEEDS[rule])
    assert first.console == EXPECTED and first.reason == "halted"
    assert (second.console, second.instructions, second.events) == (first.console, first.instructions, first.events)
    [c] = compare_images([image], list(COMPARE_MODES), "rv32", 200_000, FEEDS[rule])
    assert c.bare.instructions == first.instructions
    for row in c.rows:
        assert row.equivalent, f"{row.mode}: {row.divergence.describe()}"
        assert row.run.console == EXPECTED and row.run.instructions == first.instructions


def test_interval_delivery_under_the_monitor_arrives_through_the_real_timer():
    image = guest("uart_echo")
    [run] = run_monitor([image], "pure", "rv32", 200_000, FEEDS["interval"])
    exits = run.vm.stats.exits
    assert run.console == EXPECTED and exits["timer"] == len(LINES) and exits["mmio"] > 0


def test_several_vms_each_get_the_input():
    image = guest("uart_echo")
    runs = run_monitor([image, image], "pure", "rv32", 200_000, FEEDS["interval"], slice_length=97)
    assert [r.console for r in runs] == [EXPECTED, EXPECTED]


# --- the command line ------------------------------------------------------------------------------
@pytest.fixture
def files(tmp_path):
    path = tmp_path / "echo.img"
    guest("uart_echo").save(path)
    lines = tmp_path / "lines.txt"
    lines.write_bytes(LINES)
    return str(path), str(lines)


@pytest.mark.parametrize("extra", [["--input-interval", "300"], ["--prompt", "> "]])
def test_run_with_an_input_file_gives_the_same_run_in_every_mode(cli, files, extra):
    image, lines = files
    seen = set()
    for mode in ("bare", "bare", *RUN_MODES[1:]):
        r = cli("run", image, "--mode", mode, "--input", lines, *extra, "--json")
        assert r.code == 0, r.err
        data = json.loads(r.out)
        seen.add((data["console"], data["steps"]))
    assert seen == {(EXPECTED.decode(), next(iter(seen))[1])}


def test_run_input_text_and_plain_output(cli, files):
    image, _ = files
    r = cli("run", image, "--input-text", "hi\nq\n", "--input-interval", "0")
    assert r.code == 0 and r.out == "> hi\n> q\n"


def test_a_prompted_last_line_without_a_newline_is_still_typed_as_a_line(cli, files):
    """`--input-text 'q' --prompt '> '` is what a user types: the line gets its Enter (without
    it, the echo guest would wait for the rest of the line until --max-steps)."""
    image, _ = files
    r = cli("run", image, "--input-text", "hi\nq", "--prompt", "> ", "--max-steps", "5000000")
    assert r.code == 0 and r.out == "> hi\n> q\n", r.err


def test_compare_accepts_the_input_options(cli, files):
    image, lines = files
    r = cli("compare", image, "--input", lines, "--prompt", "> ", "--modes", "pure,hybrid", "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert all(run["equivalent"] for run in data["runs"]) and data["bare"]["ending"] == "halted"


@pytest.mark.parametrize(("args", "message"), [
    (["--input", "missing.txt"], "missing.txt: no such file"),
    (["--prompt", "> "], "--prompt paces console input"),
    (["--prompt", "", "--input-text", "x"], "--prompt must not be empty"),
    (["--input-interval", "-1", "--input-text", "x"], "--input-interval must be >= 0"),
])
def test_bad_input_options_are_one_line_errors(cli, files, args, message):
    r = cli("run", files[0], *args)
    assert r.code == 2 and message in r.err and len(r.err.strip().splitlines()) == 1


def test_input_from_a_pipe_is_the_same_as_from_a_file(cli, files, monkeypatch):
    image, lines = files
    from_file = json.loads(cli("run", image, "--input", lines, "--json").out)
    for argv in ([], ["--input", "-"]):
        read, write = os.pipe()
        os.write(write, LINES)
        os.close(write)
        with open(read, "r") as pipe:
            monkeypatch.setattr("sys.stdin", pipe)
            r = cli("run", image, *argv, "--json")
        data = json.loads(r.out)
        assert r.code == 0 and (data["console"], data["steps"]) == (from_file["console"], from_file["steps"])


@pytest.mark.skipif(shutil.which("qemu-system-riscv32") is None, reason="qemu-system-riscv32 not installed")
def test_the_echo_guest_agrees_with_qemu(tmp_path):
    kernel = tmp_path / "echo.bin"
    kernel.write_bytes(raw_binary(guest("uart_echo")))
    done = subprocess.run(["qemu-system-riscv32", "-machine", "virt", "-cpu", "rv32,c=false,h=false,f=false,d=false",
                           "-bios", "none", "-kernel", str(kernel), "-nographic", "-monitor", "none"],
                          capture_output=True, timeout=60, input=LINES)
    assert done.returncode == 0 and done.stdout == EXPECTED
