"""The main demonstration runs end to end and tells the story the theory predicts."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from hybridvmm.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def demo() -> str:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["demo"])
    assert code == 0, err.getvalue()
    return out.getvalue()


def test_demo_runs_and_shows_each_result(demo):
    out = demo
    assert "pgm-virt    Theorem 1 holds; Theorem 3 holds" in out
    assert "pgm-hybrid  Theorem 1 FAILS (popf, jrstu); Theorem 3 holds" in out
    assert "Theorem 3 FAILS (pushf, srr, rdtime)" in out
    assert "console output identical on all three variants: yes" in out
    assert "pgm-virt    kernel: 212 blocks, 0 sites; 7 relocated tasks: 0 sites" in out
    assert "patch --all-sensitive: 14 sites replaced by `vmtrap 0`" in out
    assert "every cell as the theorems predict: yes" in out
    assert "pgm-virt   yes                   yes                   yes                   yes                   yes" in out
    assert "pgm-hybrid NO 3/3 (jrstu, popf)  yes" in out
    assert "NO 3/3 (srr, rdtime)" in out
    assert "responsible: `srr r2, r3` at 0x110 (user mode)" in out
    assert "pgm-x86    NO 3/3 (srr)          yes                   NO 3/3 (srr, rdtime)  yes                   yes" \
           "                   yes" in out                                   # bt: equivalent on every variant


def test_demo_cost_matrix_shows_where_bt_wins_and_where_it_does_not(demo):
    """Act 6: bt beats pure on privileged-heavy and syscall-heavy kernels, and loses to it
    on kjit, whose kernel rewrites code before reusing it."""
    act = demo.split("6. What each design costs", 1)[1].split("\n7. ", 1)[0]
    rows = {line.split()[0]: [float(x.rstrip("x")) for x in line.split()[1:]]
            for line in act.splitlines()
            if line.startswith(("  pure ", "  bt ", "  hybrid ", "  interpret ")) and line.endswith("x")}
    pure, bt, hybrid = rows["pure"], rows["bt"], rows["hybrid"]
    sieve, kcompute, privileged, syscalls, kjit = range(5)
    assert bt[privileged] < pure[privileged] / 4 and bt[syscalls] < pure[syscalls]
    assert bt[kcompute] < hybrid[kcompute] / 10 and abs(bt[kcompute] - pure[kcompute]) < 0.2
    assert bt[kjit] > 5 * pure[kjit]


def test_demo_shows_riscv_deprivileged_and_the_counter_hole(demo):
    """Act 7: rvminios and a riscv-tests v test equivalent in every mode (the rv32 row all
    yes), and the counter demonstration: trap equivalent, passthrough diverging on the read."""
    act = demo.split("7. Real RISC-V", 1)[1]
    rows = [line for line in act.splitlines() if line.startswith(("  guest:rvminios", "  rv32ui-v-add"))]
    assert len(rows) == 12 and all(" yes " in row for row in rows)
    assert re.search(r"^  rv32 +yes +yes +yes +yes +yes +yes$", act, re.MULTILINE)
    assert "pure --counters trap         equivalent" in act
    assert "pure --counters passthrough  DIVERGES" in act
    assert "responsible: `csrrs s1,time,zero` at 0x80000078 <u_main+0xc> (U-mode)" in act


def test_the_readme_shows_what_the_demo_prints(demo):
    """Every line of the README's excerpt is the start of a line the demo prints (the
    excerpt leaves timings out; decimal figures are masked)."""
    excerpt = README.read_text().split("## The demonstration", 1)[1].split("```\n", 2)[1]
    printed = [re.sub(r"\d+\.\d+", "#", line.rstrip()) for line in demo.splitlines()]
    stale = [line for line in excerpt.splitlines() if line.strip()
             and not any(p.startswith(re.sub(r"\d+\.\d+", "#", line.rstrip())) for p in printed)]
    assert not stale, "the README's demo excerpt shows lines the demo no longer prints:\n" + "\n".join(stale)


def test_demo_without_xv6_has_seven_acts(demo):
    assert "7. Real RISC-V" in demo and "8. A real operating system" not in demo


def test_the_xv6_act_shows_the_transcript_once_the_equivalence_and_the_exits(capsys):
    """Act 8 (``demo --xv6``) on a small RV64 guest instead of xv6, whose boots belong to
    tests/guests/test_xv6.py: the transcript once, a row per mode with its exits by cause."""
    from hybridvmm.commands.demo import XV6_MODES, show_xv6
    from hybridvmm.guests import build_guest
    from hybridvmm.machine.console import ConsoleInput

    assert show_xv6(build_guest("rvloop64", small=True), ConsoleInput(b""))
    out = capsys.readouterr().out
    assert "8. A real operating system: xv6-riscv" in out and out.count("| rvloop64: checksum 0x") == 1
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith(("  bare ", "  pure ", "  hybrid "))}
    assert set(rows) == {"bare", *XV6_MODES}
    assert " yes " in rows["pure"] and "ecall 1" in rows["pure"] and "csr 6" in rows["pure"]
    assert "same transcript bare, pure and hybrid: yes; equivalent" in out


def test_demo_xv6_option(capsys):
    assert main(["demo", "--help"]) == 0
    assert "--xv6" in capsys.readouterr().out
