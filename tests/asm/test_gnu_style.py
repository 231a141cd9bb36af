"""GNU-style RISC-V sources: pseudo-instructions (li, la, call, tail, ...), %hi/%lo/
%pcrel_hi/%pcrel_lo, numeric local labels and GNU's alignment rules assemble to the bytes
GNU as makes; li and the operators also checked by their arithmetic on every value."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hybridvmm.asm import assemble
from hybridvmm.errors import AsmError
from hybridvmm.isa import Decoder, load_isa

PREFIX = "riscv64-unknown-elf-"
AS, LD, OBJCOPY = (shutil.which(PREFIX + t) for t in ("as", "ld", "objcopy"))
CORPUS = Path(__file__).parent / "corpus" / "rv32_gnu.s"
needs_binutils = pytest.mark.skipif(not all((AS, LD, OBJCOPY)), reason="GNU binutils for RISC-V not installed")
RV32 = load_isa("rv32")
DECODER = Decoder(RV32)


def gnu_text(source: str, tmp: Path) -> bytes:
    """The .text bytes GNU as + ld make of ``source``, linked at 0."""
    src, obj, elf, out = tmp / "g.s", tmp / "g.o", tmp / "g.elf", tmp / "g.bin"
    src.write_text(source)
    subprocess.run([AS, "-march=rv32ima_zicsr_zifencei", "-mno-relax", str(src), "-o", str(obj)], check=True, capture_output=True)
    subprocess.run([LD, "-m", "elf32lriscv", "-Ttext=0", "-e", "0", str(obj), "-o", str(elf)], check=True, capture_output=True)
    subprocess.run([OBJCOPY, "-O", "binary", "-j", ".text", str(elf), str(out)], check=True)
    return out.read_bytes()


def same_bytes(ours: bytes, gnu: bytes) -> None:
    """Identical, except that GNU pads a code section's end to its alignment (nops)."""
    assert gnu[:len(ours)] == ours
    tail = gnu[len(ours):]
    assert len(tail) < 16 and tail in (b"", b"\x00", b"\x01\x00", b"\x00\x01\x00") + tuple(b"\x13\x00\x00\x00" * n for n in (1, 2, 3))


@needs_binutils
def test_corpus_is_byte_identical_to_gnu_as(tmp_path):
    source = CORPUS.read_text()
    ours = bytes(assemble(source, "rv32", str(CORPUS)).sections[0].data)
    same_bytes(ours, gnu_text(source, tmp_path))
    for mnemonic in ("call", "tail", "la", "lla", "li", "seqz", "snez", "csrs", "csrc", "%pcrel_lo(1b)", "%hi(", "%lo("):
        assert mnemonic in source


EDGES = [0, 1, -1, 2047, 2048, -2048, -2049, 0x7FF, 0x800, 0xFFF, 0x1000, 0x7FFFF800, 0x7FFFF7FF, 0x7FFFFFFF,
         0x80000000, 0x80000800, 0xFFFFF800, 0xFFFFF7FF, 0xFFFFFFFF, -0x80000000, 0x12345678, 0xDEADBEEF]


@needs_binutils
def test_li_chooses_what_gnu_as_chooses(tmp_path):
    rng = random.Random(7)
    values = EDGES + [rng.randrange(-0x80000000, 0x100000000) for _ in range(1500)]
    values += [rng.randrange(-2048, 2048) << rng.randrange(0, 21) for _ in range(300)]  # shapes with zero low bits
    values = [v for v in values if -0x80000000 <= v <= 0xFFFFFFFF]
    source = "".join(f"    li {'a0' if i % 2 else 't6'}, {v}\n" for i, v in enumerate(values))
    ours = bytes(assemble(source, "rv32").sections[0].data)
    same_bytes(ours, gnu_text(source, tmp_path))


def run_li(value: int) -> tuple[int, list[str]]:
    """Assemble ``li a0, value`` and evaluate the lui/addi it became."""
    data = bytes(assemble(f"li a0, {value}\n", "rv32").sections[0].data)
    reg, names = 0, []
    for off in range(0, len(data), 4):
        ins = DECODER.decode(data, off, off)
        names.append(ins.name)
        if ins.name == "lui":
            reg = ins.operands["imm_u"] << 12
        else:
            assert ins.name == "addi" and ins.operands["rd"] == 10
            reg = (reg if ins.operands["rs1"] == 10 else 0) + ins.operands["imm_i"]
    return reg & 0xFFFFFFFF, names


