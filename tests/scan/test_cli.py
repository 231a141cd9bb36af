"""``scan``, ``patch`` and ``unpatch`` on the command line."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from hybridvmm.image import Image

SOURCE = """
        .org 0x74
        .word handler                   ; svc vector
        .org 0x100
        .entry start
start:  pushf
        di
        popf
        movl r2, user
        jmpr r2
msg:    .asciz "<data & more>"
        .align 2
user:   srr r1, r2
        ld r3, 0(r1)
        jmpr r3
handler:
        rdtime r4
        rti
"""


@pytest.fixture
def image_file(tmp_path, tools):
    path = tmp_path / "guest.img"
    tools.build(SOURCE, "pgm-x86").save(path)
    return path


def test_scan_json(cli, image_file, tools):
    r = cli("scan", str(image_file), "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    img = Image.from_bytes(image_file.read_bytes())
    start, user, handler, msg = tools.sym(img, "start", "user", "handler", "msg")
    assert [(b["start"], b["end"], b["instruction_count"]) for b in data["blocks"]] == [
        (start, msg, 5), (user, user + 8, 3), (handler, handler + 4, 2)]
    assert [(e["src"], e["dst"], e["kind"], e["address"]) for e in data["edges"]] == [(start, user, "indirect", msg - 2)]
    assert [(s["address"], s["instruction"], s["user_sensitive"]) for s in data["sites"]] == [
        (start, "pushf", True), (start + 4, "popf", False), (user, "srr r1, r2", True), (handler, "rdtime r4", True)]
    assert data["unresolved"] == [user + 6]
    assert [(d["start"], d["end"]) for d in data["data"]] == [(0x74, start), (msg, user)]
    assert {r["kind"] for r in data["roots"]} == {"entry", "vector"}
    assert data["site_count"] == 4 and data["block_count"] == 3 and data["spaces"] == []


def test_scan_text_lists_everything(cli, image_file):
    r = cli("scan", str(image_file))
    assert r.code == 0
    for needle in ("blocks:", "edges:", "sensitive sites:", "UNRESOLVED", "data ranges:", "indirect (at 0x"):
        assert needle in r.out


def test_scan_names_blocks_by_symbol(cli, image_file, tmp_path):
    r = cli("scan", str(image_file))
    assert "instructions  <start>" in r.out and "instructions  <handler>" in r.out
    assert "(block 0x" in r.out and "<user>)" in r.out
    data = json.loads(cli("scan", str(image_file), "--json").out)
    assert [b["name"] for b in data["blocks"]] == ["<start>", "<user>", "<handler>"]
    dot = tmp_path / "cfg.dot"
    assert cli("scan", str(image_file), "--dot", str(dot)).code == 0
    assert "&lt;handler&gt;" in dot.read_text()  # block titles: 0x... <handler>


def test_scan_of_a_riscv_test_elf_names_its_labels(cli):
    elf = Path(__file__).resolve().parents[1] / "data" / "riscv-tests" / "elf" / "rv32ui-p-add"
    r = cli("scan", str(elf))
    assert r.code == 0 and "0 sensitive sites" in r.out
    assert "instructions  <_start>" in r.out and "instructions  <reset_vector>" in r.out


def test_scan_variant_changes_the_sites(cli, image_file):
    r = cli("scan", str(image_file), "--isa", "pgm-virt", "--json")
    assert json.loads(r.out)["sites"] == []
    r = cli("scan", str(image_file), "--isa", "pgm-hybrid", "--json")
    assert [s["instruction"] for s in json.loads(r.out)["sites"]] == ["popf"]


def test_scan_dot_renders_with_graphviz(cli, image_file, tmp_path):
    dot = tmp_path / "cfg.dot"
    r = cli("scan", str(image_file), "--dot", str(dot))
    assert r.code == 0
    text = dot.read_text()
    assert "pushf" in text and "&lt;data" not in text  # data is not disassembled
    assert "behavior-sensitive" in text and "unresolved indirect-jump" in text
    if shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed")
    svg = subprocess.run(["dot", "-Tsvg", str(dot)], capture_output=True, text=True, check=True)
    assert "<svg" in svg.stdout and "srr r1, r2" in svg.stdout


def test_scan_roots_and_spaces(cli, tools, tmp_path):
    path = tmp_path / "task.img"
    tools.build("""
    .entry start
    start:  halt
    .org 0x2000
    task:   nop                  ; runs under R = (0x2000, 0x100) at virtual 0
            br task2                ; pc-relative: right in either view
    task2:  pushf
            jrstu 0                 ; absolute: virtual 0 is task
    """, "pgm-x86").save(path)
    r = cli("scan", str(path), "--json", "--root", "task")
    data = json.loads(r.out)
    assert 0x2000 in [b["start"] for b in data["blocks"]]
    r = cli("scan", str(path), "--json", "--space", "0x2000:0x100:0")
    (space,) = json.loads(r.out)["spaces"]
    assert space["base"] == 0x2000 and [b["start"] for b in space["blocks"]] == [0, 6]
    assert [(s["address"], s["physical"]) for s in space["sites"]] == [(6, 0x2006), (8, 0x2008)]
    assert [(e["src"], e["dst"], e["kind"]) for e in space["edges"]] == [(0, 6, "jump"), (6, 0, "jump")]


def test_patch_writes_stem_patched_suffix_and_refuses_to_overwrite(cli, image_file):
    r = cli("patch", str(image_file))
    assert r.code == 0, r.err
    out = image_file.with_name("guest.patched.img")
    assert out.exists() and "4 new patches" in r.out
    patched = Image.from_bytes(out.read_bytes())
    assert len(patched.patches) == 4 and patched.isa == "pgm-x86"
    rescan = json.loads(cli("scan", str(out), "--json").out)  # scanned through the patch table
    assert [s["patched"] for s in rescan["sites"]] == [True] * 4
    assert rescan["edges"] == json.loads(cli("scan", str(image_file), "--json").out)["edges"]
    r = cli("patch", str(image_file))
    assert r.code == 2 and "exists" in r.err and r.err.count("\n") == 1 and "Traceback" not in r.err
    for force in ((), ("--force",)):  # the input is never replaced, not even with --force
        r = cli("patch", str(image_file), "-o", str(image_file), *force)
        assert r.code == 2 and "refusing to overwrite a file this command reads" in r.err
    r = cli("patch", str(image_file), "--force")
    assert r.code == 0
    again = image_file.with_name("again.img")
    r = cli("patch", str(out), "-o", str(again), "--json")
    assert r.code == 0 and json.loads(r.out)["patched"] == [] and len(json.loads(r.out)["already_patched"]) == 4
    assert again.read_bytes() == out.read_bytes()  # idempotent


def test_patch_policy_and_json(cli, image_file, tmp_path):
    out = tmp_path / "user.img"
    r = cli("patch", str(image_file), "--only", "user-sensitive", "-o", str(out), "--json")
    data = json.loads(r.out)
    assert data["policy"] == "user-sensitive"
    assert [p["instruction"] for p in data["patched"]] == ["pushf", "srr r1, r2", "rdtime r4"]
    assert [s["instruction"] for s in data["skipped"]] == ["popf"]
    assert all(p["replacement_text"] == "vmtrap 0" for p in data["patched"])
    r = cli("patch", str(image_file), "--only", "user-sensitive", "--all-sensitive", "-o", str(tmp_path / "x"))
    assert r.code == 2


def test_unpatch_restores_the_input_byte_for_byte(cli, image_file, tmp_path):
    patched = tmp_path / "p.img"
    assert cli("patch", str(image_file), "-o", str(patched)).code == 0
    restored = tmp_path / "r.img"
    r = cli("unpatch", str(patched), "-o", str(restored))
    assert r.code == 0 and "4 patches undone" in r.out
    assert restored.read_bytes() == image_file.read_bytes()
    assert cli("patch", str(image_file)).code == 0  # guest.patched.img
    default = cli("unpatch", str(image_file.with_name("guest.patched.img")))  # -> guest.img, which exists
    assert default.code == 2 and "guest.img: file exists" in default.err
    assert cli("unpatch", str(image_file)).code == 0  # nothing to undo -> guest.unpatched.img
    assert image_file.with_name("guest.unpatched.img").read_bytes() == image_file.read_bytes()


def test_info_shows_the_patch_table(cli, image_file, tmp_path):
    patched = tmp_path / "p.img"
    cli("patch", str(image_file), "-o", str(patched))
    r = cli("info", str(patched))
    assert r.code == 0 and "user-sensitive" in r.out


def test_patch_a_bundled_guest(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = cli("patch", "guest:minios", "--space", "0x7000:0x1000:0x10c", "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["output_file"] == "minios.patched.img" and (tmp_path / "minios.patched.img").exists()
    assert data["site_count"] == len(data["sites"]) and all("instruction" in s for s in data["sites"])
    assert any(p["address"] >= 0x7000 for p in data["patched"])


@pytest.mark.parametrize("argv, message", [
    (["scan", "{bad}"], "corrupt"),
    (["scan", "{img}", "--isa", "nosuch"], "unknown ISA"),
    (["patch", "{img}", "--isa", "nosuch", "-o", "{tmp}/o.img"], "unknown ISA"),
    (["scan", "{tmp}/missing.img"], "no such file"),
    (["scan", "{img}", "--root", "nosuchsymbol"], "neither a symbol"),
    (["scan", "{img}", "--space", "12"], "BASE:BOUND:ROOT"),
    (["unpatch", "{bad}", "-o", "{tmp}/u.img"], "corrupt"),
    (["scan", "{img}", "--dot", "{tmp}/no/such/dir/x.dot"], "cannot write"),
])
def test_bad_input_is_one_line_and_exit_2(cli, image_file, tmp_path, argv, message):
    bad = tmp_path / "bad.img"
    data = bytearray(image_file.read_bytes())
    data[-1] ^= 0xFF
    bad.write_bytes(bytes(data))
    args = [a.format(bad=bad, img=image_file, tmp=tmp_path) for a in argv]
    r = cli(*args)
    assert r.code == 2
    assert message in r.err and r.err.count("\n") == 1 and "Traceback" not in r.err


def test_help(cli):
    for cmd in ("scan", "patch", "unpatch"):
        r = cli(cmd, "--help")
        assert r.code == 0 and cmd in r.out


def test_dot_output_to_a_directory_is_a_one_line_error(cli, tmp_path):
    result = cli("scan", "guest:syscalls:small", "--dot", str(tmp_path))
    assert result.code == 2 and "is a directory" in result.err
