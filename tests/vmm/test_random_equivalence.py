"""Random guest programs (kernel and user parts, system calls, faults, timer interrupts,
nested traps, R changes, self-modifying stores, the five sensitive instructions) are
equivalent to the bare machine in every mode the theory allows, on every variant."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from hybridvmm.guests import VARIANTS
from hybridvmm.guests.randomized import generate
from hybridvmm.isa import load_isa
from hybridvmm.vmm import COMPARE_MODES
from hybridvmm.vmm.compare import first_divergence, run_bare, run_monitor
from hybridvmm.vmm.theory import predict

MAX_STEPS = 100_000


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), slice_length=st.sampled_from([100_000, 97, 1000]))
def test_random_programs_are_equivalent_wherever_the_theory_says(seed, slice_length):
    program = generate(seed)
    for variant in VARIANTS:
        isa = load_isa(variant)
        image = program.image(variant)
        ref = run_bare(image, isa, MAX_STEPS)
        for mode in COMPARE_MODES:
            if not predict(isa, mode).equivalent:
                continue
            run = run_monitor([image], mode, isa, MAX_STEPS, slice_length=slice_length)[0]
            d = first_divergence(ref, run, image, isa)
            assert d is None, f"seed {seed}, {variant}, {mode}: {d.describe()}"
            assert run.monitor.escapes == []


def test_generated_programs_are_deterministic_and_cover_the_features():
    a, b = generate(1234), generate(1234)
    assert a.source == b.source and a.image("pgm-x86").sections[0].data == b.image("pgm-x86").sections[0].data
    text = "\n".join(generate(s).source for s in range(40))
    for needle in ("pushf", "popf", "srr", "rdtime", "jrstu", "svc", "vmtrap", "settimer", "setr r10, r11",
                   "ei  ", "call smc_"):
        assert needle in text, needle
    assert any(generate(s).relocated for s in range(10)) and any(generate(s).timer for s in range(10))


def test_the_theorys_no_cells_stay_no_on_random_programs():
    """Over fixed seeds, programs using sensitive-unprivileged instructions diverge under the
    modes the theory rejects (not every one must: a program may never hit one)."""
    diverged = {("pgm-hybrid", "pure"): 0, ("pgm-x86", "pure"): 0, ("pgm-x86", "hybrid-no-patch"): 0}
    for seed in range(12):
        program = generate(seed)
        for variant, mode in diverged:
            isa = load_isa(variant)
            image = program.image(variant)
            ref = run_bare(image, isa, MAX_STEPS)
            run = run_monitor([image], mode, isa, MAX_STEPS)[0]
            diverged[variant, mode] += first_divergence(ref, run, image, isa) is not None
    assert diverged[("pgm-hybrid", "pure")] >= 10 and diverged[("pgm-x86", "pure")] >= 10
    assert diverged[("pgm-x86", "hybrid-no-patch")] >= 2
