"""The classifier derives classes by execution; verdicts, mutations, witnesses, determinism."""

from __future__ import annotations

import json

import pytest

from hybridvmm.classify import classify_isa, replay
from hybridvmm.classify.model import BEHAVIOR, CONTROL, PRIVILEGED, USER
from hybridvmm.isa import load_isa
from hybridvmm.isas import probe_for
from hybridvmm.isas.pgm import Semantic
from hybridvmm.isas.pgm.probe import PgmProbe

SAMPLES = 40
SENSITIVE_FIVE = {"jrstu", "popf", "pushf", "srr", "rdtime"}


@pytest.fixture(scope="module")
def results():
    return {v: classify_isa(v, samples=SAMPLES, seed=1, probe=probe_for(v)) for v in ("pgm-virt", "pgm-hybrid", "pgm-x86")}


def test_pgm_virt_meets_theorem_1(results):
    r = results["pgm-virt"]
    assert r.theorem1.holds and r.theorem1.violations == []
    assert r.theorem3.holds
    sensitive = {i.name for i in r.instructions if i.sensitive}
    assert SENSITIVE_FIVE <= sensitive
    assert all(r.by_name(n).privileged for n in sensitive)


def test_pgm_hybrid_fails_theorem_1_meets_theorem_3(results):
    r = results["pgm-hybrid"]
    assert not r.theorem1.holds and set(r.theorem1.violations) == {"jrstu", "popf"}
    assert r.theorem3.holds and r.theorem3.violations == []


def test_pgm_x86_fails_both(results):
    r = results["pgm-x86"]
    assert set(r.theorem1.violations) == SENSITIVE_FIVE
    assert set(r.theorem3.violations) == {"pushf", "srr", "rdtime"}


def test_derived_classes_agree_with_every_declaration(results):
    for r in results.values():
        assert r.disagreements == [], [(i.name, i.disagreement()) for i in r.disagreements]


def test_system_calls_and_innocuous_instructions_are_neither(results):
    r = results["pgm-x86"]
    for name in ("svc", "vmtrap", "ld", "st", "push", "call", "jmpr", "add", "ret"):
        ic = r.by_name(name)
        assert not (ic.privileged or ic.sensitive or ic.user_sensitive), name
    assert "trapped" in r.by_name("svc").not_privileged_because


def test_mutated_user_mode_behaviour_changes_the_verdict(tmp_path):
    # pgm-x86 with srr made to trap in user mode (its declarations left as they were):
    # the classifier must notice srr is now privileged and drop it from the violators.
    (tmp_path / "pgm-mut.toml").write_text(
        '[isa]\nname = "pgm-mut"\nextends = "pgm-x86"\n\n[instructions]\nsrr = { user_mode = "trap" }\n'
    )
    mutated = str(tmp_path / "pgm-mut.toml")
    r = classify_isa(mutated, samples=SAMPLES, seed=1, probe=probe_for(mutated))
    srr = r.by_name("srr")
    assert srr.privileged and not srr.user_sensitive
    assert set(r.theorem3.violations) == {"pushf", "rdtime"}
    assert "srr" not in r.theorem1.violations
    assert [i.name for i in r.disagreements] == ["srr"]
    assert "derived but not declared: privileged" in srr.disagreement()


def _mov_reads_ie(m, ins, env):
    regs, ra, nxt = m.regs, ins.operands["ra"], ins.next_address

    def mov_ie() -> int:
        regs[ra] = int(m.ie)
        return nxt
    return mov_ie


def test_mutated_semantics_make_an_innocuous_instruction_sensitive():
    # The spec still declares mov innocuous; only its semantics changed (it now reads IE).
    isa = load_isa("pgm-virt")
    probe = PgmProbe(isa, semantics={"mov": Semantic(_mov_reads_ie, system=True)})
    r = classify_isa(isa, samples=SAMPLES, seed=1, probe=probe)
    mov = r.by_name("mov")
    assert mov.behavior_sensitive and mov.user_sensitive and not mov.privileged
    assert not r.theorem1.holds and r.theorem1.violations == ["mov"]
    assert r.theorem3.violations == ["mov"]
    assert not mov.agrees_with_spec
    assert "IE" in mov.witnesses[BEHAVIOR].explanation


