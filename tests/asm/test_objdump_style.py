"""``disasm --style objdump`` prints what GNU objdump -d -M no-aliases prints: on every
vendored riscv-tests ELF, on a linked corner-case source, stripped, and the layout on a
pgm image (which objdump cannot read)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hybridvmm.asm import assemble

PREFIX = "riscv64-unknown-elf-"
OBJDUMP = shutil.which(PREFIX + "objdump")
AS, LD, STRIP = (shutil.which(PREFIX + t) for t in ("as", "ld", "strip"))
ELF_DIR = Path(__file__).resolve().parents[1] / "data" / "riscv-tests" / "elf"
ELVES = sorted(p.name for p in ELF_DIR.iterdir())
MIX = Path(__file__).parent / "corpus" / "objdump_mix.s"

needs_objdump = pytest.mark.skipif(OBJDUMP is None, reason="GNU objdump for RISC-V not installed")


def objdump(path: Path) -> str:
    return subprocess.run([OBJDUMP, "-d", "-M", "no-aliases", str(path)], check=True, capture_output=True, text=True).stdout


def ours(cli, path: Path) -> str:
    r = cli("disasm", "--style", "objdump", str(path))
    assert r.code == 0, r.err
    return r.out


@needs_objdump
@pytest.mark.parametrize("name", ELVES)
def test_identical_to_objdump_on_every_riscv_test(cli, name):
    path = ELF_DIR / name
    assert ours(cli, path) == objdump(path)


@pytest.fixture(scope="module")
def linked(tmp_path_factory):
    if not all((OBJDUMP, AS, LD, STRIP)):
        pytest.skip("GNU binutils for RISC-V not installed")
    tmp = tmp_path_factory.mktemp("mix")
    obj, elf, stripped = tmp / "mix.o", tmp / "mix.elf", tmp / "mix.stripped"
    subprocess.run([AS, "-march=rv32ima_zicsr_zifencei", "-mno-relax", str(MIX), "-o", str(obj)], check=True)
    subprocess.run([LD, "-m", "elf32lriscv", "-Ttext=0x80000000", "--defsym=__global_pointer$=0x80001800", str(obj), "-o", str(elf)], check=True)
    subprocess.run([STRIP, str(elf), "-o", str(stripped)], check=True)
    return elf, stripped


def test_corner_cases_match_objdump(cli, linked):
    elf, stripped = linked
    text = ours(cli, elf)
    assert text == objdump(elf)
    # the cases the corpus is there for really occur
    assert "addi\ta0,a0,36 # 80000024 <table>" in text
    assert "lw\ta1,8(gp) # " in text and "<__global_pointer$+0x" in text
    assert "\t11223344 00000000 00000000 00000000     D3\"" in text  # an object, dumped raw
    assert "\t...\n" in text
    assert ours(cli, stripped) == objdump(stripped)  # no symbols: no mapping, 0x targets


def test_layout_on_a_pgm_image(cli, tmp_path):
    source = ".isa pgm\n_start: movi r1, 5\nloop: addi r1, r1, -1\n bne loop\n halt\n .space 12\n halt\n"
    path = tmp_path / "p.img"
    assemble(source, "pgm").save(path)
    lines = ours(cli, path).split("\n")
    assert lines[:7] == [
        "", f"{path}:     file format hvmi-pgm", "", "", "Disassembly of section text:", "", "00000100 <_start>:",
    ]
    assert " 100:\t00058010          \tmovi\tr1, 5" in lines
    assert " 108:\tfffc9a00          \tbne\t104 <loop>" in lines
    assert " 10c:\t0200                \thalt" in lines
    assert "\t..." in lines and " 11a:\t0200                \thalt" in lines


def test_objdump_style_is_a_listing_only(cli):
    r = cli("disasm", "--style", "objdump", "--json", str(ELF_DIR / "rv32ui-p-add"))
    assert r.code == 2 and "does not combine" in r.err


def test_compressed_regions_decode_as_objdump_does(cli, tmp_path):
    """Every 16-bit parcel in code assembled with C: the rvc companion specs decode all
    of them as objdump does except c.lui with a negative immediate (see rvc-base.toml)."""
    if not all((OBJDUMP, AS, LD)):
        pytest.skip("GNU binutils for RISC-V not installed")
    src, obj, elf = tmp_path / "c.s", tmp_path / "c.o", tmp_path / "c.elf"
    src.write_text(".option arch, +c\n" + "".join(f".insn 0x{v:04x}\n" for v in range(0x10000) if v & 3 != 3))
    subprocess.run([AS, "-march=rv32ima_zicsr_zifencei", str(src), "-o", str(obj)], check=True)
    subprocess.run([LD, "-m", "elf32lriscv", "-Ttext=0x10000", "-e", "0x10000", str(obj), "-o", str(elf)], check=True)
    theirs = objdump(elf).splitlines()
    mine = ours(cli, elf).splitlines()
    assert len(mine) == len(theirs) > 49152
    differ = [(t, m) for t, m in zip(theirs, mine) if t != m]
    assert {t.split("\t")[2] for t, _ in differ} == {"c.lui"}
    assert all(m.split("\t")[2] == ".2byte" and int(t.split(",")[1], 16) >= 0xFFFE0 for t, m in differ)
    assert len(differ) == 992
