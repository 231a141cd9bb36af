"""``run --regs`` (the registers at the end, on stderr and in ``--json``) and ``--trace regs``
(what each instruction changed), bare and under the monitor, for pgm and RISC-V."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from hybridvmm.commands.run import _bare_tracer
from hybridvmm.guests import build_guest
from hybridvmm.isas import build_machine
from hybridvmm.isas.riscv.machine import DUMP_CSRS as MAIN_CSRS
from hybridvmm.machine.trace import RegisterWatch, register_lines, registers

ROOT = Path(__file__).resolve().parents[2]
HELLO = ROOT / "examples" / "hello.s"
CHANGE = re.compile(r"(\S+) (\S+) -> (\S+)")


@pytest.fixture
def hello(cli, tmp_path) -> str:
    out = str(tmp_path / "hello.img")
    assert cli("asm", str(HELLO), "-o", out).code == 0
    return out


def dump(r) -> list[str]:
    """The --regs lines of a run's stderr (everything after the console, no error lines)."""
    return [line for line in r.err.splitlines() if not line.startswith("hybridvmm:")]


def test_regs_prints_every_register_by_name_at_the_end(cli, hello):
    r = cli("run", hello, "--regs")
    assert r.code == 0 and r.out == "hello from pgm\n"
    lines = dump(r)
    assert lines[0] == "pc       0000011e  mode     supervisor"
    assert lines[1] == "r0       00000000  r1       0000012f  r2       00000000  r3       00000000"
    assert len(lines) == 7
    text = "\n".join(lines)
    for name in [f"r{i}" for i in range(16)] + ["status", "base", "bound", "ie", "flags", "timer"]:
        assert re.search(rf"(^|  ){name} ", text, re.M), name
    assert re.search(r"bound\s+00100000", text) and re.search(r"flags\s+-ZC-", text)


def test_json_has_the_registers_object(cli, hello):
    data = json.loads(cli("run", hello, "--json").out)
    regs = data["registers"]
    assert set(regs) == {"gpr", "pc", "mode", "system"}
    assert list(regs["gpr"]) == [f"r{i}" for i in range(16)]
    assert regs["gpr"]["r1"] == 0x12F and regs["pc"] == 0x11E and regs["mode"] == "supervisor"
    assert regs["system"] == {"status": 0x60, "base": 0, "bound": 0x100000, "ie": False, "flags": "-ZC-",
                              "timer": 0, "timer_pending": False}
    assert data["final_psw"]["pc"] == regs["pc"]


def test_riscv_registers_are_the_abi_names_and_the_main_csrs(cli):
    regs = json.loads(cli("run", "guest:rvcsr:small", "--json").out)["registers"]
    assert list(regs["gpr"])[:4] == ["zero", "ra", "sp", "gp"] and len(regs["gpr"]) == 32
    assert [c for c in MAIN_CSRS if c not in regs["system"]] == []
    m = build_machine("rv32", image=build_guest("rvcsr:small"))
    m.run(10_000_000)
    assert regs == json.loads(json.dumps(registers(m)))
    assert regs["system"]["mtvec"] == m.get_csr(0x305) and regs["gpr"]["a0"] == m.x[10]


def test_rv64_registers_are_64_bits_wide_and_skip_rv32_only_csrs():
    m = build_machine("rv64", image=build_guest("xv6"))
    m.run(2_000)
    regs = registers(m)
    assert "pmpcfg1" not in regs["system"] and "pmpcfg0" in regs["system"]
    assert register_lines(regs, 64)[0].startswith("pc       0000000080")


EQUIVALENT = [("guest:syscalls:small", "pgm-virt", ("pure", "hybrid", "patch")),
              ("guest:timer:small", "pgm-x86", ("hybrid", "interpret")),
              ("guest:rvloop:small", "rv32", ("pure", "hybrid"))]
"""Guests and the modes the theory says are equivalent to bare on their ISA."""


@pytest.mark.parametrize("guest, isa, modes", EQUIVALENT)
def test_the_monitor_shows_the_vms_registers_as_bare_shows_its_own(cli, guest, isa, modes):
    bare = cli("run", guest, "--isa", isa, "--regs")
    assert bare.code == 0
    for mode in modes:
        r = cli("run", guest, "--isa", isa, "--regs", "--mode", mode)
        assert r.code == 0 and dump(r) == dump(bare), mode
        assert json.loads(cli("run", guest, "--isa", isa, "--json", "--mode", mode).out)["registers"] == \
            json.loads(cli("run", guest, "--isa", isa, "--json").out)["registers"]