def test_witnesses_replay(results):
    probes = {variant: probe_for(variant) for variant in results}
    replayed = 0
    for variant, r in results.items():
        for ic in r.instructions:
            for witness in ic.witnesses.values():
                assert replay(witness, probes[variant]), (variant, ic.name, witness.explanation)
                replayed += 1
    assert replayed > 50


def test_witness_words(results):
    r = results["pgm-hybrid"]
    popf = r.by_name("popf")
    assert popf.witnesses[CONTROL].explanation.startswith("`popf` is control-sensitive: in supervisor mode with IE=")
    assert popf.not_privileged_because == "in user mode it did not trap"
    assert "R.base" in results["pgm-x86"].by_name("srr").witnesses[USER].explanation
    assert "trapped (privileged)" in results["pgm-virt"].by_name("halt").witnesses[PRIVILEGED].explanation


def test_same_seed_same_output_and_json_shape(cli):
    first = cli("classify", "--isa", "pgm-hybrid", "--samples", "12", "--seed", "7", "--json")
    second = cli("classify", "--isa", "pgm-hybrid", "--samples", "12", "--seed", "7", "--json")
    assert first.code == 0 and first.out == second.out
    data = json.loads(first.out)
    assert set(data) >= {"isa", "theorem1", "theorem3", "instructions"}
    assert data["theorem1"] == {"holds": False, "violations": ["popf", "jrstu"]}
    entry = next(i for i in data["instructions"] if i["name"] == "popf")
    assert set(entry) >= {"name", "privileged", "control_sensitive", "behavior_sensitive", "user_sensitive", "agrees_with_spec", "witness"}


def test_text_report_and_svg(cli, tmp_path):
    svg = tmp_path / "fig.svg"
    result = cli("classify", "--isa", "pgm-x86", "--samples", "12", "--svg", str(svg))
    assert result.code == 0
    assert "Theorem 1 (sensitive ⊆ privileged): FAILS — pushf, popf, srr, rdtime, jrstu" in result.out
    assert "Theorem 3 (user-sensitive ⊆ privileged): FAILS — pushf, srr, rdtime" in result.out
    text = svg.read_text()
    assert text.startswith("<svg") and "Theorem 3" in text and "srr *" in text


def test_bad_input(cli, monkeypatch):
    assert cli("classify", "--isa", "z80").code == 2
    bad = cli("classify", "--isa", "pgm", "--samples", "0")
    assert bad.code == 2 and "at least 1" in bad.err
    from hybridvmm.isas import FAMILIES, Family
    monkeypatch.setitem(FAMILIES, "rv32", Family("rv32", FAMILIES["rv32"].machine))  # a family without a probe
    rv = cli("classify", "--isa", "rv32")
    assert rv.code == 2 and "no system model" in rv.err


def test_svg_to_an_unwritable_path_is_a_one_line_error(cli, tmp_path):
    # regression: a directory given as the figure's path raised IsADirectoryError
    result = cli("classify", "--isa", "pgm-hybrid", "--samples", "2", "--svg", str(tmp_path))
    assert result.code == 2 and "is a directory" in result.err and "Traceback" not in result.err
    result = cli("classify", "--isa", "pgm-hybrid", "--samples", "2", "--svg", str(tmp_path / "missing" / "fig.svg"))
    assert result.code == 2 and "cannot write" in result.err


def test_the_pgm_probe_sees_every_trap_however_often_the_same_one_repeats():
    """Regression: the core's trap-loop guard stops calling the trap handler after 16 traps of
    one cause at one pc with nothing completing; the probe runs the same instruction at the
    same pc over and over, so each run must start afresh or a trap reads as "no trap"."""
    from hybridvmm.isa import load_isa
    from hybridvmm.isas.pgm.probe import PgmProbe

    isa = load_isa("pgm-virt")
    probe = PgmProbe(isa)
    state = {"regs": [0] * 16, "flags": 0, "pc": 0x200, "user": True, "ie": False, "base": 0x400,
             "bound": 0x800, "timer": 0, "timer_pending": False, "storage_seed": 1}
    outcomes = [probe.execute(state, isa.instructions["ei"], {}) for _ in range(40)]
    assert all(o.trap == "privileged" for o in outcomes)
