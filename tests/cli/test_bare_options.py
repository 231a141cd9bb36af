"""``run`` options mean the same bare and under a monitor (issue K §4, item 7)."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize("mode", ["bare", "hybrid"])
def test_slice_zero_is_refused_in_every_mode(cli, mode):
    r = cli("run", "guest:fib:small", "--mode", mode, "--slice", "0")
    assert r.code == 2 and r.out == ""
    assert r.err == "hybridvmm: error: --slice must be at least 1\n"


def test_timing_adds_the_wall_time_bare(cli):
    r = cli("run", "guest:fib:small", "--json", "--timing")
    assert r.code == 0
    assert json.loads(r.out)["stats"]["wall_s"] > 0
    r = cli("run", "guest:fib:small", "--stats", "--timing")
    assert r.code == 0
    wall = [line for line in r.err.splitlines() if line.startswith("wall time")]
    assert len(wall) == 1 and wall[0].endswith(" s")
    assert "wall_s" not in next(line for line in r.err.splitlines() if line.startswith("instructions"))


def test_without_timing_bare_output_is_the_same_bytes(cli):
    runs = [cli("run", "guest:fib:small", "--json", "--stats") for _ in range(2)]
    assert "wall_s" not in json.loads(runs[0].out)["stats"]
    assert runs[0].out == runs[1].out
