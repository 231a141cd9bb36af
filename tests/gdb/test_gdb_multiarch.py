"""Scripted gdb-multiarch sessions against ``run --gdb``: rvminios (rv32) and xv6 (rv64), bare
and under the hybrid monitor — break at a symbol, step, registers and memory, a watchpoint,
continue to the end (xv6: a little, then kill).  Skipped only where gdb-multiarch is absent."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

MODES = ["bare", "hybrid"]


def plain_run(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "hybridvmm", "run", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120).stdout


@pytest.mark.parametrize("mode", MODES)
def test_rvminios_session(gdb_run, gdb_batch, mode):
    run = gdb_run("guest:rvminios", "--mode", mode)
    assert run.symbols and run.symbols.endswith(".elf")
    out = gdb_batch(
        run,
        "info registers pc priv",
        "break s_main", "continue",
        "stepi", "info registers pc",
        "info registers", "info registers satp mstatus priv",
        "x/4xw $sp", "x/2i $pc",
        "watch *(unsigned int *)&ticks", "continue", "x/i $pc - 4",
        "continue",
        "delete",
        "break *0x101e8", "continue", "p $priv", "info threads",
        "monitor mode", "monitor stats",
        "delete", "continue",
        symbols=mode != "bare",  # bare: gdb loads the symbols the stub names (qXfer:exec-file)
    )
    # the guest waits at its first instruction, in M-mode
    assert re.search(r"pc\s+0x80000000\s+0x80000000 <_start>", out), out
    assert "prv:3 [Machine]" in out
    # break at a symbol; one instruction further; registers and memory
    assert re.search(r"Breakpoint 1, 0x800001[0-9a-f]+ in s_main \(\)", out), out
    assert re.search(r"pc\s+0x800001[0-9a-f]+\s+0x800001[0-9a-f]+ <s_main\+\d+>", out), out
    assert re.search(r"^sp\s+0x80000bfc", out, re.M), out
    assert "prv:1 [Supervisor]" in out
    assert re.search(r"^satp\s+0x0", out, re.M)
    assert re.search(r"0x80000bfc <msg_firmware>:\s+0x[0-9a-f]{8}\s+0x[0-9a-f]{8}", out), out
    assert re.search(r"=> 0x800001[0-9a-f]+ <s_main\+\d+>:\s+csrw\s+sscratch,zero", out), out
    # the watchpoint stops right after the store, with the old and new value
    assert "Hardware watchpoint 2: *(unsigned int *)&ticks" in out
    assert re.search(r"Old value = 0\s+New value = 1\s+0x[0-9a-f]+ in on_timer \(\)", out), out
    assert re.search(r"Old value = 1\s+New value = 2", out), out
    assert re.search(r"<on_timer\+\d+>:\s+sw\s+t0,", out), out
    # a user-mode breakpoint (Sv32 address 0x101e8: the tasks' u_str, run directly under hybrid)
    assert "Breakpoint 3, 0x000101e8 in ?? ()" in out
    assert "$1 = 0" in out
    assert "U-mode" in out
    assert "bare" in out if mode == "bare" else "hybrid: virtual-supervisor code interpreted" in out
    assert re.search(r"instructions\s+[\d,]+ \(machine", out), out
    # the guest runs to its own end, and gdb sees it exit
    assert "[Inferior 1 (Remote target) exited normally]" in out
    code, stdout, stderr = run.wait()
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert stdout == plain_run("guest:rvminios", "--mode", mode)  # the debugger changed nothing


@pytest.mark.parametrize("mode", MODES)
def test_xv6_session(gdb_run, gdb_batch, mode):
    run = gdb_run("guest:xv6", "--mode", mode)
    assert run.symbols and run.symbols.endswith("kernel.elf")
    out = gdb_batch(
        run,
        "break main", "continue",
        "stepi", "info registers pc sp priv satp",
        "x/2xg $sp", "p/x cpus[0].noff",
        "break kinit", "continue", "bt",
        "monitor stats",
        "kill",
    )
    assert "Breakpoint 1, main () at kernel/main.c:" in out, out
    assert re.search(r"pc\s+0x800013[0-9a-f]+\s+0x800013[0-9a-f]+ <main\+\d+>", out), out
    assert "prv:1 [Supervisor]" in out
    assert re.search(r"0x[0-9a-f]+ <stack0\+\d+>:\s+0x[0-9a-f]{16}\s+0x[0-9a-f]{16}", out), out
    assert "$1 = 0x0" in out
    assert "Breakpoint 2, kinit () at kernel/kalloc.c:" in out
    assert re.search(r"#1\s+0x[0-9a-f]+ in main \(\) at kernel/main.c", out), out
    assert "[Inferior 1 (Remote target) killed]" in out
    code, stdout, stderr = run.wait()
    assert code == 0, stderr
    assert "killed from gdb" in stderr and "Traceback" not in stderr
    assert "xv6 kernel is booting" in stdout


def test_gdb_cannot_debug_pgm_and_the_run_ends_cleanly(gdb_run, gdb_batch):
    """gdb knows no pgm: it ignores the description, cannot make sense of the registers and
    gives up; the run ends cleanly (a raw client can debug pgm: tests/gdb/test_pgm.py)."""
    run = gdb_run("guest:fib:small")
    out = gdb_batch(run, "info registers")
    assert 'unknown architecture "pgm"' in out
    code, stdout, stderr = run.wait()
    assert code == 0 and "Traceback" not in stderr
    assert "gdb disconnected; the run ends here" in stderr
