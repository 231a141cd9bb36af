"""A trap loop is reported by the trap that began it (issue K §4, item 4).

A program with no trap vectors that faults in user mode enters a loop of bounds traps (the
empty vector's PSW cannot even fetch); the ending must name the first trap — the faulting
instruction, disassembled, and its address — not only the last bounds trap of the loop.
"""

from __future__ import annotations

import pytest

from hybridvmm.asm import assemble

PROGRAM = """
.isa pgm
        .entry boot
        .org 0x100
boot:   clr     r12             ; enter user mode at 0x200 under R = (0, 0x1000), with rti
        movi    r1, 1
        st      r1, 0(r12)
        movl    r1, 0x200
        st      r1, 4(r12)
        clr     r1
        st      r1, 8(r12)
        movl    r1, 0x1000
        st      r1, 12(r12)
        rti
        .org 0x200
        {culprit}
"""


@pytest.fixture
def image(tmp_path):
    def make(culprit: str):
        path = tmp_path / "loop.img"
        path.write_bytes(assemble(PROGRAM.format(culprit=culprit), "pgm", "loop.s").to_bytes())
        return str(path)
    return make


@pytest.mark.parametrize("mode", ["bare", "hybrid", "interpret"])
@pytest.mark.parametrize(("culprit", "first"), [
    ("halt", "privileged trap by halt at 0x200"),
    ("setr r3, r4", "privileged trap by setr r3, r4 at 0x200"),
])
def test_the_ending_names_the_first_trap_of_the_loop(cli, image, mode, culprit, first):
    r = cli("run", image(culprit), "--mode", mode)
    assert r.code == 1
    ending = r.err.strip().splitlines()[-1]
    assert ending.startswith(f"hybridvmm: run: guest stopped (trap-loop): {first}, then 16 traps"), ending
    assert ending.endswith("the last: bounds trap at 0x0 (address 0x0)"), ending
