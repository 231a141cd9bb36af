"""``bench``: runs every workload, checks it halts deterministically (no timing is asserted)."""

from __future__ import annotations

import json

from hybridvmm.guests import list_guests


def test_bench_json(cli):
    r = cli("bench", "--repeat", "2", "--json", "sieve", "fib")
    assert r.code == 0
    data = json.loads(r.out)
    assert [w["workload"] for w in data["workloads"]] == ["sieve", "fib"]
    for w in data["workloads"]:
        assert w["ok"] and len(w["runs_ips"]) == 2 and w["median_ips"] > 0
        assert w["instructions"] > 100_000
        assert w["user_share"] > 0.9  # user-heavy workloads


def test_bench_lists_and_rejects_unknown_workloads(cli):
    r = cli("bench", "--list")
    assert r.code == 0 and {ln.split()[0] for ln in r.out.splitlines()} == {name for name, _ in list_guests()}
    r = cli("bench", "nonesuch")
    assert r.code == 2 and "unknown workload" in r.err


def test_bench_small_guests(cli):
    r = cli("bench", "--small", "--repeat", "1", "--json", "timer")
    data = json.loads(r.out)
    assert r.code == 0 and data["workloads"][0]["ok"] and data["workloads"][0]["workload"] == "timer"
