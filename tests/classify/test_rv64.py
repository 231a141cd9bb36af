"""The classifier on RV64: Sv39 tables, the RV64 satp, 64-bit values, no ``h`` counters; its
verdict mirrors rv32's (Theorems 1 and 3 hold when the counter enables are clear)."""

from __future__ import annotations

import json
import random

import pytest

from hybridvmm.classify import classify_isa, replay
from hybridvmm.classify.model import BEHAVIOR, PRIVILEGED
from hybridvmm.isa import load_isa
from hybridvmm.isas import probe_for
from hybridvmm.isas.riscv.constants import RAM_BASE
from hybridvmm.isas.riscv.mmu import LOAD, SV39, Regime
from hybridvmm.isas.riscv.probe import RiscvProbe

SAMPLES = 40
COUNTERS = {f"{op}@{c}" for op in ("csrrs", "csrrc", "csrrsi", "csrrci") for c in ("cycle", "time", "instret")}
NEW = ["ld", "sd", "lwu", "addiw", "slliw", "sllw", "sraw", "mulw", "divw", "remuw", "lr.d", "sc.d", "amoswap.d",
       "amoadd.d.aqrl", "amomaxu.d"]
"""RV64's own instructions (a sample of them): innocuous, as rv64.toml declares them."""
SOME = ["csrrs", "csrrsi", "csrrw@sstatus", "csrrw@satp", "csrrw@mstatus", "csrrs@pmpcfg2", "csrrw@time",
        "csrrc@time", "csrrci@cycle", "csrrw@other", "mret", "sret", "wfi", "sfence.vma", "ecall", "add", "lw", "sw",
        "amoswap.w", "sc.w", *NEW]


@pytest.fixture(scope="module")
def rv():
    return classify_isa("rv64", samples=SAMPLES, seed=1, probe=probe_for("rv64"), jobs=1, only=SOME)


EXPECTED_CLAUSES = {
    ("mcounteren.CY=0", "scounteren.CY=0"): "cycle",
    ("mcounteren.IR=0", "scounteren.IR=0"): "instret",
    ("mcounteren.TM=0", "scounteren.TM=0"): "time",
}


@pytest.mark.parametrize("reading", ["M vs U", "S vs U"])
def test_theorems_hold_when_the_counter_enables_are_clear(rv, reading):
    r = rv.comparison_named(reading)
    for verdict in (r.theorem1, r.theorem3):
        assert not verdict.holds and verdict.holds_when and verdict.unconditional == []
        assert set(verdict.violations) == COUNTERS & {i.name for i in r.instructions}
        clauses = {c.settings: set(c.forms) for c in verdict.conditions}
        assert set(clauses) == set(EXPECTED_CLAUSES)
        for settings, counter in EXPECTED_CLAUSES.items():
            assert all(f.split("@")[1] == counter for f in clauses[settings])


def test_rv64s_own_instructions_are_innocuous_as_declared(rv):
    """Regression: with an RV32 satp the program's page did not move with its storage under
    RV64, so every store and AMO (sd, amo*.d …) was reported behavior-sensitive."""
    for r in (rv, *rv.others):
        for name in NEW + ["sw", "amoswap.w", "sc.w", "lw"]:
            ic = r.by_name(name)
            assert not (ic.privileged or ic.sensitive) and ic.agrees_with_spec, (r.comparison, name)
    # wfi's control-sensitivity (waiting moves time on) takes more samples than these
    assert [i.name for i in rv.disagreements if "@" not in i.name] in ([], ["wfi"])


def test_system_instructions_and_csrs_classify_as_on_rv32(rv):
    m, s = rv, rv.comparison_named("S vs U")
    assert m.by_name("csrrs@sstatus").privileged and BEHAVIOR in m.by_name("csrrs@sstatus").derived
    assert m.by_name("csrrs@pmpcfg2").privileged and m.by_name("csrrw@satp").privileged
    for name in ("mret", "csrrw@mstatus"):
        assert m.by_name(name).privileged and m.by_name(name).control_sensitive
        assert not (s.by_name(name).privileged or s.by_name(name).sensitive)
    assert s.by_name("sret").privileged and s.by_name("csrrw@satp").privileged
    assert m.by_name("wfi").privileged and m.by_name("sfence.vma").privileged
    assert not any(m.by_name(f).privileged or m.by_name(f).sensitive for f in ("csrrw@time", "csrrw@other", "ecall"))
    time = m.by_name("csrrs@time")
    assert not time.privileged and time.user_sensitive and PRIVILEGED in time.classes_when


def test_witnesses_replay(rv):
    probe = RiscvProbe(load_isa("rv64"))
    replayed = 0
    for r in (rv, *rv.others):
        for ic in r.instructions:
            for witness in ic.witnesses.values():
                assert replay(witness, probe), (r.comparison, ic.name, witness.explanation)
                replayed += 1
    assert replayed > 50


def test_forms_follow_the_rv64_csr_file():
    """No h counters, mstatush, menvcfgh or odd pmpcfg on RV64: their numbers are 'other'."""
    isa = load_isa("rv64")
    probe = RiscvProbe(isa)
    keys = {f.key for f in probe.forms(isa.instructions["csrrs"])}
    assert {"csrrs@time", "csrrs@satp", "csrrs@pmpcfg0", "csrrs@pmpcfg2", "csrrs@other"} <= keys
    assert not keys & {"csrrs@cycleh", "csrrs@timeh", "csrrs@instreth", "csrrs@mstatush", "csrrs@menvcfgh",
                       "csrrs@pmpcfg1", "csrrs@pmpcfg3"}


def test_states_are_rv64_states():
    """Sampled states hold an Sv39 satp whose two table sets map the program's page onto itself
    and onto its copy, 64-bit registers, and mstatus with UXL = SXL = 2."""
    probe = RiscvProbe(load_isa("rv64"))
    m = probe.machine
    states = probe.sample_states(random.Random(5), 60)
    satps = {s["satp"] for s in states} - {0}
    assert len(satps) == 2 and all(satp >> 60 == 8 for satp in satps)
    assert any(x >> 32 for s in states for x in s["x"])
    assert all(s["mstatus"] >> 32 & 0xF == 0b1010 for s in states)
    assert all(s["pmpaddr"][0] == (1 << 53) - 1 for s in states)
    probe._prepare({**states[0], "mode": "S"}, probe._nop)
    homes = set()
    for satp in satps:
        assert m.paging_geometry(satp) is SV39
        regime = Regime(m, m.csr.satp_format.root(satp), SV39, 1, False, False)
        homes.add(regime.peek(probe.window + 0x123, LOAD))
    assert homes == {probe.home + 0x123, probe.copy + 0x123} and probe.home == RAM_BASE + 6 * 0x1000


def test_cli_text_and_json(cli):
    only = "csrrs@time,csrrs@sstatus,mret,sd,amoadd.d"
    text = cli("classify", "--isa", "rv64", "--samples", "16", "--only", only)
    assert text.code == 0, text.err
    assert text.out.startswith("rv64: ")
    assert "M vs U: Theorem 1 (sensitive ⊆ privileged): HOLDS WHEN (mcounteren.TM=0 or scounteren.TM=0)" in text.out
    data = json.loads(cli("classify", "--isa", "rv64", "--samples", "16", "--only", only, "--json").out)
    assert data["isa"] == "rv64" and data["theorem1"]["holds_when"] is True
    assert {i["name"]: i["agrees_with_spec"] for i in data["instructions"]}["amoadd.d"] is True
