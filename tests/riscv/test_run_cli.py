"""``run`` on RISC-V: the guest's own verdict as the exit status, and ``--signature``."""

from __future__ import annotations

from hybridvmm.asm import assemble

SIGNATURE = """
        .org 0x80000000
        .entry start
start:
        lui   s0, 0x80002
        lui   t0, 0xdeadc
        addi  t0, t0, -0x111
        sw    t0, 0(s0)
        addi  t0, zero, 10
        sw    t0, 4(s0)
        lui   t5, 0x100
        lui   t6, 5
        addi  t6, t6, 0x555
        sw    t6, 0(t5)
        .org 0x80002000
begin_signature:
        .word 0, 0, 0x12345678
end_signature:
"""


def test_signature_is_written_one_hex_word_per_line(cli, tmp_path):
    image = tmp_path / "sig.img"
    image.write_bytes(assemble(SIGNATURE, "rv32").to_bytes())
    out = tmp_path / "sig.txt"
    r = cli("run", str(image), "--signature", str(out))
    assert r.code == 0, r.err
    assert out.read_text() == "deadbeef\n0000000a\n12345678\n"


def test_signature_without_the_symbols_is_a_one_line_error(cli, tmp_path):
    image = tmp_path / "nosig.img"
    image.write_bytes(assemble(SIGNATURE.replace("begin_signature", "other"), "rv32").to_bytes())
    r = cli("run", str(image), "--signature", str(tmp_path / "x"))
    assert r.code == 2 and "begin_signature" in r.err and "Traceback" not in r.err


def test_signature_into_a_directory_is_a_one_line_error(cli, tmp_path):
    image = tmp_path / "sig.img"
    image.write_bytes(assemble(SIGNATURE, "rv32").to_bytes())
    r = cli("run", str(image), "--signature", str(tmp_path))
    assert r.code == 2 and "is a directory" in r.err


def test_a_section_outside_ram_is_a_one_line_error(cli, tmp_path):
    image = tmp_path / "low.img"
    image.write_bytes(assemble("        .org 0x1000\n        .entry start\nstart:\n        ebreak\n", "rv32").to_bytes())
    r = cli("run", str(image))
    assert r.code == 2 and "is not in RAM" in r.err and "Traceback" not in r.err


def test_a_guest_that_never_reports_stops_at_max_steps(cli, tmp_path):
    image = tmp_path / "spin.img"
    image.write_bytes(assemble("        .org 0x80000000\n        .entry s\ns:\n        jal zero, s\n", "rv32").to_bytes())
    r = cli("run", str(image), "--max-steps", "1000")
    assert r.code == 1 and "did not halt" in r.err


def test_trace_names_the_mode_and_the_symbol(cli):
    from pathlib import Path
    elf = Path(__file__).resolve().parents[1] / "data" / "riscv-tests" / "elf" / "rv32ui-v-add"
    r = cli("run", str(elf), "--trace", "insn")
    assert r.code == 0, r.err
    lines = r.err.splitlines()
    assert lines[0].split()[1:3] == ["M", "80000000"] and lines[0].endswith("<_start>")
    assert any(" M  8000000c " in ln and ln.endswith("<handle_reset>") for ln in lines)
    modes = {ln.split()[1] for ln in lines if ln.split()[0].isdigit()}
    assert modes == {"M", "S", "U"}  # the v environment boots in M, its kernel runs in S, the test in U


def test_trace_line_takes_the_mode_name():
    from hybridvmm.isa import load_isa, shared_decoder
    from hybridvmm.machine.trace import trace_line
    ins = shared_decoder(load_isa("rv32")).decode(bytes.fromhex("93000000"), 0x80000054)
    assert trace_line(1, "machine", ins, "addi ra,zero,0", "<reset_vector>").split() == [
        "1", "M", "80000054", "93000000", "addi", "ra,zero,0", "<reset_vector>"]
    assert trace_line(2, "user", ins, "nop").split()[1] == "U"
    assert not trace_line(2, "supervisor", ins, "nop").endswith(" ")
