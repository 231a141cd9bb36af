"""``run --trace insn`` names each traced pc with the image's symbol only where the guest's
mapping is the identity there, and the monitor's trace says exactly what the bare
machine's does: the same guest instruction count, mode and symbol for every instruction.

minios runs its tasks relocated, at virtual addresses that fall inside the kernel's own
sections (a task's 0x10c is not the kernel's ``boot``); rvminios pages its U-mode tasks
under Sv32 while its M firmware and S kernel run at their physical addresses.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re

import pytest

from hybridvmm.cli import main
from hybridvmm.guests import build_guest
from hybridvmm.symbols import SymbolTable

LINE = re.compile(r"^(?:\[vm\d+\] (?P<vmmode>[MSU])  insn   (?:direct|interp) +(?P<vmcount>\d+)"
                  r"|\s*(?P<count>\d+)  (?P<mode>[MSU]))  (?P<address>[0-9a-f]{8,})  .*?(?:  (?P<symbol><[^>]+>))?$")


@functools.cache
def trace(guest: str, steps: int, mode: str, *extra: str) -> list[tuple[int, str, int, str]]:
    """(count, mode initial, pc, symbol) of every instruction line of the trace (each
    trace made once for the module)."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        main(["run", guest, "--trace", "insn", "--max-steps", str(steps), "--mode", mode, *extra])
    rows = []
    for line in err.getvalue().splitlines():
        m = LINE.match(line)
        if m:
            count = m.group("count") or m.group("vmcount")
            rows.append((int(count), m.group("mode") or m.group("vmmode"), int(m.group("address"), 16), m.group("symbol") or ""))
    assert rows, err.getvalue()[:500]
    return rows


CASES = [("guest:minios:small", 12_000, ("--isa", "pgm-virt")), ("guest:rvminios", 28_000, ())]


def test_bare_names_identity_mapped_pcs_only():
    """minios: kernel pcs are named; a task's pcs, in U-mode and in the part of the S-mode
    trampoline that runs relocated, are kernel addresses the rule must not name."""
    table = SymbolTable.from_image(build_guest("minios:small", "pgm-virt"))
    rows = trace("guest:minios:small", 12_000, "bare", "--isa", "pgm-virt")
    user = [pc for _, m, pc, symbol in rows if m == "U"]
    assert user and all(table.nearest(pc) for pc in user)
    assert all(symbol == "" for _, m, _, symbol in rows if m == "U")
    named = [(pc, symbol) for _, m, pc, symbol in rows if m == "S" and symbol]
    assert len(named) > 0.9 * sum(m == "S" for _, m, _, _ in rows)
    assert all(symbol == table.nearest(pc) for pc, symbol in named)
    trampoline = {symbol for _, m, pc, symbol in rows if m == "S" and table.nearest(pc).startswith("<trampoline")}
    assert trampoline == {"<trampoline>", ""}   # its first instruction sets R: the rest runs relocated


def test_bare_riscv_names_m_and_s_not_paged_u():
    """rvminios: M firmware and the S kernel at their physical addresses, U tasks paged."""
    table = SymbolTable.from_image(build_guest("rvminios"))
    rows = trace("guest:rvminios", 28_000, "bare")
    assert {m for _, m, _, _ in rows} == {"M", "S", "U"}
    assert all(symbol == "" if m == "U" else symbol == table.nearest(pc) != "" for _, m, pc, symbol in rows)


@pytest.mark.parametrize(("guest", "steps", "extra"), CASES)
@pytest.mark.parametrize("mode", ["pure", "hybrid"])
def test_the_monitor_traces_each_instruction_as_bare_does(guest, steps, extra, mode):
    """Every bare instruction appears in the monitor's trace with its count, mode and symbol
    (the monitor's also shows instructions the host attempted before an exit)."""
    bare = trace(guest, steps, "bare", *extra)
    seen = {(count, pc): (m, symbol) for count, m, pc, symbol in trace(guest, steps, mode, *extra)}
    assert [(c, pc, seen.get((c, pc))) for c, m, pc, symbol in bare if seen.get((c, pc)) != (m, symbol)] == []