@settings(max_examples=300, deadline=None)
@given(st.integers(-0x80000000, 0xFFFFFFFF))
def test_li_loads_its_value_in_as_few_instructions_as_gnu(value):
    got, names = run_li(value)
    assert got == value & 0xFFFFFFFF
    signed = ((value & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000
    if -2048 <= signed <= 2047:
        assert names == ["addi"]
    elif signed & 0xFFF == 0:
        assert names == ["lui"]
    else:
        assert names == ["lui", "addi"]


def test_li_needs_a_known_value_in_range():
    with pytest.raises(AsmError, match="value 4294967296 out of range for 'li'"):
        assemble("li a0, 0x100000000\n", "rv32")
    with pytest.raises(AsmError, match="not defined yet"):
        assemble("li a0, later\n.equ later, 5\n", "rv32")
    assert bytes(assemble(".equ K, 5000\nli a0, K\n", "rv32").sections[0].data) == bytes.fromhex("3715000013058538")


@settings(max_examples=200, deadline=None)
@given(target=st.integers(0, 0xFFFFFFF0).map(lambda v: v & ~3), origin=st.integers(0, 0x7FFFFF).map(lambda v: v * 4))
def test_hi_lo_and_pcrel_pairs_rebuild_the_address(target, origin):
    source = (
        f".org {origin}\n.equ T, {target}\n"
        "lui a0, %hi(T)\naddi a0, a0, %lo(T)\n"
        "1: auipc a1, %pcrel_hi(T)\naddi a1, a1, %pcrel_lo(1b)\n"
        "la a2, T\n"
    )
    data = bytes(assemble(source, "rv32").sections[0].data)
    ins = [DECODER.decode(data, origin + off, off) for off in range(0, len(data), 4)]
    assert ((ins[0].operands["imm_u"] << 12) + ins[1].operands["imm_i"]) & 0xFFFFFFFF == target
    for auipc, addi in ((ins[2], ins[3]), (ins[4], ins[5])):
        assert (auipc.address + (auipc.operands["imm_u"] << 12) + addi.operands["imm_i"]) & 0xFFFFFFFF == target


def test_operator_errors_name_the_problem():
    with pytest.raises(AsmError, match="unknown operator '%gp'"):
        assemble("addi a0,a0,%gp(x)\nx:\n", "rv32")
    with pytest.raises(AsmError, match="no instruction has a %pcrel_hi"):
        assemble("1: nop\naddi a0,a0,%pcrel_lo(1b)\n", "rv32")
    with pytest.raises(AsmError, match="unknown operator '%hi'"):
        assemble("movi r1, %hi(5)\n", "pgm")  # pgm defines none


def test_numeric_local_labels_go_backward_and_forward():
    image = assemble("1: nop\n   j 1f\n   j 1b\n1: j 1b\n", "rv32")
    targets = [DECODER.decode(image.sections[0].data, i * 4, i * 4).target for i in range(1, 4)]
    assert targets == [12, 0, 12]  # a label on the line itself is the nearest backward one
    assert image.symbols == {}  # local labels stay out of the symbol table
    with pytest.raises(AsmError, match="local label '2' is not defined"):
        assemble("j 2b\n", "rv32")


def test_gnu_alignment_in_code_and_data():
    code = lambda src: bytes(assemble(src, "rv32").sections[0].data).hex()  # noqa: E731
    assert code("nop\n.align 3\nnop\n") == "13000000" * 3  # .align 3 = 8 bytes, padded with a nop
    assert code(".2byte 7\n.align 3\nnop\n") == "0700" + "0100" + "13000000" * 2  # c.nop, then nops
    assert code("nop\n.byte 1\n.align 3\nnop\n") == "13000000" + "01" + "000100" + "13000000"
    assert code(".byte 1\n.align 2\nnop\n") == "01" + "13000000"  # 4 bytes or less: nothing, as in GNU
    assert code("nop\n.byte 1\n.p2align 2, 0\nnop\n") == "13000000" + "01000000" + "13000000"  # a fill value pads
    data = assemble(".data\n.byte 1\n.align 3\n.byte 2\n", "rv32").sections[0]
    assert bytes(data.data) == b"\x01" + bytes(7) + b"\x02"
    assert bytes(assemble(".byte 1\n.align 4\n.byte 2\n", "pgm").sections[0].data) == b"\x01\x00\x00\x00\x02"  # pgm: bytes


def test_gnu_directives():
    image = assemble(
        '.option norvc\n.option push\n.attribute arch, "rv32i2p1"\n.file "x.c"\n.globl f\n.type f, @function\n'
        "f: .2byte 1\n.short 2\n.4byte 3\n.long 4\n.8byte 5\n.zero 2\n.size f, .-f\n.weak f\n.option pop\n",
        "rv32",
    )
    assert bytes(image.sections[0].data) == bytes.fromhex("0100" "0200" "03000000" "04000000" "0500000000000000" "0000")
    with pytest.raises(AsmError, match=r"\.option rvc changes what GNU as emits"):
        assemble(".option rvc\n", "rv32")
