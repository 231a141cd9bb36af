"""The pgm corpus: covers every instruction and directive, and survives
assemble -> disassemble -> assemble byte for byte (through the API and the CLI)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hybridvmm.asm import assemble, assemble_file
from hybridvmm.asm.assembler import _DIRECTIVES
from hybridvmm.asm.disassembler import disassemble, render, to_source
from hybridvmm.image import Image
from hybridvmm.isa import load_isa

CORPUS = Path(__file__).parent / "corpus" / "pgm_all.s"


@pytest.fixture(scope="module")
def image() -> Image:
    return assemble_file(CORPUS)


def _same(a: Image, b: Image) -> None:
    assert [(s.address, bytes(s.data)) for s in a.sections] == [(s.address, bytes(s.data)) for s in b.sections]
    assert a.entry == b.entry


def test_corpus_covers_every_instruction(image):
    isa = load_isa("pgm")
    seen = {ln.instruction.name for ln in disassemble(image) if ln.instruction is not None}
    assert seen == set(isa.instructions)


def test_corpus_covers_every_directive_and_alias():
    text = CORPUS.read_text().lower()
    used = set(re.findall(r"(?m)^\s*(?:[a-z_.][\w.]*:\s*)*(\.[a-z0-9]+)", text))
    wanted = {".equ", ".org", ".align", ".p2align", ".byte", ".half", ".word", ".ascii", ".asciz",
              ".space", ".text", ".data", ".section", ".entry", ".global", ".globl", ".isa"}
    assert wanted <= set(_DIRECTIVES)
    assert wanted <= used
    assert re.search(r"(?m)^\s*\w+\s*=", text)  # NAME = EXPR
    for alias in load_isa("pgm").aliases.values():
        assert re.search(rf"(?m)^\s*{alias.mnemonic}\s", text), alias.mnemonic


def test_corpus_values(image):
    """Spot checks that the expressions evaluated as C would."""
    lines = {ln.address: ln.text for ln in disassemble(image)}
    sym = image.symbols
    assert lines[sym["_start"] + 0x16] == "movi r4, 13"
    assert lines[sym["_start"] + 0x22] == "movi r7, 206"  # 'A' + '\n' + '\0' + '\\' + '\''
    assert lines[sym["_start"] + 0x26] == "movi r8, -2"  # -17 % 5
    assert lines[sym["_start"] + 0x2A] == "movi r9, -3"  # -17 / 5
    assert lines[sym["_start"] + 0x2E] == "movi r10, 1026"
    assert lines[sym["_start"] + 0x32] == "movi r11, 66"
    assert image.entry == sym["_start"] == sym["main"] == 0x100
    data = image.sections[1]
    assert data.name == "data" and data.address % 4 == 0 and data.address >= image.sections[0].end
    assert bytes(data.data).startswith(b"Hello, world!\ntab\there \"quoted\" back\\slash AA #;not a comment\0x#;\xff\x80")
    rodata = image.sections[2]
    assert (rodata.name, rodata.address, bytes(rodata.data)) == ("rodata", 0x4000, b"pgm\0")


def test_round_trip_through_the_api(image):
    source = to_source(image)
    again = assemble(source, "pgm")
    _same(image, again)
    assert to_source(again) == source


def test_listing_text_is_assembler_input(image):
    """Every listing line's text (instructions and data alike) assembles to its own bytes."""
    isa = load_isa("pgm")
    for line in disassemble(image):
        rebuilt = assemble(f".org 0x{line.address:x}\n{line.text}\n", isa)
        assert bytes(rebuilt.sections[0].data) == line.raw, line.text


def test_listing_format(image):
    isa = load_isa("pgm")
    text = render(disassemble(image), isa)
    assert text[0] == "_start:" and text[1] == "main:"
    assert text[2] == "00000100: f0800000      movi r15, 0"
    rows = [t for t in text if not t.endswith(":")]
    # ADDR: then 12 hex digits (the 6-byte maximum), two spaces, and the text: columns line up
    assert all(re.fullmatch(r"[0-9a-f]{8}: [0-9a-f ]{12}  \S.*", t) for t in rows)
    assert "00000216: ffff          .half 0xffff" in text


def test_round_trip_through_the_cli(cli, tmp_path):
    src = tmp_path / "all.s"
    src.write_text(CORPUS.read_text())
    r = cli("asm", str(src))
    assert r.code == 0, r.err
    img_path = tmp_path / "all.img"
    assert img_path.exists() and "entry 0x100" in r.out and r.out.count("\n") == 1
    r = cli("disasm", str(img_path), "--source")
    assert r.code == 0, r.err
    (tmp_path / "again.s").write_text(r.out)
    r = cli("asm", str(tmp_path / "again.s"), "-o", str(tmp_path / "again.img"))
    assert r.code == 0, r.err
    _same(Image.from_bytes(img_path.read_bytes()), Image.from_bytes((tmp_path / "again.img").read_bytes()))


@pytest.mark.parametrize("variant", ["pgm-virt", "pgm-hybrid", "pgm-x86"])
def test_variants_share_the_encoding(image, variant):
    other = assemble(CORPUS.read_text(), variant)
    assert other.isa == variant
    _same(image, other)
