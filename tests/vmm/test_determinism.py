"""The same run twice gives the same bytes — console, statistics, ``--json`` — in every mode,
with several VMs too (wall-clock time is reported only when asked for with ``--timing``)."""

from __future__ import annotations

import pytest

RUNS = [
    ("guest:minios", "pgm-x86", ["--mode", "bare"]),
    ("guest:minios", "pgm-virt", ["--mode", "pure"]),
    ("guest:minios", "pgm-x86", ["--mode", "interpret"]),
    ("guest:minios", "pgm-x86", ["--mode", "hybrid"]),
    ("guest:minios", "pgm-x86", ["--mode", "hybrid", "--no-patch"]),
    ("guest:minios", "pgm-x86", ["--mode", "patch"]),
    ("guest:redpill", "pgm-x86", ["--mode", "pure"]),        # a divergent run is deterministic too
]


@pytest.mark.parametrize("image,isa,mode", RUNS)
def test_same_run_same_bytes(cli, image, isa, mode):
    for extra in (["--json"], ["--stats"]):
        a = cli("run", image, "--isa", isa, *mode, *extra)
        b = cli("run", image, "--isa", isa, *mode, *extra)
        assert (a.code, a.out, a.err) == (b.code, b.out, b.err)
        assert "wall" not in a.out + a.err


@pytest.mark.parametrize("mode", ["bare", "pure", "interpret", "hybrid", "patch"])
def test_several_vms_same_bytes(cli, mode):
    args = ["run", "guest:syscalls:small", "guest:timer:small", "guest:stopwatch:small", "--isa", "pgm-virt",
            "--mode", mode, "--slice", "1500"]
    for extra in ([], ["--json"], ["--stats"]):
        a, b = cli(*args, *extra), cli(*args, *extra)
        assert (a.code, a.out, a.err) == (b.code, b.out, b.err)


def test_timing_is_there_when_asked_for(cli):
    r = cli("run", "guest:redpill", "--mode", "hybrid", "--stats", "--timing")
    assert ", wall " in r.err
