"""``disasm`` of an ELF lists what ``objdump -d`` does (issue K §4, item 6): its executable
sections only — not the data, ``.bss`` or ELF headers its loadable segments also hold —
and, inside them, the bytes a ``$d`` mapping symbol marks as data."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ELF = ROOT / "tests" / "data" / "riscv-tests" / "elf"
OBJDUMP = shutil.which("riscv64-unknown-elf-objdump")
AS, LD = shutil.which("riscv64-unknown-elf-as"), shutil.which("riscv64-unknown-elf-ld")
LINE = re.compile(r"^([0-9a-f]{8}): ([0-9a-f]+)\s+(\S.*)$")
OBJDUMP_LINE = re.compile(r"^\s*([0-9a-f]+):\t([0-9a-f]+)\s+\t(\S+)")

CODE = {"rv32ui-p-add": [(0x80000000, 0x800006BC)],
        "rv32ui-v-add": [(0x80000000, 0x80000200), (0x80002000, 0x80002F3C)]}
"""Each test's executable sections (.text.init, and .text for the v test)."""


def _listing(cli, path: Path) -> list[tuple[int, int, bool]]:
    """(address, word, decoded) of every listed line."""
    r = cli("disasm", str(path))
    assert r.code == 0, r.err
    out = []
    for m in map(LINE.match, r.out.splitlines()):
        if m:
            word = int.from_bytes(bytes.fromhex(m[2]), "little")
            out.append((int(m[1], 16), word, not m[3].startswith(".")))
    return out


@pytest.mark.parametrize("name", sorted(CODE))
def test_only_executable_sections_are_listed(cli, name):
    lines = _listing(cli, ELF / name)
    assert lines and all(any(lo <= a < hi for lo, hi in CODE[name]) for a, _, _ in lines)
    assert {a for a, _, _ in lines} >= {lo for lo, _ in CODE[name]}
    r = cli("disasm", str(ELF / name), "--json")
    assert {ln["address"] for ln in json.loads(r.out)["lines"]} == {a for a, _, _ in lines}


@pytest.mark.skipif(OBJDUMP is None, reason="riscv64-unknown-elf-objdump not installed")
@pytest.mark.parametrize("name", sorted(CODE))
def test_the_instructions_are_objdumps(cli, name):
    ours = {(a, w) for a, w, decoded in _listing(cli, ELF / name) if decoded}
    text = subprocess.run([OBJDUMP, "-d", str(ELF / name)], capture_output=True, text=True, check=True).stdout
    theirs = {(int(m[1], 16), int(m[2], 16)) for m in map(OBJDUMP_LINE.match, text.splitlines())
              if m and not m[3].startswith(".")}
    assert ours == theirs


@pytest.mark.skipif(AS is None or LD is None, reason="riscv64-unknown-elf-as/ld not installed")
def test_data_in_code_a_string_and_a_stack(cli, tmp_path):
    """A string in .text (marked $d by the assembler) is data; .data and .bss are not listed."""
    source = tmp_path / "m.s"
    source.write_text(".text\n.globl _start\n_start: addi a0,a0,1\nmsg: .asciz \"hello world\"\n.balign 4\n"
                      "addi a1,a1,2\n.data\nd: .word 5\n.bss\nstack: .space 1024\n")
    subprocess.run([AS, "-march=rv32i", "-mabi=ilp32", str(source), "-o", str(tmp_path / "m.o")], check=True)
    subprocess.run([LD, "-m", "elf32lriscv", "-Ttext=0x80000000", str(tmp_path / "m.o"), "-o", str(tmp_path / "m.elf")],
                   check=True)
    lines = _listing(cli, tmp_path / "m.elf")
    assert [(a, decoded) for a, _, decoded in lines] == [
        (0x80000000, True), (0x80000004, False), (0x80000008, False), (0x8000000C, False), (0x80000010, True)]
