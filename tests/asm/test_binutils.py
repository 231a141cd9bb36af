"""RV32 against GNU binutils: the same source through GNU as and through our assembler
gives the same bytes, and objdump -d -M no-aliases and `hybridvmm disasm` print the same
mnemonic and operands on every line."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hybridvmm.asm import assemble
from hybridvmm.isa import load_isa

PREFIX = "riscv64-unknown-elf-"
TOOLS = {t: shutil.which(PREFIX + t) for t in ("as", "objcopy", "objdump")}
CORPUS = Path(__file__).parent / "corpus" / "rv32_all.s"
MARCH = ["-march=rv32ima_zicsr_zifencei", "-mabi=ilp32", "-mno-relax"]

pytestmark = pytest.mark.skipif(not all(TOOLS.values()), reason="GNU binutils for RISC-V not installed")


def corpus_source() -> str:
    """The corpus plus one csrrs/csrrw/csrrci line per CSR named in the spec."""
    isa = load_isa("rv32")
    lines = ["", "# --- every CSR the spec names (generated) ---", "csrs:"]
    for name, number in sorted(isa.csrs.items(), key=lambda kv: kv[1]):
        lines.append(f"    csrrs a0,{name},zero")
        if number >> 10 != 3:  # not read-only: writes assemble without a warning
            lines.append(f"    csrrw zero,{name},a1")
            lines.append(f"    csrrci t0,{name},7")
    return CORPUS.read_text() + "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("rv32")
    src = tmp / "all.s"
    src.write_text(corpus_source())
    obj, binary = tmp / "all.o", tmp / "all.bin"
    subprocess.run([TOOLS["as"], *MARCH, str(src), "-o", str(obj)], check=True, capture_output=True)
    subprocess.run([TOOLS["objcopy"], "-O", "binary", "-j", ".text", str(obj), str(binary)], check=True)
    dump = subprocess.run([TOOLS["objdump"], "-d", "-M", "no-aliases", str(obj)], check=True, capture_output=True, text=True).stdout
    return {"src": src, "bin": binary, "dump": dump}


def _normal(text: str) -> str:
    text = re.sub(r"\s*<[^>]*>", "", text)  # objdump's <symbol+off> suffix
    text = text.split("#", 1)[0]  # objdump's comments
    return " ".join(text.split())


def objdump_lines(dump: str) -> dict[int, str]:
    out = {}
    for m in re.finditer(r"(?m)^\s*([0-9a-f]+):\s+([0-9a-f]{8})\s+(.+)$", dump):
        out[int(m.group(1), 16)] = _normal(m.group(3))
    return out


def our_lines(listing: str) -> dict[int, str]:
    out = {}
    for m in re.finditer(r"(?m)^([0-9a-f]{8}): ([0-9a-f]+)\s+(.+)$", listing):
        if int(m.group(2), 16) == 0:
            continue  # .space filler: objdump folds runs of zeros into "..."
        out[int(m.group(1), 16)] = _normal(m.group(3))
    return out


def test_corpus_covers_every_instruction_and_csr(built):
    isa = load_isa("rv32")
    words = set(re.findall(r"(?m)^\s+([a-z][a-z0-9.]*)\s", built["src"].read_text()))
    assert set(isa.instructions) <= words
    text = built["src"].read_text()
    for name in isa.csrs:
        assert f",{name}," in text


def test_our_bytes_equal_gnu_as(built):
    ours = assemble(built["src"].read_text(), "rv32", str(built["src"]))
    assert [s.name for s in ours.sections] == ["text"]
    assert ours.sections[0].address == 0
    assert bytes(ours.sections[0].data) == built["bin"].read_bytes()


def test_disasm_matches_objdump_no_aliases(built, cli):
    r = cli("disasm", str(built["bin"]), "--isa", "rv32", "--base", "0")
    assert r.code == 0, r.err
    ours = our_lines(r.out)
    theirs = objdump_lines(built["dump"])
    assert len(theirs) > 400
    assert set(ours) == set(theirs)
    mismatches = [(hex(a), theirs[a], ours[a]) for a in sorted(theirs) if theirs[a] != ours[a]]
    assert mismatches == []
    # the boundary offsets are really there
    assert any(t.startswith("beq a0,a1,") and a - int(t.split(",")[2], 16) == 4096 for a, t in theirs.items())
    assert any(t.startswith("jal zero,") and a - int(t.split(",")[1], 16) == 1 << 20 for a, t in theirs.items())

