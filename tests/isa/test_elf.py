"""ELF input: segments, entry and symbols of the vendored riscv-tests, the CLI taking ELFs
everywhere, and a one-line error for every malformed ELF (fuzzed)."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hybridvmm.elf import load_elf, read_elf
from hybridvmm.errors import ImageError, UserError
from hybridvmm.image import FLAG_CODE, FLAG_DATA, FLAG_WRITE
from hybridvmm.loading import load_program

SUITE = Path(__file__).resolve().parents[1] / "data" / "riscv-tests"
ELF_DIR = SUITE / "elf"
P_ADD = ELF_DIR / "rv32ui-p-add"
V_ADD = ELF_DIR / "rv32ui-v-add"


def test_vendored_suite_matches_its_manifest():
    rows = [line.split("\t") for line in (SUITE / "MANIFEST.tsv").read_text().splitlines()[1:] if line]
    assert len(rows) == 142
    for name, _env, size, _insns, sha in rows:
        data = (ELF_DIR / name).read_bytes()
        assert len(data) == int(size), name
        assert hashlib.sha256(data).hexdigest() == sha, name
    assert sorted(p.name for p in ELF_DIR.iterdir()) == sorted(r[0] for r in rows)
    assert (SUITE / "LICENSE").read_text().startswith("Copyright")


def test_p_environment_segments_entry_and_symbols():
    image = load_elf(P_ADD.read_bytes(), str(P_ADD))
    assert image.isa == "rv32"
    assert image.entry == 0x80000000
    assert [(s.name, s.address, len(s.data), s.flags) for s in image.sections] == [
        (".text.init", 0x80000000, 0x6BC, FLAG_CODE | FLAG_DATA),
        (".tohost", 0x80001000, 0x48, FLAG_DATA | FLAG_WRITE),
    ]
    assert image.read(0x80000000, 4) == bytes.fromhex("6f000005")  # jal zero,80000050
    sym = image.symbols
    assert sym["_start"] == 0x80000000
    assert sym["tohost"] == 0x80001000 and sym["fromhost"] == 0x80001040
    assert sym["begin_signature"] == sym["end_signature"] == 0x80002000
    assert sym["test_2"] == 0x8000018C
    assert not [n for n in sym if n.startswith("$") or n.endswith(".o")]  # no mapping or file symbols


def test_v_environment_zero_fills_up_to_memsz():
    program = read_elf(V_ADD.read_bytes(), str(V_ADD))
    image = program.image
    seg = image.sections[1]
    assert seg.address == 0x80001000 and len(seg.data) == 0x6008  # p_memsz, not p_filesz 0x2134
    assert seg.flags == FLAG_CODE | FLAG_DATA | FLAG_WRITE
    assert seg.name == ".tohost+.text+.rodata.str1.4+.bss+.sbss"
    assert bytes(seg.data[0x2134:]) == bytes(0x6008 - 0x2134)
    assert image.symbols["userstart"] == 0x80002A40 and image.symbols["pt"] == 0x80005000
    assert [s.name for s in program.sections if s.executable] == [".text.init", ".text"]
    assert program.file_format == "elf32-littleriscv"


def test_the_whole_suite_loads():
    for path in sorted(ELF_DIR.iterdir()):
        image = load_program(str(path))
        assert image.isa == "rv32" and image.entry == 0x80000000 and "tohost" in image.symbols, path.name


def test_cli_takes_elf_files_everywhere(cli):
    r = cli("info", str(P_ADD))
    assert r.code == 0 and "isa      rv32" in r.out and "tohost" in r.out
    r = cli("disasm", str(P_ADD))
    assert r.code == 0 and "80000000: 6f000005  jal zero,80000050 <reset_vector>" in r.out
    r = cli("scan", str(P_ADD))
    assert r.code == 0 and "0 sensitive sites" in r.out


def test_isa_option_confirms_the_family_and_base_is_refused(cli):
    assert cli("info", str(P_ADD), "--isa", "rv32").code == 0
    r = cli("disasm", str(P_ADD), "--isa", "rv32", "--base", "0")
    assert r.code == 2 and "--base applies to raw binaries only; this is an ELF file" in r.err
    for command in ("info", "disasm", "scan"):
        r = cli(command, str(P_ADD), "--isa", "pgm")
        assert r.code == 2 and r.err.count("\n") == 1
        assert "an ELF for rv32; --isa pgm is not rv32 or a variant of it" in r.err


def test_isa_option_may_choose_a_variant_of_the_family(cli, tmp_path):
    variant = tmp_path / "rv32-strict.toml"
    variant.write_text('[isa]\nname = "rv32-strict"\nextends = "rv32"\ndescription = "rv32, for a test"\n')
    r = cli("disasm", str(P_ADD), "--isa", str(variant), "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["isa"] == "rv32-strict"
    r = cli("info", str(P_ADD), "--isa", str(variant), "--json")  # info describes the file: its own ISA
    assert r.code == 0 and json.loads(r.out)["isa"] == "rv32"


def _patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def _without_loads(data: bytes) -> bytes:
    phoff, = struct.unpack_from("<I", data, 0x1C)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x2A)
    out = bytearray(data)
    for i in range(phnum):
        if struct.unpack_from("<I", out, phoff + i * phentsize)[0] == 1:  # PT_LOAD
            struct.pack_into("<I", out, phoff + i * phentsize, 0)  # PT_NULL
    return bytes(out)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d[:10], "truncated ELF"),
        (lambda d: d[:600], "truncated or corrupt ELF"),
        (lambda d: d[: len(d) // 2], "truncated"),
        (lambda d: d[:4] + b"\x07" + d[5:], "class byte 7"),
        (lambda d: _patched(d, 0x12, "<H", 3), "an ELF32 file for EM_386; only RISC-V (EM_RISCV, ELFCLASS32 or ELFCLASS64)"),
        (lambda d: d[:4] + b"\x02" + d[5:], "truncated or corrupt ELF"),  # ELF32 headers read as ELF64
        (_without_loads, "no loadable segment"),
        (lambda d: _patched(d, 0x1C, "<I", 0xFFFFFF00), "corrupt ELF"),
        (lambda d: _patched(d, 0x34 + 0x20 + 0x14, "<I", 0x7FFFFFFF), "claims 0x7fffffff bytes"),  # 2nd phdr's p_memsz
        (lambda d: _patched(d, 0x10, "<H", 1), "type ET_REL, not an executable"),
    ],
)
def test_bad_elves_are_one_line_user_errors(tmp_path, cli, mutate, message):
    path = tmp_path / "bad.elf"
    path.write_bytes(mutate(P_ADD.read_bytes()))
    r = cli("info", str(path))
    assert r.code == 2
    assert r.err.count("\n") == 1 and "Traceback" not in r.err
    assert message in r.err


_REAL = P_ADD.read_bytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut=st.integers(min_value=0, max_value=len(_REAL)),
    flips=st.lists(st.tuples(st.integers(0, len(_REAL) - 1), st.integers(1, 255)), max_size=6),
    header_flips=st.lists(st.tuples(st.integers(0, 0x34 + 3 * 0x20 - 1), st.integers(1, 255)), max_size=4),
)
def test_fuzzed_elves_never_raise_anything_but_user_errors(cut, flips, header_flips):
    data = bytearray(_REAL)
    for offset, mask in flips + header_flips:
        data[offset] ^= mask
    data = bytes(data[:cut]) if cut < len(_REAL) // 2 else bytes(data)
    try:
        image = load_elf(data, "fuzz.elf")
    except UserError as exc:
        assert "\n" not in str(exc)
        return
    assert image.sections and all(len(s.data) <= 256 << 20 for s in image.sections)


def test_image_error_is_a_user_error():
    with pytest.raises(ImageError, match="not an ELF file"):
        load_elf(b"HVMI....", "x")


def test_isa_strings_name_their_extensions():
    from hybridvmm.elf import arch_extensions

    assert arch_extensions("rv32i2p1_m2p0_a2p1_c2p0_zicsr2p0_zifencei2p0") == {"i", "m", "a", "c", "zicsr", "zifencei"}
    assert arch_extensions("rv32imac") == {"i", "m", "a", "c"}
    assert arch_extensions("") == set() and arch_extensions("x86") == set()
    assert read_elf(P_ADD.read_bytes()).arch.startswith("rv32i2p1_m2p0_a2p1")
