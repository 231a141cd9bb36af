"""rv64: what it shares with rv32 and what it changes, ``[isa] drop``, ELF64 input (all
193 RV64 riscv-tests load as rv64 and scan), and the rule that ``--isa`` may not change a
program's word size (a 32-bit hart "passes" every rv64 p test without running it)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from hybridvmm.asm import assemble
from hybridvmm.errors import DecodeError, SpecError
from hybridvmm.isa import Decoder, load_isa
from hybridvmm.loading import load_program
from hybridvmm.scan import scan_program

SUITE = Path(__file__).resolve().parents[1] / "data" / "riscv-tests"
ELF64 = sorted((SUITE / "elf64").iterdir())
P_ADD64 = SUITE / "elf64" / "rv64ui-p-add"
P_ADD32 = SUITE / "elf" / "rv32ui-p-add"
RV32, RV64 = load_isa("rv32"), load_isa("rv64")
WIDENED = {"slli", "srli", "srai"}
"""rv32 instructions whose encoding RV64 changes: bit 25 joins the shift amount."""


def test_rv64_is_rv32_at_xlen_64():
    assert RV64.lineage == ("rv64", "rv32") and RV64.extends == "rv32"
    assert (RV64.word_bits, RV32.word_bits) == (64, 32)
    assert len(RV64.instructions) == 165 and len(RV32.instructions) == 104
    for name, ins in RV32.instructions.items():
        mine = RV64.instructions[name]
        assert mine.asm == ins.asm and mine.classes == ins.classes and mine.flow_rules == ins.flow_rules, name
        if name in WIDENED:
            assert (mine.mask, mine.match) == (ins.mask & ~(1 << 25), ins.match), name
        else:
            assert (mine.mask, mine.match) == (ins.mask, ins.match), name
    assert RV64.fields["shamt"].width == 6 and RV64.fields["shamtw"].width == 5
    assert RV64.registers["gpr"].names == RV32.registers["gpr"].names and RV64.csrs == RV32.csrs
    assert set(RV32.aliases) - set(RV64.aliases) == {"rdcycleh", "rdtimeh", "rdinstreth"}
    assert {"sext.w", "negw"} <= {a.mnemonic for a in RV64.aliases.values()}
    assert RV64.system["asm"]["align"] == RV32.system["asm"]["align"]  # [system] merges key by key


def test_a_six_bit_shift_and_a_word_shift():
    dec = Decoder(RV64)
    slli = dec.decode(bytes.fromhex("1315f503"), 0)  # slli a0,a0,0x3f
    assert (slli.name, slli.operands["shamt"]) == ("slli", 63)
    with pytest.raises(DecodeError):
        Decoder(RV32).decode(bytes.fromhex("1315f503"), 0)  # shamt[5] set: not an rv32 instruction
    with pytest.raises(DecodeError):
        dec.decode(bytes.fromhex("1b15f503"), 0)  # slliw with shamt[5] set: none on RV64 either


def _variant(tmp_path: Path, drop: str) -> Path:
    path = tmp_path / "v.toml"
    path.write_text(f'[isa]\nname = "v"\nextends = "rv32"\ndescription = "a test"\ndrop = {drop}\n')
    return path


def test_drop_removes_what_the_base_has(tmp_path):
    isa = load_isa(str(_variant(tmp_path, '{ aliases = ["nop", "mv"], csrs = ["cycleh"] }')))
    assert "nop" not in isa.aliases and "mv" not in isa.aliases and "not" in isa.aliases
    assert "cycleh" not in isa.csrs and "cycle" in isa.csrs


@pytest.mark.parametrize("drop, message", [
    ('{ aliases = ["nope"] }', "v.toml:5: drop names aliases.nope, which the base spec does not have"),
    ('{ registers_x = ["gpr"] }', "drop names table [registers_x], which the base spec does not have"),
    ("5", "drop must be a table of lists of names"),
    ('{ aliases = "nop" }', "drop must be a table of lists of names"),
])
def test_a_bad_drop_is_a_spec_error(tmp_path, drop, message):
    with pytest.raises(SpecError) as info:
        load_isa(str(_variant(tmp_path, drop)))
    assert message in str(info.value)


def test_the_rv64_suite_matches_its_manifest_and_loads_as_rv64():
    rows = [line.split("\t") for line in (SUITE / "MANIFEST64.tsv").read_text().splitlines()[1:] if line]
    assert len(rows) == len(ELF64) == 193
    for (name, _env, size, _insns, sha), path in zip(sorted(rows), ELF64):
        data = path.read_bytes()
        assert path.name == name and len(data) == int(size) and hashlib.sha256(data).hexdigest() == sha, name
        image = load_program(str(path))
        assert image.isa == "rv64" and image.entry == 0x80000000 and "tohost" in image.symbols, name


def test_info_on_an_elf64(cli):
    r = cli("info", str(P_ADD64), "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["isa"] == "rv64" and data["entry"] == 0x80000000
    r = cli("disasm", "--style", "objdump", str(P_ADD64))
    assert r.code == 0 and "file format elf64-littleriscv" in r.out


@pytest.mark.parametrize("command", ["info", "disasm", "scan", "run"])
def test_isa_may_not_change_the_word_size(cli, command):
    r = cli(command, str(P_ADD64), "--isa", "rv32")
    assert r.code == 2 and r.err.count("\n") == 1
    assert "an ELF for rv64 (64-bit); --isa rv32 is a 32-bit ISA" in r.err
    r = cli(command, str(P_ADD32), "--isa", "rv64")
    assert r.code == 2 and r.err.count("\n") == 1
    assert "an ELF for rv32 (32-bit); --isa rv64 is a 64-bit ISA" in r.err


def test_an_image_keeps_its_word_size_and_a_variant_of_rv64_is_accepted(cli, tmp_path):
    image = tmp_path / "w.img"
    assemble(".org 0x80000000\nli a0, 0x123456789\nebreak\n", "rv64").save(image)
    r = cli("info", str(image), "--isa", "rv32")
    assert r.code == 2 and "an image for rv64 (64-bit); --isa rv32 is a 32-bit ISA" in r.err
    variant = tmp_path / "rv64-mine.toml"
    variant.write_text('[isa]\nname = "rv64-mine"\nextends = "rv64"\ndescription = "a test"\n')
    r = cli("disasm", str(P_ADD64), "--isa", str(variant), "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["isa"] == "rv64-mine"


WIDE = """
.org 0x80000000
_start:
    li a0, 0x100000000
    srli a0, a0, 31          # 2 only where registers hold 64 bits
    addi a0, a0, -1          # 1: pass
    la t0, tohost
    sd a0, 0(t0)
    li a1, 3                 # otherwise this write is the first: test 1 failed
    sw a1, 0(t0)
