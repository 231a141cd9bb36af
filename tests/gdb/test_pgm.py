"""pgm through the stub, with a raw RSP client (gdb has no pgm architecture): a minios guest,
bare and under the hybrid monitor — break at a symbol, step, registers and memory, a
watchpoint, a user-mode breakpoint, continue to the end."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hybridvmm.gdbstub.client import RspClient
from hybridvmm.guests import task_regions
from hybridvmm.loading import load_program

GUEST = "guest:fib:small"


@pytest.fixture(scope="module")
def image():
    return load_program(GUEST)


@pytest.mark.parametrize("mode", ["bare", "hybrid"])
def test_pgm_session(gdb_run, image, mode):
    run = gdb_run(GUEST, "--mode", mode)
    assert run.symbols is None  # no ELF for pgm
    sym = image.symbols
    user_base = task_regions(image)[0][0]
    with RspClient(run.host, run.port) as c:
        assert b"qXfer:features:read+" in c.request("qSupported:multiprocess+;swbreak+;hwbreak+")
        c.no_ack()
        xml = c.target_xml()
        assert "<architecture>pgm</architecture>" in xml and "org.hybridvmm.pgm.core" in xml
        assert c.request("?") == b"T05thread:1;"
        regs = c.registers()
        assert regs["pc"] == image.entry and c.register("priv") == 0

        # break at a symbol: the timer tick in the kernel
        tick = sym["do_tick"]
        original = c.read_memory(tick, 8)
        assert c.insert_breakpoint(tick) == b"OK"
        assert c.read_memory(tick, 8) == original == image.read(tick, 8)  # nothing written
        assert c.resume("vCont;c") == b"T05thread:1;"
        assert c.register("pc") == tick and c.register("priv") == 0

        # step one instruction, registers and memory
        assert c.remove_breakpoint(tick) == b"OK"
        assert c.resume("vCont;s:1") == b"T05thread:1;"
        pc = c.register("pc")
        assert tick < pc <= tick + 6
        regs = c.registers()
        assert set(regs) >= {"r0", "fp", "sp", "pc", "flags"} and regs["pc"] == pc
        assert c.register("base") == 0 and c.register("bound") >= image.high  # the kernel's R: all storage
        ticks = int.from_bytes(c.read_memory(sym["total_ticks"], 4), "little")

        # a write watchpoint stops before the store; the store is the next instruction
        assert c.request(f"Z2,{sym['total_ticks']:x},4") == b"OK"
        assert c.resume("vCont;c") == f"T05watch:{sym['total_ticks']:x};thread:1;".encode()
        assert int.from_bytes(c.read_memory(sym["total_ticks"], 4), "little") == ticks
        assert c.request(f"z2,{sym['total_ticks']:x},4") == b"OK"
        assert c.resume("vCont;s:1") == b"T05thread:1;"
        assert int.from_bytes(c.read_memory(sym["total_ticks"], 4), "little") == ticks + 1

        # a breakpoint in the user task, at its virtual address (through its R)
        fib = sym["fib"] - user_base
        assert c.insert_breakpoint(fib) == b"OK"
        assert c.resume("vCont;c") == b"T05thread:1;"
        assert c.register("pc") == fib and c.register("priv") == 1 and c.register("base") == user_base
        assert c.read_memory(fib, 4) == image.read(sym["fib"], 4)
        stats = c.monitor("stats")
        assert "instructions" in stats
        assert ("interpreted" in stats) == (mode != "bare")
        assert c.remove_breakpoint(fib) == b"OK"

        # continue to the end
        assert c.resume("vCont;c") == b"W00"
    code, out, err = run.wait()
    assert code == 0, err
    assert "Traceback" not in err
    plain = subprocess.run([sys.executable, "-m", "hybridvmm", "run", GUEST, "--mode", mode], capture_output=True,
                           text=True, stdin=subprocess.DEVNULL, timeout=120).stdout
    assert out == plain and "fib(" in out
