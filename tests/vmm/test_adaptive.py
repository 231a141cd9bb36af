"""Adaptive translation (``--adaptive N``): a direct site that keeps trapping is translated,
the guest stays equivalent to the bare machine, and the exits it saved are counted."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from hybridvmm.errors import UserError
from hybridvmm.guests import build_guest, randomized, rvrandom
from hybridvmm.isa import load_isa
from hybridvmm.vmm import Monitor
from hybridvmm.vmm.compare import compare_images, first_divergence, run_bare, run_monitor


def test_privileged_heavy_kernel_code_stops_trapping_and_stays_equivalent():
    image = build_guest("privileged", "pgm-virt", small=True)
    [c] = compare_images([image], ["pure"], "pgm-virt", locate_divergences=False)
    [a] = compare_images([image], ["pure"], "pgm-virt", locate_divergences=False, adaptive=4)
    plain, adaptive = c.rows[0], a.rows[0]
    assert plain.equivalent and adaptive.equivalent
    s = adaptive.run.vm.stats
    assert s.adaptive_sites > 0 and s.adaptive_entries > 0
    assert s.traps < plain.run.vm.stats.traps / 10             # the sites stopped trapping
    assert s.callouts > 0 and s.translated_instructions >= s.adaptive_entries
    assert s.instructions_translated > 0
    assert adaptive.as_dict()["host_cycles"] < plain.as_dict()["host_cycles"]


@pytest.mark.parametrize("mode", ["pure", "hybrid", "patch"])
def test_rvminios_is_equivalent_with_adaptive_translation(mode):
    [c] = compare_images([build_guest("rvminios", "rv32")], [mode], "rv32", 400_000, locate_divergences=False,
                         adaptive=2)
    row = c.rows[0]
    assert row.equivalent, row.divergence.describe()
    assert row.run.vm.stats.adaptive_entries > 0 or mode == "hybrid"


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), threshold=st.sampled_from([1, 2, 5]))
def test_random_programs_stay_equivalent_under_adaptive_translation(seed, threshold):
    for image, isa, steps, modes in ((randomized.generate(seed).image("pgm-x86"), load_isa("pgm-x86"), 100_000,
                                      ("hybrid", "patch")),
                                     (rvrandom.generate(seed).image(), load_isa("rv32"), 30_000,
                                      ("pure", "hybrid", "patch"))):
        ref = run_bare(image, isa, steps)
        for mode in modes:
            run = run_monitor([image], mode, isa, steps, adaptive=threshold)[0]
            d = first_divergence(ref, run, image, isa)
            assert d is None, f"seed {seed}, {isa.name} {mode} --adaptive {threshold}: {d.describe()}"


@pytest.mark.parametrize("mode", ["interpret", "bt"])
def test_adaptive_translation_needs_direct_code_it_does_not_translate(mode):
    with pytest.raises(UserError, match="--adaptive"):
        Monitor([build_guest("sieve", "pgm-virt", small=True)], mode, adaptive=3)


def test_the_cli_reports_adaptive_translation(cli):
    r = cli("run", "--isa", "pgm-virt", "--mode", "pure", "--adaptive", "3", "--stats", "guest:privileged:small")
    assert r.code == 0
    assert "trapping sites translated" in r.err
    bad = cli("run", "--adaptive", "3", "guest:sieve")
    assert bad.code == 2 and "--adaptive" in bad.err and "Traceback" not in bad.err
