"""Assembler features one by one: syntax, expressions, directives, sections, entry, aliases."""

from __future__ import annotations

import pytest

from hybridvmm.asm import assemble, assemble_file
from hybridvmm.asm.expr import Expr, ExprError
from hybridvmm.errors import AsmError
from hybridvmm.image import FLAG_CODE, FLAG_DATA, FLAG_WRITE
from hybridvmm.isa import Decoder, load_isa


def text(image) -> bytes:
    return bytes(image.sections[0].data)


def decode_all(image, isa="pgm"):
    dec = Decoder(load_isa(isa))
    sec = image.sections[0]
    out, off = [], 0
    while off < len(sec.data):
        ins = dec.decode(sec.data, sec.address + off, off)
        out.append(ins)
        off += ins.length
    return out


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("-7 / 2", -3), ("-7 % 2", -1), ("7 % -2", 1),
        ("1 << 4 >> 2", 4), ("0xf0 | 0x0f & 0x3c", 0xFC), ("6 ^ 3 | 8", 13), ("~0 & 0xff", 255),
        ("- -3", 3), ("-(2 + 3)", -5), ("0b101 + 0o17 + 0x1_0 + 1_000", 5 + 15 + 16 + 1000),
        ("'a'", 97), ("'\\n'", 10), ("'\\0'", 0), ("'\\\\'", 92), ("'\\''", 39), ("' '", 32),
        ("'\\x41'", 65), ("1 + 2 == 3".replace(" == 3", ""), 3), ("10 - 2 - 3", 5), ("100 / 10 / 5", 2),
    ],
)
def test_expressions(expr, value):
    assert Expr.parse(expr).evaluate(lambda n: 0, 0) == value


@pytest.mark.parametrize("bad", ["", "1 +", "(1", "1 2", "'ab'", "12abc", "1 @ 2", "1)"])
def test_bad_expressions(bad):
    with pytest.raises(ExprError):
        Expr.parse(bad)


def test_labels_constants_and_dot():
    img = assemble(
        "a: b:   c: nop\n"
        "        .equ FOUR, 4\n"
        "LATE = fwd - a\n"
        "here:   .word ., here, FOUR * 2, LATE, after_equ\n"
        "after_equ = . + 1\n"
        "fwd:    NOP\n",
        "pgm",
    )
    assert img.symbols == {"a": 0x100, "b": 0x100, "c": 0x100, "here": 0x102, "fwd": 0x116}
    words = [int.from_bytes(text(img)[2 + 4 * i:6 + 4 * i], "little") for i in range(5)]
    assert words == [0x102, 0x102, 8, 0x16, 0x117]


def test_mnemonics_case_insensitive_and_flexible_spacing():
    a = assemble("ADDI r1,r2,-1\nLd   r3 ,  4 ( r4 )\nMOV R1 , SP\n", "pgm")
    b = assemble("addi r1, r2, -1\nld r3, 4(r4)\nmov r1, r15\n", "pgm")
    assert text(a) == text(b)


def test_comments_and_quotes():
    img = assemble(".ascii \"a#b;c\" # comment\n.byte ';', '#' ; another\n", "pgm")
    assert text(img) == b"a#b;c;#"


def test_string_escapes_and_asciz():
    img = assemble('.asciz "\\t\\n\\r\\0\\\\\\"\\x7f\\101\\e", "é"\n', "pgm")
    assert text(img) == b"\t\n\r\0\\\"\x7fA\x1b\0" + "é".encode() + b"\0"


def test_data_directives_little_endian_and_signed():
    img = assemble(".byte -1, 255, 'z'\n.half -2, 0xbeef\n.word -1, 0x12345678\n", "pgm")
    assert text(img) == bytes([0xFF, 0xFF, 0x7A, 0xFE, 0xFF, 0xEF, 0xBE]) + b"\xff" * 4 + bytes.fromhex("78563412")


def test_align_p2align_space_org():
    img = assemble("nop\n.align 8\nx: nop\n.p2align 4, 0xaa\ny: .space 3, 7\n.org 0x120\nz: halt\n", "pgm")
    assert img.symbols == {"x": 0x108, "y": 0x110, "z": 0x120}
    data = text(img)
    assert data[2:8] == b"\0" * 6 and data[10:16] == b"\xaa" * 6 and data[16:19] == b"\7\7\7"
    assert data[19:32] == b"\0" * 13


