"""``run --trace insn`` under the monitor counts as the bare machine does (issue K §4, item 2).

While a VM runs directly, its virtual CPU's count stands still (the host is ahead of it
until the next exit credits what it ran), so the trace must add what the host ran since;
with several VMs, each VM's lines count that VM's instructions.  Each VM's trace, less
the lines of instructions the host attempted before an exit (shown again as the monitor
emulates them), is the bare trace of that guest line for line: the same count, pc and mode.
"""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from hybridvmm.cli import main

BARE = re.compile(r"^\s*(\d+)  ([MSU])  ([0-9a-f]{8,})  ")
MONITOR = re.compile(r"^\[(vm\d+)\] ([MSU])  insn   (direct|interp) +(\d+)  ([0-9a-f]{8,})  ")
STEPS = 4000


def _trace(*argv: str) -> list[str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        main(["run", *argv, "--trace", "insn", "--max-steps", str(STEPS)])
    return err.getvalue().splitlines()


def _bare(guest: str, *extra: str) -> list[tuple[int, str, str]]:
    return [(int(m[1]), m[2], m[3]) for m in map(BARE.match, _trace(guest, *extra)) if m]


def _monitor(guests: list[str], mode: str, *extra: str) -> dict[str, list[tuple[int, str, str]]]:
    """Each VM's (count, mode, pc), an attempted instruction's line dropped when the next
    line of that VM is the same instruction at the same count."""
    rows: dict[str, list[tuple[str, int, str, str]]] = {}
    for m in map(MONITOR.match, _trace(*guests, "--mode", mode, "--slice", "700", *extra)):
        if m:
            rows.setdefault(m[1], []).append((m[3], int(m[4]), m[2], m[5]))
    out = {}
    for vm, lines in rows.items():
        kept = [(c, mode_, pc) for k, (where, c, mode_, pc) in enumerate(lines)
                if not (where == "direct" and k + 1 < len(lines) and lines[k + 1][1:] == (c, mode_, pc))]
        out[vm] = kept
    return out


@pytest.mark.parametrize(("guests", "mode", "extra"), [
    (["guest:fib:small", "guest:sieve:small"], "hybrid", ()),
    (["guest:fib:small", "guest:sieve:small"], "pure", ("--isa", "pgm-virt")),
    (["guest:rvminios", "guest:rvloop:LOOP_N=20"], "pure", ()),
])
def test_each_vm_traces_the_counts_of_its_bare_run(guests, mode, extra):
    traced = _monitor(guests, mode, *extra)
    for k, guest in enumerate(guests):
        bare = _bare(guest, *extra)
        assert len(bare) > 600
        mine = traced[f"vm{k + 1}"]
        first = next((i for i, (a, b) in enumerate(zip(bare, mine)) if a != b), None)
        assert first is None and len(mine) == len(bare), (guest, first, bare[first:first + 3], mine[first:first + 3])
