"""The image container: round trip, patch table, and clear errors on bad files."""

from __future__ import annotations

import pytest

from hybridvmm.errors import ImageError, UnknownISAError, UserError
from hybridvmm.image import FLAG_CODE, FLAG_DATA, Image, PatchRecord, Section, raw_image
from hybridvmm.loading import load_program


def sample() -> Image:
    return Image(
        isa="pgm-x86",
        entry=0x100,
        sections=[Section("text", 0x100, bytearray(b"\x01\x01\x02\x00"), FLAG_CODE), Section("data", 0x200, bytearray(b"hello"), FLAG_DATA)],
        symbols={"start": 0x100, "msg": 0x200},
        patches=[PatchRecord(0x102, b"\x07\x00", b"\x00\x09", "vmtrap")],
    )


def test_round_trip_keeps_everything():
    img = sample()
    back = Image.from_bytes(img.to_bytes())
    assert (back.isa, back.entry, back.symbols, back.patches) == (img.isa, img.entry, img.symbols, img.patches)
    assert [(s.name, s.address, bytes(s.data), s.flags) for s in back.sections] == [
        (s.name, s.address, bytes(s.data), s.flags) for s in img.sections
    ]


def test_read_and_write_stay_inside_sections():
    img = sample()
    assert img.read(0x102, 8) == b"\x02\x00"
    assert img.read(0x150, 2) == b""
    img.write(0x201, b"EL")
    assert bytes(img.sections[1].data) == b"hELlo"
    with pytest.raises(ImageError):
        img.write(0x204, b"xy")


@pytest.mark.parametrize("cut", [3, 10, 30, -5, -1])
def test_truncated_images_are_rejected(cut):
    data = sample().to_bytes()
    with pytest.raises(ImageError):
        Image.from_bytes(data[:cut])


def test_corrupt_byte_fails_the_checksum():
    data = bytearray(sample().to_bytes())
    data[len(data) // 2] ^= 0x40
    with pytest.raises(ImageError, match="checksum|corrupt"):
        Image.from_bytes(bytes(data))


def test_trailing_garbage_and_bad_magic():
    data = sample().to_bytes()
    with pytest.raises(ImageError, match="trailing"):
        Image.from_bytes(data + b"x")
    with pytest.raises(ImageError, match="bad magic"):
        Image.from_bytes(b"ELF" + data[3:])


def test_overlapping_sections_are_corrupt():
    img = sample()
    img.sections.append(Section("evil", 0x102, bytearray(4)))
    with pytest.raises(ImageError, match="overlap"):
        Image.from_bytes(img.to_bytes(), source="x.img")


def test_load_program_image_raw_and_errors(tmp_path):
    path = tmp_path / "prog.img"
    sample().save(path)
    assert load_program(str(path)).entry == 0x100
    assert load_program(str(path), isa="pgm-virt").isa == "pgm-virt"
    raw = tmp_path / "prog.bin"
    raw.write_bytes(b"\x01\x01\x02\x00")
    img = load_program(str(raw), isa="pgm", base=0x400)
    assert (img.entry, img.sections[0].address, img.isa) == (0x400, 0x400, "pgm")
    assert load_program(str(raw), isa="pgm", base=0x400, entry=0x402).entry == 0x402
    with pytest.raises(ImageError, match="--isa NAME and --base ADDR"):
        load_program(str(raw))
    with pytest.raises(UnknownISAError):
        load_program(str(raw), isa="vax", base=0)
    with pytest.raises(UserError, match="no such file"):
        load_program(str(tmp_path / "missing.img"))


def test_raw_image_helper():
    img = raw_image(b"\x00" * 8, "rv32", 0x8000_0000)
    assert img.low == 0x8000_0000 and img.high == 0x8000_0008


def test_a_directory_is_not_a_program_or_a_source(tmp_path, cli):
    result = cli("info", str(tmp_path))
    assert result.code == 2 and "is a directory" in result.err
    result = cli("asm", str(tmp_path), "--isa", "pgm", "-o", str(tmp_path / "x.img"))
    assert result.code == 2 and "is a directory" in result.err and "Traceback" not in result.err
