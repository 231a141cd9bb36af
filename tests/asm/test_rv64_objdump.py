"""Disassembly of the 193 vendored RV64 riscv-tests ELFs against GNU objdump -d -M
no-aliases: ``disasm --style objdump`` prints exactly what objdump prints, and the default
listing has objdump's mnemonic and operands on every instruction line.  The instruction
counts also agree with MANIFEST64.tsv, which objdump's lines gave."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

import pytest

SUITE = Path(__file__).resolve().parents[1] / "data" / "riscv-tests"
ELF_DIR = SUITE / "elf64"
ELVES = sorted(p.name for p in ELF_DIR.iterdir())
OBJDUMP = shutil.which("riscv64-unknown-elf-objdump")
MANIFEST = {row[0]: row for row in (line.split("\t") for line in (SUITE / "MANIFEST64.tsv").read_text().splitlines()[1:] if line)}
UNIMP = "csrrw zero,cycle,zero"
"""What objdump calls ``unimp`` (``[system.objdump] names``), spelled as the default listing does."""

needs_objdump = pytest.mark.skipif(OBJDUMP is None, reason="GNU objdump for RISC-V not installed")


@functools.lru_cache(maxsize=None)
def objdump(name: str) -> str:
    return subprocess.run([OBJDUMP, "-d", "-M", "no-aliases", str(ELF_DIR / name)], check=True, capture_output=True, text=True).stdout


def instruction_lines(dump: str) -> dict[int, str]:
    """objdump's instruction lines (not its ``.2byte``/``.word`` directives): address →
    mnemonic and operands, without ``<symbol>`` suffixes and ``#`` comments."""
    out = {}
    for m in re.finditer(r"(?m)^\s*([0-9a-f]+):\t[0-9a-f ]+\t([^\n]+)$", dump):
        text = m.group(2).split(" # ", 1)[0]
        if text.startswith("."):
            continue
        text = re.sub(r" <[^>]*>", "", text).replace("\t", " ")
        out[int(m.group(1), 16)] = UNIMP if text == "unimp" else text
    return out


def test_the_whole_rv64_suite_is_here():
    assert len(ELVES) == 193 == len(MANIFEST) and set(ELVES) == set(MANIFEST)
    suites = {"-".join(name.split("-")[:2]) for name in ELVES}
    assert suites == {"rv64ui-p", "rv64ui-v", "rv64um-p", "rv64um-v", "rv64ua-p", "rv64ua-v", "rv64mi-p", "rv64si-p"}


@needs_objdump
@pytest.mark.parametrize("name", ELVES)
def test_objdump_style_is_identical(cli, name):
    r = cli("disasm", "--style", "objdump", str(ELF_DIR / name))
    assert r.code == 0, r.err
    assert r.out == objdump(name)
    assert len(instruction_lines(r.out)) == int(MANIFEST[name][3])


@needs_objdump
@pytest.mark.parametrize("name", ELVES)
def test_default_listing_agrees_on_every_instruction(cli, name):
    r = cli("disasm", str(ELF_DIR / name))
    assert r.code == 0, r.err
    ours = {int(m.group(1), 16): re.sub(r" <[^>]*>", "", m.group(2))
            for m in re.finditer(r"(?m)^([0-9a-f]{8,16}): [0-9a-f]+  ([^\n]+)$", r.out)}
    theirs = instruction_lines(objdump(name))
    assert [(hex(a), t, ours.get(a)) for a, t in sorted(theirs.items()) if ours.get(a) != t] == []