def test_several_vms_each_get_a_prefixed_dump(cli, hello):
    r = cli("run", hello, "guest:syscalls:small", "--isa", "pgm", "--mode", "hybrid", "--regs")
    lines = dump(r)
    assert lines[0] == "[vm1] pc       0000011e  mode     supervisor"
    assert sum(line.startswith("[vm1] ") for line in lines) == sum(line.startswith("[vm2] ") for line in lines) == 7


# --- --trace regs -------------------------------------------------------------------------------------
def test_trace_regs_shows_what_each_instruction_changed(cli, hello):
    r = cli("run", hello, "--trace", "insn,regs")
    lines = r.err.splitlines()
    assert lines[0].startswith("        0  S  00000100  10c020010000  movl r1, 0x120")
    assert lines[1] == "           => r1 0x0 -> 0x120"
    assert lines[2].startswith("        1  S  00000106")
    assert lines[3] == "           => r2 0x0 -> 0x68"
    assert lines[5] == "           => flags ---- -> --C-"  # cmpi r2, 0 with r2 = 'h'
    assert "out r2, 0" in lines[7] and lines[8].startswith("        5")  # beq and out change no register
    assert "halt" in lines[-1] and "beq" in lines[-2]  # the last compare hit the NUL: beq to halt


def test_trace_regs_alone_and_a_trap_swaps_the_psw(cli):
    r = cli("run", "guest:syscalls:small", "--trace", "trap,regs", "--max-steps", "400")
    lines = r.err.splitlines()
    assert not any(re.match(r"\s+\d+  [SU]  ", line) for line in lines)  # no instruction lines
    first_svc = next(i for i, line in enumerate(lines) if "svc" in line and "--" in line)
    swap = lines[first_svc + 1]
    assert swap.startswith("           => ") and "mode user -> supervisor" in swap


def test_trace_regs_is_the_same_bare_and_under_the_monitor(cli):
    def changes(*argv: str) -> list[str]:
        r = cli("run", "guest:syscalls:small", "--isa", "pgm-virt", "--trace", "regs", "--max-steps", "3000", *argv)
        return [line.split("=> ", 1)[1] for line in r.err.splitlines() if "=> " in line]

    bare = changes()
    assert len(bare) > 1000
    for mode in ("pure", "hybrid", "patch"):
        assert changes("--mode", mode) == bare, mode


def test_trace_regs_under_the_monitor_names_the_vm_and_follows_the_instruction(cli):
    r = cli("run", "guest:syscalls:small", "--mode", "hybrid", "--trace", "insn,regs", "--max-steps", "50")
    lines = r.err.splitlines()
    assert lines[0].startswith("[vm1] S  insn   interp         0  ")
    assert lines[1].startswith("[vm1] S  regs   => r15 0x0 -> ")


def test_riscv_trace_regs_shows_csr_writes_and_mret(cli):
    r = cli("run", "guest:rvcsr:small", "--trace", "insn,regs", "--max-steps", "200")
    text = r.err
    assert re.search(r"csrrw zero,mtvec,\w+.*\n\s+=> mtvec 0x0 -> 0x8", text)
    assert re.search(r"mret.*\n\s+=> mode machine -> supervisor, mstatus", text)


def test_regs_is_not_a_tracer_unless_asked():
    """Only a regs or insn trace makes the machine single-step (the hot path stays free)."""
    m = build_machine("pgm", image=build_guest("syscalls:small"))
    finish = _bare_tracer(m, io.StringIO(), ["trap"], "")
    assert m.tracer is None
    finish()
    out = io.StringIO()
    finish = _bare_tracer(m, out, ["regs"], "")
    assert m.tracer is not None
    m.run(3)
    finish()
    assert len(out.getvalue().splitlines()) == 3


def test_register_watch_reports_changes_once():
    m = build_machine("pgm", image=build_guest("syscalls:small"))
    watch = RegisterWatch(lambda: m)
    assert watch.changes() is None
    assert watch.changes() is None
    m.regs[3] = 7
    m.set_r(0x1000, 0x200)
    assert watch.changes() == "r3 0x0 -> 0x7, base 0x0 -> 0x1000, bound 0x100000 -> 0x200"
    m.timer = 50  # counts down by itself: never reported
    assert watch.changes() is None


def test_unknown_trace_category_lists_regs(cli, hello):
    r = cli("run", hello, "--trace", "registers")
    assert r.code == 2 and "regs" in r.err and len(r.err.splitlines()) == 1
