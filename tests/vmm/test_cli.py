"""``run`` in every mode and with several VMs, and ``compare``, from the command line."""

from __future__ import annotations

import json

import pytest

from hybridvmm.guests import build_guest
from hybridvmm.vmm.compare import run_bare


@pytest.mark.parametrize("mode", ["bare", "pure", "interpret", "hybrid", "patch"])
def test_run_prints_exactly_the_guests_console_in_every_mode(cli, mode):
    r = cli("run", "guest:syscalls:small", "--isa", "pgm-virt", "--mode", mode)
    assert r.code == 0, r.err
    assert r.out.encode() == run_bare(build_guest("syscalls", "pgm-virt", small=True)).console


def test_run_no_patch_is_hybrid_without_patching(cli):
    r = cli("run", "guest:redpill", "--isa", "pgm-x86", "--mode", "hybrid", "--no-patch", "--json")
    data = json.loads(r.out)
    assert data["mode"] == "hybrid-no-patch" and data["monitor"]["patches_applied"] == 0
    assert "I am relocated by a monitor" in data["console"]
    r = cli("run", "guest:redpill", "--isa", "pgm-x86", "--mode", "hybrid", "--json")
    data = json.loads(r.out)
    assert data["monitor"]["patches_applied"] == 3 and "no monitor in sight" in data["console"]


def test_run_json_has_the_monitor_statistics_and_exact_console_bytes(cli):
    r = cli("run", "guest:minios", "--isa", "pgm-x86", "--mode", "patch", "--json")
    assert r.code == 0
    data = json.loads(r.out)
    assert bytes.fromhex(data["console_hex"]).decode() == data["console"]
    mon = data["monitor"]
    for key in ("guest_instructions", "direct", "interpreted", "exits", "reflected", "patches_hit",
                "blocks_scanned", "switches", "host_cycles"):
        assert key in mon
    assert mon["guest_instructions"] == data["stats"]["instructions"] == data["steps"]
    assert data["resource_control_violations"] == []


def test_several_vms_prefix_their_lines_on_stdout(cli):
    r = cli("run", "guest:syscalls:small", "guest:timer:small", "--mode", "hybrid", "--slice", "2000")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines and all(line.startswith(("[vm1] ", "[vm2] ")) for line in lines)
    assert any(line.startswith("[vm1] syscalls:") for line in lines) and any(line.startswith("[vm2] timer:") for line in lines)


def test_output_dir_writes_one_file_per_vm(cli, tmp_path):
    r = cli("run", "guest:syscalls:small", "guest:kcompute:small", "--mode", "patch", "--output-dir", str(tmp_path / "out"))
    assert r.code == 0 and r.out == ""
    assert (tmp_path / "out" / "vm1.out").read_bytes() == run_bare(build_guest("syscalls", small=True)).console
    assert (tmp_path / "out" / "vm2.out").read_bytes() == run_bare(build_guest("kcompute", small=True)).console


def test_stats_on_stderr(cli):
    r = cli("run", "guest:minios", "--mode", "hybrid", "--stats")
    assert r.code == 0 and "monitor exits" in r.err and "executed" in r.err and "host cycles" in r.err


def test_trace_categories_say_which_vm_and_mode(cli, tmp_path):
    r = cli("run", "guest:redpill", "--isa", "pgm-x86", "--mode", "patch", "--trace", "exit,patch,scan")
    assert r.code == 0
    lines = r.err.splitlines()
    assert any(" patch  patched srr" in line for line in lines)
    assert any(" scan   scanned" in line for line in lines)
    assert all(line.startswith("[vm1] ") for line in lines)
    assert any(line.startswith("[vm1] U  patch  patch hit") for line in lines)
    trace = tmp_path / "trace.txt"
    r = cli("run", "guest:syscalls:small", "--isa", "pgm-virt", "--mode", "pure", "--trace", "insn", "--trace-file", str(trace))
    assert r.code == 0 and r.err == "" and " direct " in trace.read_text()
    assert cli("run", "guest:minios", "--mode", "pure", "--trace", "bogus").code == 2


