"""Failures the fuzzer found (``scripts/fuzz.py``), each kept as a regression test."""

from __future__ import annotations

import pytest


def one_line_error(r) -> bool:
    return r.code == 2 and r.err.count("\n") == 1 and r.err.startswith("hybridvmm") and "Traceback" not in r.err


@pytest.mark.parametrize("argv", [["unpatch", ""], ["patch", "."], ["unpatch", "."]])
def test_an_image_argument_without_a_file_name_is_one_line(cli, argv):
    """``unpatch ''`` derived its default output from an empty name: ValueError."""
    r = cli(*argv)
    assert one_line_error(r) and "not a file name" in r.err


def test_compare_with_no_instruction_run_prints_its_table(cli):
    """``compare --max-steps 0``: no slowdown to print (None), the table raised TypeError."""
    r = cli("compare", "guest:syscalls:small", "--max-steps", "0")
    assert r.code == 0 and "Traceback" not in r.err
    assert all(line.split()[-2] == "-" for line in r.out.splitlines()[2:7])  # the simulated slowdown


@pytest.mark.parametrize("source", [
    "  nop\n  .org 0x80002000\n  .word 1\n",  # a runaway .org: 2 GiB of fill, 8 GB of memory, half a minute
    "  .space 0x7fffffff\n",
    "  .org 0x100\n  .align 30\n  nop\n",
])
def test_a_runaway_section_is_a_source_error_not_gigabytes(cli, tmp_path, source):
    src = tmp_path / "big.s"
    src.write_text(source)
    r = cli("asm", str(src), "--isa", "rv32", "-o", str(tmp_path / "big.img"))
    assert r.code == 2 and "a section holds at most 0x10000000 (256 MiB)" in r.err
    assert not (tmp_path / "big.img").exists()


def _overlapping_image(tmp_path, name: str):
    from hybridvmm.image import Image, Section

    path = tmp_path / "prog.img"
    path.write_bytes(Image("pgm", 0x100, [Section("text", 0x100, bytearray(8)), Section(name, 0x104, bytearray(8))]).to_bytes())
    return path


@pytest.mark.parametrize("name", ["a\rb", "x\x1ey", "\x0c", "line\u2028break", "nl\n"])
def test_an_error_naming_a_section_with_a_line_break_stays_one_line(cli, tmp_path, name):
    """A section name is the file's to choose: printed raw, '\\r' or '\\x1e' split the error."""
    r = cli("disasm", str(_overlapping_image(tmp_path, name)))
    assert one_line_error(r) and "overlap" in r.err and name not in r.err


def test_a_source_with_control_characters_keeps_its_line_numbers_and_one_line_per_error(cli, tmp_path):
    """Form feeds split lines for str.splitlines (not for an editor or GNU as): errors were
    reported on lines the file does not have; a BEL in a mnemonic was printed raw."""
    src = tmp_path / "bad.s"
    src.write_bytes(b".isa pgm\n  nop \x0c\n  bogus r1\n  fo\x07o r1\n")
    r = cli("asm", str(src), "-o", str(tmp_path / "x.img"))
    assert r.code == 2 and r.err.count("\n") == 2
    assert "bad.s:3: unknown mnemonic 'bogus'" in r.err and "bad.s:4: cannot read 'fo\\x07o r1'" in r.err


@pytest.mark.parametrize("command", [["scan", "{link}", "--dot", "{link}"], ["unpatch", "{link}", "-o", "{link}"],
                                     ["patch", "{link}", "-o", "{link}"], ["run", "{link}", "--dump", "{link}"]])
def test_a_symlink_named_as_the_input_is_not_replaced_by_the_output(cli, tmp_path, command):
    """``scan link.img --dot link.img --force`` turned the user's link into a DOT file."""
    from hybridvmm.asm import assemble

    target = tmp_path / "prog.img"
    target.write_bytes(assemble("halt\n", "pgm", "x.s").to_bytes())
    link = tmp_path / "link.img"
    link.symlink_to(target.name)
    r = cli(*[a.format(link=link) for a in command], "--force")
    assert one_line_error(r) and "refusing to overwrite a file this command reads" in r.err
    assert link.is_symlink() and target.read_bytes().startswith(b"HVMI")


@pytest.mark.parametrize("argv, message", [
    (["patch", "{raw}", "--isa", "pgm", "--base", "-1", "-o", "{tmp}/p.img"], "--base -0x1: not an address of pgm"),
    (["patch", "{raw}", "--isa", "pgm", "--base", "0", "--entry", "-1", "-o", "{tmp}/p.img"], "--entry -0x1"),
    (["info", "{raw}", "--isa", "pgm", "--base", "0x100000000"], "--base 0x100000000: not an address of pgm"),
    (["disasm", "{raw}", "--isa", "pgm", "--base", "0xffffffff"], "run past the end of pgm's address space"),
    (["run", "guest:syscalls:small", "--entry", "0x100000000"], "--entry 0x100000000: not an address of pgm-x86"),
])
def test_an_address_option_outside_the_address_space_is_one_line(cli, tmp_path, argv, message):
    """``patch raw --base -1`` built an image with a negative address: construct raised."""
    raw = tmp_path / "code.bin"
    raw.write_bytes(b"\x00\x02\x00\x02")
    r = cli(*[a.format(raw=raw, tmp=tmp_path) for a in argv])
    assert one_line_error(r) and message in r.err
    assert not (tmp_path / "p.img").exists()


