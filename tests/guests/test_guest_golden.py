"""Golden console output of every bundled guest on every pgm variant (bare machine).

The guests are written so that their output does not depend on the variant: where a
variant traps a sensitive instruction in user mode, the minios kernel emulates it and
charges it exactly one instruction of time.  So one golden file per guest serves all
three variants - and a VMM must reproduce it too.  Regenerate with
HYBRIDVMM_UPDATE_GOLDEN=1 after a deliberate change to a guest.
"""

from __future__ import annotations

import pytest

from hybridvmm.guests import GUESTS, VARIANTS

NAMES = [name for name, g in GUESTS.items() if g.kind != "hostile" and g.variants == VARIANTS]
"""(The hostile guests have their own tests: tests/vmm/test_hostile.py; rvminios, on rv32,
has tests/guests/test_rvminios.py.)"""


@pytest.mark.parametrize("isa", VARIANTS)
@pytest.mark.parametrize("name", NAMES)
def test_golden_output(name, isa, guest_run, golden):
    run = guest_run(name, isa)
    assert run.result.halted, f"{name} on {isa}: {run.result}"
    golden(name, run.output)  # one file for all three variants: the output is identical


@pytest.mark.parametrize("isa", VARIANTS)
def test_run_command_minios_matches_golden(isa, cli, golden):
    r = cli("run", "guest:minios", "--isa", isa, "--mode", "bare")
    assert r.code == 0, r.err
    golden("minios", r.out)


def test_run_command_stats_minios(cli):
    r = cli("run", "guest:minios", "--isa", "pgm-virt", "--mode", "bare", "--stats")
    assert r.code == 0
    assert "timer interrupts" in r.err and "privileged 8" in r.err
