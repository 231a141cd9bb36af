"""The small RISC-V guests: what each prints is computed here independently, and each runs
the same under every monitor mode (rvcounters too, as long as the counters trap)."""

from __future__ import annotations

import pytest

from hybridvmm.guests import build_guest
from hybridvmm.isas import build_machine
from hybridvmm.vmm.compare import compare_images

M32 = 0xFFFFFFFF


def loop_checksum(n: int) -> int:
    """rvloop's loop, in Python."""
    t3 = 0
    for t0 in range(1, n + 1):
        t3 = (t3 + t0) & M32
        t4 = ((t3 * t0) & M32) ^ t3
        t5 = ((t4 << 3) & M32) >> 1
        t3 = (t3 + ((t5 & 0xFF) < t5)) & M32
    return t3


def bare(name: str, **defines: int):
    image = build_guest(name, "rv32", defines or None, small=not defines)
    m = build_machine("rv32", image=image)
    result = m.run(10_000_000)
    assert result.halted and m.exit_code == 0
    return m, bytes(m.console.output).decode()


def test_rvloop_prints_the_checksum_of_its_loop_and_runs_in_user_mode():
    m, out = bare("rvloop")
    assert out == f"rvloop: checksum 0x{loop_checksum(2000):08x}\n"
    assert m.stats.by_mode["user"] > 0.9 * m.stats.instructions


def test_rvcsr_counts_its_rounds_in_supervisor_mode():
    m, out = bare("rvcsr")
    assert out == f"rvcsr: CSR rounds 0x{300:08x}\n"
    assert m.stats.by_mode["supervisor"] == 5 * 300 + 3                 # the loop, and the setup around it


def test_rvcounters_reads_the_counters_in_user_mode():
    m, out = bare("rvcounters")
    fields = dict(part.split("=") for part in out.split(": ", 1)[1].split() if "=" in part)
    time, instret, cycle = (int(fields[k], 16) for k in ("time", "instret", "cycle"))
    assert (instret, cycle) == (time + 1, time + 2)       # read one instruction apart
    assert 400 < time < 500                                # the 200 iterations of its wait loop, and the boot


@pytest.mark.parametrize("name", ["rvloop", "rvcsr", "rvcounters"])
def test_every_mode_is_equivalent(name):
    [c] = compare_images([build_guest(name, "rv32", small=True)], ["pure", "interpret", "hybrid", "patch"])
    assert [r.mode for r in c.rows if not r.equivalent] == []
