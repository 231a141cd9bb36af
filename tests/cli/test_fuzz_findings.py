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
