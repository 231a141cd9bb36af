"""``bench``: runs every workload, checks results (no timing is asserted)."""

from __future__ import annotations

import json

from hybridvmm.isas import build_machine, pgm_bench


def test_builtin_programs_compute_their_expected_results():
    for name in pgm_bench.PROGRAMS:
        m = build_machine("pgm-x86", image=pgm_bench.build(name, "pgm-x86"))
        assert m.run(20_000_000).halted
        assert pgm_bench.result_of(m) == pgm_bench.expected(name), name
        assert m.stats.user > 0.99 * m.stats.instructions and m.stats.timer_interrupts > 10


def test_bench_json_builtin(cli):
    r = cli("bench", "--builtin", "--repeat", "2", "--json", "sieve", "fib")
    assert r.code == 0
    data = json.loads(r.out)
    assert [w["workload"] for w in data["workloads"]] == ["sieve", "fib"]
    for w in data["workloads"]:
        assert w["ok"] and w["origin"] == "builtin" and len(w["runs_ips"]) == 2 and w["median_ips"] > 0
        assert w["instructions"] > 100_000


def test_bench_lists_and_rejects_unknown_workloads(cli):
    r = cli("bench", "--builtin", "--list")
    assert r.code == 0 and {"sieve", "fib", "sort", "checksum"} <= {ln.split()[0] for ln in r.out.splitlines()}
    r = cli("bench", "--builtin", "nonesuch")
    assert r.code == 2 and "unknown workload" in r.err


def test_bench_uses_the_bundled_guests_when_installed(cli):
    import pytest

    guests = pytest.importorskip("hybridvmm.guests")
    r = cli("bench", "--list")
    rows = [ln.split() for ln in r.out.splitlines()]
    assert r.code == 0 and {row[0] for row in rows} == {name for name, _ in guests.list_guests()}
    assert all(row[1] == "guest" for row in rows)
    r = cli("bench", "--small", "--repeat", "1", "--json", "timer")
    data = json.loads(r.out)
    assert r.code == 0 and data["workloads"][0]["origin"] == "guest" and data["workloads"][0]["ok"]
