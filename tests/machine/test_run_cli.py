"""``python -m hybridvmm run``: console output, --stats, --json, --trace, --input, limits, errors."""

from __future__ import annotations

import json

import pytest

from hybridvmm.asm import assemble

ECHO = """
        .org 0x70
        .word 0, on_svc, 0, 0x100000
        .word 0, on_timer, 0, 0x100000
        .org 0x100
        .entry start
start:
        movi r1, 50
        settimer r1
        ei
        svc 7
read:
        in r1, 1
        cmpi r1, -1
        beq done
        addi r1, r1, 1          ; shift every byte by one
        out r1, 0
        br read
done:
        movi r1, 10
        out r1, 0
        halt
on_svc:
        rti
on_timer:
        movi r13, 50
        settimer r13
        rti
"""

SPIN = """
        .org 0x100
spin:   br spin
"""

# In user mode, pushf traps on pgm (privileged: the vector halts) and runs on pgm-x86.
PUSHF = """
        .org 0x30
        .word 0, on_privileged, 0, 0x100000
        .org 0x70
        .word 0, on_svc, 0, 0x100000
        .org 0x100
        .entry start
start:
        movi r1, 1              ; user mode, IE 0
        st r1, 0(r0)
        movl r1, task
        st r1, 4(r0)
        movi r1, 0
        st r1, 8(r0)
        movl r1, 0x100000
        st r1, 12(r0)
        movl sp, 0x8000
        rti
task:
        pushf
        svc 0
on_privileged:
        movi r1, 80             ; 'P'
        out r1, 0
        halt
on_svc:
        movi r1, 88             ; 'X'
        out r1, 0
        halt
"""


@pytest.fixture
def image(tmp_path):
    def make(source: str, name: str = "prog.img", isa: str = "pgm") -> str:
        path = tmp_path / name
        assemble(source, isa).save(path)
        return str(path)
    return make


def test_console_output_and_exit_0(cli, image):
    r = cli("run", image(ECHO), "--mode", "bare", "--input-text", "HAL")
    assert r.code == 0 and r.out == "IBM\n" and r.err == ""


def test_stats_go_to_stderr(cli, image):
    r = cli("run", image(ECHO), "--input-text", "abc", "--stats")
    assert r.code == 0 and r.out == "bcd\n"
    assert "instructions" in r.err and "supervisor" in r.err and "user 0" in r.err
    assert "svc 1" in r.err and "timer interrupts" in r.err and "final PSW" in r.err and "pc=0x" in r.err


def test_json_report(cli, image):
    r = cli("run", image(ECHO), "--input-text", "x" * 40, "--json")
    assert r.code == 0
    data = json.loads(r.out)
    assert data["result"] == "halted" and data["halted"] and data["console"] == "y" * 40 + "\n"
    s = data["stats"]
    assert s["instructions"] == s["supervisor"] == data["steps"] and s["user"] == 0
    assert s["traps"]["svc"] == 1 and s["timer_interrupts"] == s["traps"]["timer"] >= 4
    psw = data["final_psw"]
    assert psw["mode"] == "supervisor" and psw["base"] == 0 and psw["bound"] == 0x100000
    assert isinstance(psw["pc"], int) and psw["ie"] is True


def test_max_steps_exit_1_with_a_message(cli, image):
    r = cli("run", image(SPIN), "--max-steps", "1000")
    assert r.code == 1 and "did not halt within 1,000 instructions" in r.err
    r = cli("run", image(SPIN), "--max-steps", "1000", "--json")
    assert r.code == 1 and json.loads(r.out)["result"] == "max-steps" and json.loads(r.out)["steps"] == 1000


def test_trace_one_line_per_instruction(cli, image):
    r = cli("run", image(ECHO), "--input-text", "a", "--trace")
    assert r.code == 0 and r.out == "b\n"
    lines = [ln for ln in r.err.splitlines() if "--" not in ln]
    assert len(lines) == json.loads(cli("run", image(ECHO), "--input-text", "a", "--json").out)["steps"]
    assert "movi r1, 50" in lines[0] and "00000100" in lines[0]
    assert any("svc trap" in ln for ln in r.err.splitlines())


def test_isa_variant_override_changes_behaviour(cli, image):
    path = image(PUSHF)
    assert cli("run", path).out == "P"                       # pgm: pushf is privileged in user mode
    assert cli("run", path, "--isa", "pgm-virt").out == "P"
    assert cli("run", path, "--isa", "pgm-hybrid").out == "P"
    assert cli("run", path, "--isa", "pgm-x86").out == "X"   # runs, then the task's svc


def test_bad_image_exit_2(cli, tmp_path):
    bad = tmp_path / "bad.img"
    bad.write_bytes(b"HVMI\x01\x00garbage")
    r = cli("run", str(bad))
    assert r.code == 2 and r.err.startswith("hybridvmm: error:") and len(r.err.strip().splitlines()) == 1
    r = cli("run", str(tmp_path / "missing.img"))
    assert r.code == 2 and "no such file" in r.err


def test_unknown_mode_and_negative_steps_are_usage_errors(cli, image):
    assert cli("run", image(SPIN), "--mode", "turbo").code == 2
    assert cli("run", image(SPIN), "--max-steps", "-5").code == 2
    assert cli("run", image(SPIN), "--mode", "pure", "--no-patch").code == 2


def test_raw_binary_with_isa_and_base(cli, tmp_path):
    img = assemble(".org 0x100\nmovi r1, 65\nout r1, 0\nhalt\n", "pgm")
    raw = tmp_path / "prog.bin"
    raw.write_bytes(bytes(img.sections[0].data))
    r = cli("run", str(raw), "--isa", "pgm", "--base", "0x100")
    assert r.code == 0 and r.out == "A"


def test_help(cli):
    r = cli("run", "--help")
    assert r.code == 0 and "--max-steps" in r.out and "bare" in r.out
