"""Disassembler formatting, data fallback, labels — and that any bytes at all disassemble
without crashing and re-assemble to themselves."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hybridvmm.asm import assemble
from hybridvmm.asm.disassembler import data_line, disassemble, format_instruction, render, to_source
from hybridvmm.image import FLAG_CODE, FLAG_DATA, Image, Section
from hybridvmm.isa import Decoder, load_isa


@pytest.fixture(scope="module")
def pgm():
    return load_isa("pgm")


@pytest.fixture(scope="module")
def rv32():
    return load_isa("rv32")


def fmt(isa, name, operands, address=0x1000):
    dec = Decoder(isa)
    return format_instruction(dec.instruction(isa.instructions[name], operands, address), isa)


def test_operand_kinds_pgm(pgm):
    assert fmt(pgm, "ld", {"ra": 1, "rb": 15, "simm": -8}) == "ld r1, -8(r15)"
    assert fmt(pgm, "movl", {"ra": 2, "imm32": 0xDEAD}) == "movl r2, 0xdead"  # print = "hex"
    assert fmt(pgm, "br", {"rel": -4}) == "br 0xffc"  # target, with the 0x prefix
    assert fmt(pgm, "br", {"rel": -0x1004}) == "br 0xfffffffc"  # wraps in 32 bits
    assert fmt(pgm, "jmp", {"abs": 0x200}) == "jmp 0x200"
    assert fmt(pgm, "svc", {"code": 255}) == "svc 255"


def test_operand_kinds_rv32(rv32):
    assert fmt(rv32, "csrrs", {"rd": 10, "csr": 0x300, "rs1": 0}) == "csrrs a0,mstatus,zero"
    assert fmt(rv32, "csrrs", {"rd": 10, "csr": 0x7C0, "rs1": 0}) == "csrrs a0,0x7c0,zero"
    assert fmt(rv32, "fence", {"pred": 15, "succ": 3}) == "fence iorw,rw"
    assert fmt(rv32, "fence", {"pred": 0, "succ": 8}) == "fence 0,i"
    assert fmt(rv32, "jal", {"rd": 1, "imm_j": -8}) == "jal ra,ff8"  # objdump: no prefix
    assert fmt(rv32, "lui", {"rd": 5, "imm_u": 0xABCDE}) == "lui t0,0xabcde"
    assert fmt(rv32, "srai", {"rd": 5, "rs1": 6, "shamt": 31}) == "srai t0,t1,0x1f"


def test_atomics_rv32(rv32):
    words = {  # what objdump -d -M no-aliases prints for these words
        0x1005A52F: "lr.w a0,(a1)",
        0x1605A52F: "lr.w.aqrl a0,(a1)",
        0x1EC5A52F: "sc.w.aqrl a0,a2,(a1)",
        0x0CC5A52F: "amoswap.w.aq a0,a2,(a1)",
        0x02C5A02F: "amoadd.w.rl zero,a2,(a1)",
        0xE663A2AF: "amomaxu.w.aqrl t0,t1,(t2)",
        0x1025A52F: ".word 0x1025a52f",  # lr.w with rs2 != 0 is not an instruction
    }
    for word, text in words.items():
        assert disassemble(word.to_bytes(4, "little"), rv32)[0].text == text


def test_undecodable_parcels_print_as_data(pgm, rv32):
    # 0xc0ff: a 6-byte length code with an unknown opcode, then a 6-byte instruction cut short
    raw = bytes.fromhex("ffc0" "0001" "00c1" "0001")
    lines = disassemble(raw, pgm, base=0x10)
    assert [(ln.address, ln.text) for ln in lines] == [
        (0x10, ".half 0xc0ff"), (0x12, "nop"), (0x14, ".half 0xc100"), (0x16, "nop"),
    ]
    assert lines[0].is_data and not lines[1].is_data
    assert disassemble(b"\x01\x00\x07", pgm)[-1].text == ".byte 0x07"  # an odd tail
    assert disassemble(b"\x00\x00\x00\x00\x13", rv32)[0].text == ".word 0x00000000"
    assert disassemble(b"\x00\x00\x00\x00\x13", rv32)[1].text == ".byte 0x13"
    assert data_line(b"\x34\x12", pgm) == ".half 0x1234"


def test_labels_and_code_sections_only(pgm):
    img = Image("pgm", 0x100, [
        Section("text", 0x100, bytearray(bytes.fromhex("00010002")), FLAG_CODE),
        Section("data", 0x200, bytearray(b"\x01\x00"), FLAG_DATA),
        Section("more", 0x300, bytearray(bytes.fromhex("0008")), FLAG_CODE),
    ], {"start": 0x100, "mid": 0x102, "also": 0x102, "d": 0x200, "f": 0x300})
    out = render(disassemble(img), pgm)
    assert out == [
        "start:", "00000100: 0001          nop",
        "also:", "mid:", "00000102: 0002          halt",
        "f:", "00000300: 0008          ret",
    ]
    again = assemble(to_source(img), "pgm")
    assert [(s.name, s.address, bytes(s.data)) for s in again.sections] == [
        (s.name, s.address, bytes(s.data)) for s in img.sections
    ]
    assert again.symbols == img.symbols


@pytest.mark.parametrize("isa_name", ["pgm", "rv32"])
@settings(max_examples=60, deadline=None)
@given(blob=st.binary(min_size=0, max_size=64))
def test_any_bytes_disassemble_and_reassemble_to_themselves(isa_name, blob):
    isa = load_isa(isa_name)
    base = 0x1000
    lines = disassemble(blob, isa, base=base)
    assert b"".join(ln.raw for ln in lines) == blob
    if not blob:
        return
    img = Image(isa.name, base, [Section("text", base, bytearray(blob), FLAG_CODE)])
    again = assemble(to_source(img), isa)
    assert bytes(again.sections[0].data) == blob


def test_rv32_undecodable_words_through_the_cli(tmp_path, cli):
    """Words the spec does not describe (a compressed parcel, a custom opcode) print as .word data."""
    binary = tmp_path / "junk.bin"
    words = [0x00000013, 0x0000_4501, 0x0000000B, 0xFFFFFFFF, 0x00100073]
    binary.write_bytes(b"".join(w.to_bytes(4, "little") for w in words))
    r = cli("disasm", str(binary), "--isa", "rv32", "--base", "0x1000")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == "00001000: 13000000  addi zero,zero,0"
    assert lines[1] == "00001004: 01450000  .word 0x00004501"
    assert lines[2] == "00001008: 0b000000  .word 0x0000000b"
    assert lines[3] == "0000100c: ffffffff  .word 0xffffffff"
    assert lines[4] == "00001010: 73001000  ebreak"