1:  j 1b
.org 0x80001000
tohost: .8byte 0
"""


def test_an_rv64_program_never_runs_on_a_32_bit_hart(cli, tmp_path):
    """Running rv64 code gives a 64-bit result or a one-line refusal, never a 32-bit run."""
    image = tmp_path / "wide.img"
    assemble(WIDE, "rv64").save(image)
    r = cli("run", str(image))
    assert (r.code == 0 and r.err == "") or (r.code == 2 and r.err.count("\n") == 1), (r.code, r.err)


def test_every_rv64_elf_scans_without_sensitive_unprivileged_sites():
    """The scanner is ISA-agnostic: the declared classes, the mtvec/mepc roots and the
    data-flow facts at 64 bits find every handler and test body, as on rv32."""
    unresolved = {}
    for path in ELF64:
        image = load_program(str(path))
        roots = [s for s in ("userstart", "trap_entry") if s in image.symbols]  # v: reached through a trap frame
        scanned = scan_program(image, roots=roots)
        sc = scanned.main
        assert scanned.sites == [] and len(sc.cfg.blocks) >= 20, path.name
        assert "mtvec" in {name for kind, name in sc.roots.values() if kind == "vector"}, path.name
        for symbol in ("trap_vector", "mtvec_handler", "stvec_handler", "trap_entry", "test_2"):
            address = image.symbols.get(symbol)
            assert address is None or address in sc.cfg.instructions, (path.name, symbol)
        if "-p-" in path.name:
            assert any(kind == "trap-return" for kind, _ in sc.roots.values()), path.name
        if sc.unresolved():
            unresolved[path.name] = len(sc.unresolved())
    # rv64si-p-icache-alias's M-mode handler returns with `jalr zero,0(a2)`, a2 set before the trap
    assert unresolved == {"rv64si-p-icache-alias": 1}