def test_text_origin_defaults_to_load_address_or_zero():
    assert assemble("nop\n", "pgm").sections[0].address == 0x100  # pgm: system.load_address
    assert assemble("addi zero,zero,0\n", "rv32").sections[0].address == 0  # no load address
    assert assemble(".org 0x40\nnop\n", "pgm").sections[0].address == 0x40
    assert assemble("start: .org 0x200\nnop\n", "pgm").symbols["start"] == 0x200


def test_sections_placement_and_flags():
    img = assemble(
        "nop\n.data\nd: .byte 1\n.section .bss\nb: .space 4\n.section io\n.org 0x9000\nio: .word 0\n"
        ".text\nhalt\n.data\n.byte 2\n",
        "pgm",
    )
    secs = {s.name: s for s in img.sections}
    assert (secs["text"].address, bytes(secs["text"].data)) == (0x100, bytes.fromhex("00010002"))
    assert (secs["data"].address, bytes(secs["data"].data)) == (0x104, b"\1\2")
    assert secs["bss"].address == 0x108
    assert secs["io"].address == 0x9000
    assert secs["text"].flags == FLAG_CODE
    assert secs["data"].flags == secs["bss"].flags == secs["io"].flags == FLAG_DATA | FLAG_WRITE
    assert img.symbols == {"d": 0x104, "b": 0x108, "io": 0x9000}


def test_floating_section_keeps_its_alignment():
    img = assemble("nop\n.data\n.byte 1\n.align 16\nx: .byte 2\n", "pgm")
    data = img.sections[1]
    assert data.address % 16 == 0 and img.symbols["x"] % 16 == 0


def test_entry_rules():
    assert assemble("nop\nstart: halt\n", "pgm").entry == 0x102
    assert assemble("nop\nstart: nop\n_start: halt\n", "pgm").entry == 0x104
    assert assemble("nop\nmain: halt\n.entry main\n", "pgm").entry == 0x102
    assert assemble(".org 0x300\nnop\n", "pgm").entry == 0x300


def test_isa_directive(tmp_path):
    src = tmp_path / "p.s"
    src.write_text("; header\n.isa pgm-x86\nnop\n")
    assert assemble_file(src).isa == "pgm-x86"
    assert assemble_file(src, "pgm-virt").isa == "pgm-virt"  # the command line wins


def test_pcrel_and_absolute_operands():
    img = assemble("back: nop\nbr back\nbr fwd\njmp fwd\ncall 0xffffffff\nfwd: halt\n", "pgm")
    ins = decode_all(img)
    assert [i.target for i in ins[1:5]] == [0x100, 0x116, 0x116, 0xFFFFFFFF]
    assert ins[1].operands["rel"] == -2


def test_pcrel_wraps_around_the_address_space():
    img = assemble(".org 0x10\nbr 0xfffffff0\n", "pgm")
    assert decode_all(img)[0].operands["rel"] == -0x20


def test_wrap_field_takes_negative_and_unsigned():
    a = assemble("movl r1, -1\nmovl r2, 0xffffffff\n", "pgm")
    assert text(a)[2:6] == text(a)[8:12] == b"\xff" * 4
    with pytest.raises(AsmError, match="out of range"):
        assemble("movl r1, 0x100000000\n", "pgm")


def test_aliases_expand():
    img = assemble("inc r3\ndec r4\nclr r5\n", "pgm")
    assert [i.name for i in decode_all(img)] == ["addi", "addi", "xor"]
    rv = assemble("nop\nmv a0,a1\nnot a2,a3\nneg a4,a5\nj 0\njr t0\nret\nbeqz a0,0\nbnez a1,0\ncsrr a0,mstatus\ncsrw mtvec,t0\n", "rv32")
    names = [i.name for i in decode_all(rv, "rv32")]
    assert names == ["addi", "addi", "xori", "sub", "jal", "jalr", "jalr", "beq", "bne", "csrrs", "csrrw"]