def test_a_guest_that_does_not_halt_is_exit_1_in_every_mode(cli, tmp_path):
    for mode in ("bare", "pure", "hybrid"):
        r = cli("run", "guest:minios", "--mode", mode, "--max-steps", "1000")
        assert r.code == 1 and "did not halt within 1,000" in r.err


def test_a_mode_without_a_virtualization_model_is_a_one_line_error(cli, tmp_path, monkeypatch):
    """A family registered without a virtualization model runs bare only (both shipped
    families have one, so one is taken away here)."""
    import dataclasses

    from hybridvmm import isas
    from hybridvmm.asm import assemble
    from hybridvmm.image import write_file_atomic

    monkeypatch.setitem(isas.FAMILIES, "rv32", dataclasses.replace(isas.FAMILIES["rv32"], virt=None))
    image = assemble(".org 0x80000000\n_start: addi a0,zero,1\n", "rv32")
    path = tmp_path / "p.img"
    write_file_atomic(path, image.to_bytes())
    r = cli("run", str(path), "--mode", "pure")
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and "virtualization model" in r.err


def test_compare_prints_the_table_and_the_responsible_instruction(cli):
    r = cli("compare", "guest:redpill", "--isa", "pgm-x86")
    assert r.code == 0, r.err          # the divergences are the ones the theory predicts
    assert "hybrid-no-patch NO" in r.out and "responsible: `srr r8, r9`" in r.out
    assert "patch           yes" in r.out


def test_compare_json(cli):
    r = cli("compare", "guest:stopwatch:small", "--isa", "pgm-x86", "--modes", "hybrid,hybrid-no-patch", "--json")
    data = json.loads(r.out)
    assert data["image"] == "guest:stopwatch:small" and data["isa"] == "pgm-x86"
    runs = {row["mode"]: row for row in data["runs"]}
    for key in ("mode", "equivalent", "divergence", "guest_instructions", "direct", "interpreted", "traps",
                "patches_hit", "host_cycles", "wall_s"):
        assert key in runs["hybrid"]
    assert runs["hybrid"]["equivalent"] and runs["hybrid"]["divergence"] is None
    assert not runs["hybrid-no-patch"]["equivalent"]
    assert runs["hybrid-no-patch"]["divergence"]["responsible"]["instruction"].startswith("rdtime")


def test_compare_exits_1_when_a_mode_the_theory_accepts_diverges(cli, monkeypatch):
    import hybridvmm.vmm.theory as theory

    real = theory.predict
    monkeypatch.setattr(theory, "predict", lambda isa, mode, *rest: theory.Prediction(mode, True, "claimed")
                        if mode == "pure" else real(isa, mode, *rest))
    r = cli("compare", "guest:redpill", "--isa", "pgm-x86", "--modes", "pure")
    assert r.code == 1 and "UNEXPECTED" in r.out
    assert cli("compare", "guest:redpill", "--modes", "warp").code == 2


def test_dump_shows_the_patches_the_guest_never_sees(cli, tmp_path):
    from hybridvmm.isa import Decoder, load_isa

    isa = load_isa("pgm-x86")
    d = Decoder(isa)
    image = build_guest("redpill", "pgm-x86")
    bare, patched = tmp_path / "bare.bin", tmp_path / "patched.bin"
    assert cli("run", "guest:redpill", "--dump", str(bare)).code == 0
    assert cli("run", "guest:redpill", "--mode", "patch", "--dump", str(patched)).code == 0
    a, b = bare.read_bytes(), patched.read_bytes()
    assert len(a) == len(b)
    differ = [i for i in range(len(a)) if a[i] != b[i]]
    vmtrap = d.encode(isa.instructions["vmtrap"], {"code": 0})
    srr = image.symbols["user_main"]                       # the user program's first instruction: srr
    assert b[srr:srr + 2] == vmtrap and a[srr:srr + 2] == d.encode(isa.instructions["srr"], {"ra": 8, "rb": 9})
    pads = (vmtrap, d.encode(isa.instructions["nop"], {}))
    assert differ and all(b[i & ~1:(i & ~1) + 2] in pads for i in differ)   # nothing but patches differs
    assert cli("run", "guest:redpill", "guest:timer", "--dump", str(bare)).code == 2