def test_an_elf_section_flagged_compressed_with_garbage_is_one_line(cli, tmp_path):
    """pyelftools inflates a SHF_COMPRESSED section with zlib; its zlib.error escaped."""
    import struct
    from pathlib import Path

    data = bytearray((Path(__file__).resolve().parents[2] / "tests/data/riscv-tests/elf/rv32ui-p-simple").read_bytes())
    shoff, = struct.unpack_from("<I", data, 0x20)
    shnum, = struct.unpack_from("<H", data, 0x30)
    for i in range(shnum):
        flags_at = shoff + 40 * i + 8
        if struct.unpack_from("<I", data, flags_at)[0] & 4:  # SHF_EXECINSTR: .text
            struct.pack_into("<I", data, flags_at, struct.unpack_from("<I", data, flags_at)[0] | 0x800)  # SHF_COMPRESSED
            offset, = struct.unpack_from("<I", data, shoff + 40 * i + 16)
            struct.pack_into("<III", data, offset, 1, 0x100, 4)  # Elf32_Chdr: ELFCOMPRESS_ZLIB; then code, not zlib
    elf = tmp_path / "bad.elf"
    elf.write_bytes(bytes(data))
    for command in ("info", "disasm", "run"):
        r = cli(command, str(elf))
        assert one_line_error(r) and "corrupt ELF" in r.err, r.err


@pytest.mark.parametrize("expression, message", [
    ("(" * 5000 + "1" + ")" * 5000, "expression of 10001 tokens is too long (at most 256)"),
    ("(" * 100 + "1" + ")" * 100, "nested more than 32 deep"),
    ("-" * 200 + "1", "nested more than 32 deep"),
    ("+".join(["1"] * 20000), "expression of 39999 tokens is too long (at most 256)"),
])
def test_a_pathological_expression_is_a_source_error_not_a_recursion_error(cli, tmp_path, expression, message):
    """Deep nesting or a 20,000-term sum overflowed Python's stack (RecursionError, traceback)."""
    src = tmp_path / "deep.s"
    src.write_text(f".isa pgm\n  .word {expression}\n")
    r = cli("asm", str(src), "-o", str(tmp_path / "x.img"))
    assert r.code == 2 and r.err.count("\n") == 1 and message in r.err and len(r.err) < 300


def test_values_squared_line_after_line_stay_bounded(cli, tmp_path):
    """.equ chains squaring a value grow it to billions of bits within 40 lines."""
    src = tmp_path / "sq.s"
    src.write_text("\n".join([".isa pgm", ".equ x0, 0xffffffff"] + [f".equ x{i}, x{i - 1}*x{i - 1}" for i in range(1, 40)]
                             + ["  .word x39"]) + "\n")
    r = cli("asm", str(src), "-o", str(tmp_path / "x.img"))
    assert r.code == 2 and "too large (at most 512)" in r.err


def test_an_elf_section_name_of_multibyte_characters_fits_the_image(cli, tmp_path):
    """A corrupt ELF string table (tests/data/fuzz/, the fuzzer's case) gave a segment the
    name of its sections cut to 255 *characters*, 329 bytes in UTF-8: ``patch`` failed deep
    in the image builder (FormatFieldError).  Names are cut to 255 bytes; what the container
    cannot hold is one ImageError; and the patched image is named as an image."""
    import shutil
    from pathlib import Path

    from hybridvmm.image import SECTION_NAME_BYTES, Image, Section, fit_name

    case = Path(__file__).resolve().parents[1] / "data" / "fuzz" / "multibyte-section-name.elf"
    shutil.copy(case, tmp_path / "prog.elf")
    r = cli("patch", str(tmp_path / "prog.elf"))
    assert r.code == 0, r.err
    patched = Image.from_bytes((tmp_path / "prog.patched.img").read_bytes())
    assert patched.isa == "rv32" and all(len(s.name.encode()) <= SECTION_NAME_BYTES for s in patched.sections)
    assert fit_name("é" * 200) == "é" * 127  # 254 bytes: the 128th character would not fit whole
    long_name = Image("pgm", 0x100, [Section("é" * 200, 0x100, bytearray(4))])
    with pytest.raises(Exception, match="section name 'é.*' is 400 bytes; an image holds section names of at most 255 bytes"):
        long_name.to_bytes()
