"""pgm guests run compiled (blocks of inlined one-line templates) and per instruction alike:
the same counts by mode, traps, timer interrupts, console, registers and storage."""

from __future__ import annotations

import pytest

from hybridvmm.guests import build_guest
from hybridvmm.isas import build_machine

MAX_STEPS = 5_000_000


def _run(name: str, isa: str, compiled: bool) -> tuple:
    image = build_guest(name, isa, None, small=True)
    m = build_machine(image.isa, image=image)
    m.compile = compiled
    result = m.run(MAX_STEPS)
    return result.reason, m.stats.as_dict(), m.console.text(), m.cpu_state(), bytes(m.storage.data), m.blocks.compiled


@pytest.mark.parametrize("isa", ["pgm", "pgm-x86"])
@pytest.mark.parametrize("name", ["minios", "sieve", "fib", "sort"])
def test_compiled_and_per_instruction_runs_agree(name, isa):
    *compiled, blocks = _run(name, isa, True)
    *plain, none = _run(name, isa, False)
    assert blocks > 0 and none == 0        # the comparison is between two different paths
    assert compiled == plain