def test_rv32_operand_kinds():
    ins = decode_all(assemble(
        "csrrw a0,mstatus,a1\ncsrrs a0,0x7c0,zero\ncsrrs a0,0x300+1,zero\nfence rw,wr\nfence 0,iorw\n"
        "lw a0,(a1)\nlw x10,-4(x2)\naddi fp,s0,0\n",
        "rv32",
    ), "rv32")
    assert ins[0].operands["csr"] == 0x300 and ins[1].operands["csr"] == 0x7C0 and ins[2].operands["csr"] == 0x301
    assert (ins[3].operands["pred"], ins[3].operands["succ"]) == (3, 3)
    assert (ins[4].operands["pred"], ins[4].operands["succ"]) == (0, 15)
    assert ins[5].operands == {"rd": 10, "rs1": 11, "imm_i": 0}
    assert ins[6].operands == {"rd": 10, "rs1": 2, "imm_i": -4}
    assert ins[7].operands["rd"] == ins[7].operands["rs1"] == 8


def test_rv32_branch_limits():
    ok = assemble("b: beq a0,a1,b+4094\nbeq a0,a1,b-4096+4\n", "rv32")
    ins = decode_all(ok, "rv32")
    assert ins[0].operands["imm_b"] == 4094 and ins[1].operands["imm_b"] == -4096
    with pytest.raises(AsmError, match=r"-4096\.\.4094"):
        assemble("b: beq a0,a1,b+4096\n", "rv32")
    with pytest.raises(AsmError, match=r"-1048576\.\.1048574"):
        assemble("b: jal ra,b-1048578\n", "rv32")


def test_first_error_is_reported_with_file_and_line():
    with pytest.raises(AsmError) as info:
        assemble("nop\nnop\nbogus\nalso bogus\n", "pgm", "prog.s")
    assert (info.value.filename, info.value.line) == ("prog.s", 3)
    assert str(info.value).startswith("prog.s:3: unknown mnemonic 'bogus'")


def test_guest_layout_with_vectors_below_the_code():
    """A guest that lays out its PSW area and trap vectors from 0, then code at 0x100."""
    img = assemble(
        ".isa pgm\n"
        "        .org 0\n"
        "old_psw: .space 16\n"
        "        .org 0x20\n"
        "vectors: .word 0, handler, 0, 0x10000   # cause 0 (unused)\n"
        "        .word 0, handler, 0, 0x10000\n"
        "        .org 0x100\n"
        "_start: movi r1, 'h'\n"
        "        out r1, 0\n"
        "        svc 1\n"
        "        halt\n"
        "handler: rti\n"
        ".data\n"
        "count: .word 0\n",
        "pgm",
    )
    text_sec, data_sec = img.sections
    assert (text_sec.address, img.entry) == (0, 0x100)
    assert img.symbols["handler"] == 0x10A and img.symbols["vectors"] == 0x20
    assert text_sec.data[0x24:0x28] == (0x10A).to_bytes(4, "little")
    assert data_sec.address == 0x10C


def test_section_flags_as_gnu_writes_them():
    image = assemble(
        ".text\n nop\n.section task, \"awx\"\n nop\n.section table\n .word 1\n.section ro, \"a\"\n .byte 2\n",
        "pgm",
    )
    flags = {s.name: s.flags for s in image.sections}
    assert flags == {
        "text": FLAG_CODE,
        "task": FLAG_CODE | FLAG_DATA | FLAG_WRITE,
        "table": FLAG_DATA | FLAG_WRITE,
        "ro": FLAG_DATA,
    }


@pytest.mark.parametrize("bad, message", [
    ('.section s, "rwz"\n', "bad section flags"),
    ('.section s, "x"\n nop\n.section s, "w"\n', "was given other flags before"),
])
def test_bad_section_flags(bad, message):
    with pytest.raises(AsmError, match=message):
        assemble(bad, "pgm")


def test_guest_task_sections_are_code_from_their_source():
    from hybridvmm.guests import build_guest

    flags = {s.name: s.flags for s in build_guest("minios", small=True).sections}
    assert flags["alpha"] == flags["spinner"] == FLAG_CODE | FLAG_DATA | FLAG_WRITE
