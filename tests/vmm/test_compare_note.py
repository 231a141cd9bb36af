"""``compare`` says what its wall column means (issue K §4, item 8): the host is Python too,
so ``interpret`` costs about what bare does in wall time; only the simulated host cycles
carry the classic ratios.  The note is ``bench``'s own (one text, not a copy)."""

from __future__ import annotations

import json

from hybridvmm.commands.bench import WALL_NOTE

ARGS = ("--modes", "interpret,hybrid", "--no-locate")


def test_the_table_is_followed_by_the_note(cli):
    r = cli("compare", "guest:fib:small", *ARGS)
    assert r.code == 0
    assert r.out.rstrip().splitlines()[-1] == f"note: {WALL_NOTE}"
    assert "simulated host cycles" in WALL_NOTE


def test_json_carries_the_note(cli):
    r = cli("compare", "guest:fib:small", *ARGS, "--json")
    assert json.loads(r.out)["note"] == WALL_NOTE
    r = cli("compare", "guest:fib:small", "guest:sieve:small", *ARGS, "--json")
    data = json.loads(r.out)
    assert data["note"] == WALL_NOTE and len(data["images"]) == 2
