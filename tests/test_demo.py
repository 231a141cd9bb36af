"""The main demonstration runs end to end and tells the story the theory predicts."""

from __future__ import annotations


def test_demo_runs_and_shows_each_result(cli):
    result = cli("demo", "--samples", "8")
    assert result.code == 0, result.err
    out = result.out
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
    assert "patch      yes" in out and "hybrid     yes" in out
