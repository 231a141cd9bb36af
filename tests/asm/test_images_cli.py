"""`info` and `disasm` on good, truncated and corrupt images, raw binaries and --json."""

from __future__ import annotations

import json

import pytest

from hybridvmm.asm import assemble
from hybridvmm.image import Image, PatchRecord

SOURCE = """
.isa pgm
_start: movi r1, 5
loop:   addi r1, r1, -1
        bne loop
        halt
.data
msg:    .asciz "hi"
"""


@pytest.fixture
def image_file(tmp_path):
    img = assemble(SOURCE, "pgm", "prog.s")
    img.patches.append(PatchRecord(0x108, bytes.fromhex("009af8ff"), bytes.fromhex("0109ffff"), "vmtrap"))
    path = tmp_path / "prog.img"
    img.save(path)
    return path


def test_info_text_and_json(cli, image_file):
    r = cli("info", str(image_file))
    assert r.code == 0, r.err
    assert "isa      pgm" in r.out and "entry    0x00000100" in r.out
    assert "text       0x00000100-0x0000010e" in r.out and "code" in r.out
    assert "data,write" in r.out
    assert "0x00000104  loop" in r.out
    assert "0x00000108  vmtrap         009af8ff     -> 0109ffff" in r.out
    r = cli("info", str(image_file), "--json")
    data = json.loads(r.out)
    assert data["isa"] == "pgm" and data["entry"] == 0x100
    assert [s["name"] for s in data["sections"]] == ["text", "data"]
    assert data["sections"][0] == {"name": "text", "start": 0x100, "end": 0x10E, "size": 14, "flags": ["code"]}
    assert {"name": "msg", "address": 0x110} in data["symbols"]
    assert data["patches"] == [{"address": 0x108, "kind": "vmtrap", "original": "009af8ff", "replacement": "0109ffff"}]


def test_disasm_text_and_json(cli, image_file):
    r = cli("disasm", str(image_file))
    assert r.code == 0, r.err
    assert r.out.splitlines() == [
        "_start:",
        "00000100: 10800500      movi r1, 5",
        "loop:",
        "00000104: 1181ffff      addi r1, r1, -1",
        "00000108: 009afcff      bne 0x104 <loop>",
        "0000010c: 0002          halt",
    ]
    r = cli("disasm", str(image_file), "--json")
    data = json.loads(r.out)
    assert data["lines"][2] == {
        "address": 0x108, "bytes": "009afcff", "text": "bne 0x104", "mnemonic": "bne",
        "operands": "0x104", "instruction": "bne", "labels": [], "target": 0x104, "target_label": "<loop>",
    }


def test_raw_binary_needs_isa_and_base(cli, tmp_path):
    raw = tmp_path / "code.bin"
    raw.write_bytes(bytes.fromhex("0001") + bytes.fromhex("0002"))
    r = cli("disasm", str(raw))
    assert r.code == 2 and "--isa" in r.err and r.err.count("\n") == 1
    r = cli("disasm", str(raw), "--isa", "pgm", "--base", "0x200")
    assert r.code == 0 and r.out.splitlines() == ["00000200: 0001          nop", "00000202: 0002          halt"]
    r = cli("info", str(raw), "--isa", "pgm", "--base", "0x200", "--entry", "0x202")
    assert r.code == 0 and "entry    0x00000202" in r.out and "raw" in r.out


def _damaged(image_file, how: str) -> bytes:
    data = bytearray(image_file.read_bytes())
    if how == "flip-body":
        data[20] ^= 0x40
    elif how == "flip-crc":
        data[-1] ^= 0x01
    elif how == "cut-half":
        data = data[: len(data) // 2]
    elif how == "cut-one":
        data = data[:-1]
    elif how == "cut-header":
        data = data[:6]
    elif how == "extra":
        data += b"\0"
    elif how == "bad-magic":
        data[0:4] = b"XXXX"
    return bytes(data)


@pytest.mark.parametrize("command", ["info", "disasm"])
@pytest.mark.parametrize("how", ["flip-body", "flip-crc", "cut-half", "cut-one", "cut-header", "extra"])
def test_truncated_or_corrupt_image(cli, image_file, tmp_path, command, how):
    bad = tmp_path / "bad.img"
    bad.write_bytes(_damaged(image_file, how))
    r = cli(command, str(bad))
    assert r.code == 2
    assert r.out == ""
    assert r.err.count("\n") == 1 and "Traceback" not in r.err
    assert str(bad) in r.err and ("corrupt" in r.err or "truncated" in r.err)


@pytest.mark.parametrize("command", ["info", "disasm"])
def test_not_an_image_and_missing_file(cli, tmp_path, command):
    r = cli(command, str(tmp_path / "absent.img"))
    assert r.code == 2 and "no such file" in r.err and r.err.count("\n") == 1
    r = cli(command, str(tmp_path), "--isa", "pgm", "--base", "0")
    assert r.code == 2 and r.err.count("\n") == 1


def test_unknown_isa_for_raw_binary(cli, tmp_path):
    raw = tmp_path / "x.bin"
    raw.write_bytes(b"\0\0")
    r = cli("disasm", str(raw), "--isa", "nosuch", "--base", "0")
    assert r.code == 2 and "unknown ISA 'nosuch'" in r.err and r.err.count("\n") == 1


def test_image_sections_and_entry_survive_save(tmp_path, image_file):
    img = Image.from_bytes(image_file.read_bytes())
    assert [s.name for s in img.sections] == ["text", "data"]
    assert img.symbols == {"_start": 0x100, "loop": 0x104, "msg": 0x110}
