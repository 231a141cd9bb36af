"""Random RV32 programs (M firmware, S kernel and U code; traps, delegation, paging on and off,
timer interrupts, nested traps) are equivalent to the bare hart in every monitor mode, and
the monitor never lets the host's mapping leave the VM's window."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings, strategies as st

from hybridvmm.guests.rvrandom import PAGING, generate
from hybridvmm.isa import load_isa
from hybridvmm.vmm.compare import first_divergence, run_bare, run_monitor

MODES = ("pure", "interpret", "hybrid", "patch", "bt")
MAX_STEPS = 30_000
"""Programs halt within a few thousand instructions (the longest of the first 300 seeds: 14,000)."""


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), slice_length=st.sampled_from([100_000, 97, 1000]))
def test_random_rv32_programs_are_equivalent_in_every_mode(seed, slice_length):
    program = generate(seed)
    isa = load_isa("rv32")
    image = program.image()
    ref = run_bare(image, isa, MAX_STEPS)
    for mode in MODES:
        run = run_monitor([image], mode, isa, MAX_STEPS, slice_length=slice_length)[0]
        d = first_divergence(ref, run, image, isa)
        assert d is None, f"seed {seed}, {mode}, slice {slice_length}: {d.describe()}"
        assert run.monitor.escapes == [], f"seed {seed}, {mode}: {run.monitor.escapes}"


def _parts(source: str) -> tuple[str, str, str]:
    """The M firmware and handler, the S kernel and handler, the U code of a generated source."""
    m, _, rest = source.partition("\ns_main:")
    s, _, u = rest.partition("\nu_main:")
    return m, s, u.partition("# ---- data")[0]


def test_generated_programs_are_deterministic_and_cover_the_features():
    a, b = generate(1234), generate(1234)
    assert a == b and a.image().sections[0].data == b.image().sections[0].data
    assert generate(1235).source != a.source
    programs = [generate(seed) for seed in range(40)]
    assert {p.paging for p in programs} == set(PAGING)
    assert any(p.timer for p in programs) and any(not p.timer for p in programs)
    assert any(p.forward for p in programs)
    assert any(p.medeleg for p in programs) and any(p.mideleg for p in programs)
    assert any(not p.supervisor for p in programs) and any(p.mcounteren and p.scounteren for p in programs)
    assert "open" in {p.pmp for p in programs} and len({p.pmp for p in programs}) >= 4
    m = "\n".join(_parts(p.source)[0] for p in programs)
    s = "\n".join(_parts(p.source)[1] for p in programs if p.supervisor)
    u = "\n".join(_parts(p.source)[2] for p in programs)
    paged_u = "\n".join(_parts(p.source)[2] for p in programs if p.paging != "off")
    assert "mret" in m and "MPRV access" in m and "ecall" in m and "wfi" in m
    assert "sret" in s and "sfence.vma" in s and "SBI" in s and "illegal in S" in s and "ebreak" in s
    assert "wfi" in s and "PTE edited in place" in s and "paging off for a moment" in s
    for needle in ("lr.w", "sc.w", "amo", "# putchar", "# remap", "illegal in U", "ebreak", "wfi", "self-modifying",
                   "across a page boundary", "cannot fetch", "U writes code the kernel runs", "UART register"):
        assert needle in u, needle
    assert re.search(r"csrr\s+\w+, time\b", u)
    assert "an access that faults (page fault" in paged_u and "a live PTE edit" in paged_u


def test_generated_programs_halt():
    """Nearly every program stops itself (test finisher) well within the step limit."""
    isa = load_isa("rv32")
    runs = [run_bare(generate(seed).image(), isa, MAX_STEPS) for seed in range(1000, 1030)]
    assert sum(r.reason == "halted" for r in runs) >= 29
    assert all(r.console.endswith(b"\n") for r in runs if r.reason == "halted")
