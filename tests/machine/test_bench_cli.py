"""``bench``: runs every workload in every mode, checks each halts deterministically with the
guest instruction count of bare wherever the theory says the mode is equivalent (no timing
is asserted)."""

from __future__ import annotations

import json

from hybridvmm.guests import guest_info, list_guests
from hybridvmm.isas import family_of


def test_bench_json_has_every_mode_for_every_workload(cli):
    r = cli("bench", "--repeat", "2", "--json", "--small", "sieve", "fib")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    rows = data["runs"]
    assert [(x["workload"], x["mode"]) for x in rows] == [
        (w, m) for w in ("sieve", "fib") for m in ("bare", "pure", "interpret", "hybrid-no-patch", "hybrid", "patch", "bt")]
    for x in rows:
        for key in ("workload", "mode", "instructions", "median_s", "mips", "ratio_to_bare", "direct_fraction"):
            assert key in x
        assert x["ok"] and len(x["runs_s"]) == 2 and x["median_s"] > 0
    by = {(x["workload"], x["mode"]): x for x in rows}
    for w in ("sieve", "fib"):
        assert by[w, "bare"]["ratio_to_bare"] == 1.0 and by[w, "bare"]["direct_fraction"] == 1.0
        assert by[w, "interpret"]["direct_fraction"] == 0.0
        assert by[w, "patch"]["instructions"] == by[w, "bare"]["instructions"]
        assert by[w, "patch"]["direct_fraction"] > 0.9
        assert "diverges" in by[w, "pure"]["note"]          # pgm-x86: Theorem 1 fails


def test_bench_modes_option(cli):
    r = cli("bench", "--small", "--repeat", "1", "--json", "--modes", "bare,hybrid", "timer")
    data = json.loads(r.out)
    assert r.code == 0 and [x["mode"] for x in data["runs"]] == ["bare", "hybrid"]
    assert cli("bench", "--modes", "warp", "timer").code == 2


def test_bench_lists_and_rejects_unknown_workloads(cli):
    r = cli("bench", "--list")
    runnable = {name for name, _ in list_guests() if family_of(guest_info(name).isa).name == "pgm"}  # rv32: --isa rv32
    assert r.code == 0 and {ln.split()[0] for ln in r.out.splitlines()} == runnable
    r = cli("bench", "nonesuch")
    assert r.code == 2 and "unknown workload" in r.err


def test_bench_rv32_measures_every_mode_and_the_csr_round_trip(cli):
    """bench --isa rv32: every RISC-V workload in every mode, equivalent instruction counts,
    a CSR trap round trip, compositions per guest page and the wall-time note."""
    r = cli("bench", "--isa", "rv32", "--small", "--repeat", "1", "--json", "rvcsr", "rvloop")
    assert r.code == 0, r.err
    import json
    data = json.loads(r.out)
    runs = {(x["workload"], x["mode"]): x for x in data["runs"]}
    assert {m for _, m in runs} == {"bare", "pure", "interpret", "hybrid-no-patch", "hybrid", "patch", "bt"}
    assert all(x["ok"] and x["instructions"] == runs[x["workload"], "bare"]["instructions"] for x in runs.values())
    assert runs["rvcsr", "pure"]["exits"]["csr"] == 2 * 300 + 6 and data["csr_round_trip_us"] > 0
    assert any(row["workload"] == "rvloop" and row["guest_pages"] for row in data["compositions"])
    assert "Python hosting Python" in data["note"]


def test_bench_rv64_lists_xv6_and_measures_rvloop64_in_every_mode(cli):
    """bench --isa rv64: xv6 (not booted here: tests/guests/test_xv6.py does) and rvloop64,
    which runs equivalent in every mode with its exits by cause."""
    r = cli("bench", "--isa", "rv64", "--list")
    assert r.code == 0 and [line.split()[0] for line in r.out.splitlines()] == ["xv6", "rvloop64"]
    r = cli("bench", "--isa", "rv64", "--small", "--repeat", "1", "--json", "rvloop64")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    runs = {x["mode"]: x for x in data["runs"]}
    assert set(runs) == {"bare", "pure", "interpret", "hybrid-no-patch", "hybrid", "patch", "bt"}
    assert all(x["ok"] and x["isa"] == "rv64" and x["instructions"] == runs["bare"]["instructions"] for x in runs.values())
    assert runs["bare"]["user_share"] > 0.9
    exits = {row["mode"]: row["exits"] for row in data["exits"]}
    assert exits["interpret"] == {} and exits["pure"]["ecall"] == 1 and "xv6" not in data


def test_bench_rv64_holds_xv6_to_its_bounds():
    """The xv6 figure: bare wall at most 8 s, pure and hybrid at most 1.5x bare."""
    from hybridvmm.commands.bench import Measurement, Workload, rv64_figures
    from hybridvmm.guests import build_guest

    w = Workload("xv6", "", build_guest("rvloop64", small=True))
    rows = [Measurement(w, mode, instructions=67_000_000, seconds=[s]) for mode, s in
            (("bare", 6.0), ("pure", 9.5), ("hybrid", 6.5), ("interpret", 15.0))]
    xv6 = rv64_figures(rows)["xv6"]
    assert xv6["ratio_to_bare"] == {"pure": 9.5 / 6, "hybrid": 6.5 / 6} and not xv6["within"]
    rows[1].seconds = [8.5]
    assert rv64_figures(rows)["xv6"]["within"]
    rows[0].seconds = [8.2]
    assert not rv64_figures(rows)["xv6"]["within"]
