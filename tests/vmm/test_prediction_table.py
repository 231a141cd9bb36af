"""The prediction table of docs/modes.md, 'Predicted equivalence', every cell measured on
minios, redpill and stopwatch: each "yes" equivalent to the bare machine, each "no"
divergent, with the responsible instruction found by lock step and named among the
instructions the theorem accuses."""

from __future__ import annotations

import pytest

from hybridvmm.guests import VARIANTS, build_guest
from hybridvmm.isa import load_isa
from hybridvmm.vmm import COMPARE_MODES
from hybridvmm.vmm.compare import compare_images
from hybridvmm.vmm.theory import predict

TABLE = {
    "pgm-virt": {"pure": True, "interpret": True, "hybrid-no-patch": True, "hybrid": True, "patch": True, "bt": True},
    "pgm-hybrid": {"pure": False, "interpret": True, "hybrid-no-patch": True, "hybrid": True, "patch": True,
                   "bt": True},
    "pgm-x86": {"pure": False, "interpret": True, "hybrid-no-patch": False, "hybrid": True, "patch": True,
                "bt": True},
}
"""docs/modes.md, 'Predicted equivalence', as printed there."""

GUESTS = ("minios", "redpill", "stopwatch")


@pytest.mark.parametrize("isa", VARIANTS)
@pytest.mark.parametrize("mode", COMPARE_MODES)
def test_the_theory_predicts_design_table(isa, mode):
    assert predict(load_isa(isa), mode).equivalent is TABLE[isa][mode]


@pytest.fixture(scope="module")
def comparisons():
    out = {}
    for isa in VARIANTS:
        for guest in GUESTS:
            out[guest, isa] = compare_images([build_guest(guest, isa)], list(COMPARE_MODES), isa)[0]
    return out


@pytest.mark.parametrize("isa", VARIANTS)
@pytest.mark.parametrize("guest", GUESTS)
@pytest.mark.parametrize("mode", COMPARE_MODES)
def test_cell(comparisons, guest, isa, mode):
    comparison = comparisons[guest, isa]
    row = next(r for r in comparison.rows if r.mode == mode)
    if TABLE[isa][mode]:
        assert row.equivalent, f"{guest} {isa} {mode}: {row.divergence.describe()}"
        assert row.run.vm.guest_instructions == comparison.bare.instructions
        assert row.run.monitor.escapes == []
        return
    assert not row.equivalent, f"{guest} on {isa} should diverge under {mode}"
    responsible = row.divergence.responsible
    assert responsible is not None, row.divergence.describe()
    accused = predict(load_isa(isa), mode).culprits
    assert responsible.text.split()[0] in accused, responsible.describe()
    if mode == "hybrid-no-patch":
        assert responsible.mode == "user"  # only user code runs directly in the hybrid monitor


def test_the_x86_pure_divergence_names_the_instruction_and_what_it_changed(comparisons):
    row = next(r for r in comparisons["redpill", "pgm-hybrid"].rows if r.mode == "pure")
    r = row.divergence.responsible
    assert r.text == "popf" and r.mode == "supervisor"
    assert any(d.startswith("ie: bare True, here False") for d in r.differences)
    assert row.divergence.kind == "event"


def test_hybrid_patches_only_user_code_and_runs_every_user_instruction_directly(comparisons):
    row = next(r for r in comparisons["minios", "pgm-x86"].rows if r.mode == "hybrid")
    stats = row.run.vm.stats
    assert stats.patches_applied >= 1
    assert stats.interpreted.get("user", 0) == stats.patches_hit  # every other user instruction ran directly
    assert stats.direct.get("supervisor", 0) == 0                 # 100 % of supervisor code interpreted


def test_bt_translates_supervisor_code_and_calls_out_for_its_system_instructions(comparisons):
    """VMware's design on pgm-x86: no supervisor instruction runs directly or traps; each
    one runs from the translation cache, the system ones (minios prints with privileged
    `out`s, saves flags with `pushf`/`popf`) as callouts; user code runs directly, patched
    as in hybrid."""
    rows = {r.mode: r for r in comparisons["minios", "pgm-x86"].rows}
    bt, hybrid = rows["bt"].run.vm.stats, rows["hybrid"].run.vm.stats
    assert bt.direct.get("supervisor", 0) == 0
    assert bt.translated == {"supervisor": bt.by_mode["supervisor"]}
    assert 0 < bt.callouts < bt.by_mode["supervisor"]
    assert bt.translations > 0 and bt.instructions_translated >= bt.translations
    assert bt.direct == hybrid.direct and bt.patches_applied == hybrid.patches_applied
    assert bt.exits == hybrid.exits                       # the same exits: all from user code
    events = bt.events()
    assert events["interpreted"] == bt.interpreted_instructions - bt.by_mode["supervisor"]
    assert events["callout"] == bt.callouts and events["translate"] == bt.instructions_translated


def test_patch_mode_runs_almost_everything_directly(comparisons):
    """minios is supervisor-heavy and prints a lot (every console byte is a privileged
    `out`): what patch mode does not run directly is exactly the instructions that trapped
    (or would have, emulated in the same exit), and every user instruction but the patched
    ones."""
    row = next(r for r in comparisons["minios", "pgm-x86"].rows if r.mode == "patch")
    stats = row.run.vm.stats
    assert stats.direct_instructions / row.run.vm.guest_instructions > 0.94
    assert stats.by_mode["user"] - stats.direct["user"] <= stats.patches_hit + stats.exits.get("privileged", 0)
    assert stats.emulated == stats.interpreted_instructions    # nothing interpreted but what traps
    assert 0 < stats.clustered < stats.emulated
