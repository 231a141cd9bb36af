"""The micro-guests' shared klib reporter: an unexpected trap is reported, then halt."""

from __future__ import annotations

import pytest

from hybridvmm.guests import build_guest
from hybridvmm.isas import build_machine


@pytest.mark.parametrize("name", ["syscalls", "timer", "privileged", "kcompute", "kjit"])
def test_an_illegal_instruction_is_reported_with_status_and_pc(name):
    image = build_guest(name, "pgm-virt", small=True)
    machine = build_machine("pgm-virt", image=image)
    machine.run(2_000)  # boot: the kernel installs its trap vectors
    assert not machine.halted
    pc = machine.pc
    machine.write(machine.base + pc, b"\x00\x00")  # not an instruction: an illegal-instruction trap
    before = len(machine.console.text())
    result = machine.run(100_000)
    assert result.reason == "halted"
    report = machine.console.text()[before:]
    assert report.startswith(f"{name}: unexpected trap, status ")
    status_text, pc_text = report.strip().split("status ", 1)[1].split(" at pc ")
    status, faulting = int(status_text, 16), int(pc_text, 16)
    assert (status >> 8) & 0xFF == 2  # cause: illegal instruction
    assert faulting == pc
