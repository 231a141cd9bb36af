"""The official riscv-tests under the monitor: they pass and are equivalent to the bare machine.

Every ``mi``, ``si`` and ``v`` test of both XLENs (the privileged ones, and the ones whose
own S-mode kernel pages the test through Sv32/Sv39) under ``pure``, ``hybrid`` and ``bt``, and a
sample of the ``p`` tests under ``interpret`` and ``patch``; ``scripts/riscv_tests.py
--mode all`` (``--xlen all``) runs every test in every mode.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hybridvmm.loading import load_program
from hybridvmm.vmm.compare import compare_images

DATA = Path(__file__).resolve().parents[1] / "data" / "riscv-tests"
ELFS = sorted([DATA / "elf" / n for n in sorted((DATA / "elf").iterdir())] +
              [DATA / "elf64" / n for n in sorted((DATA / "elf64").iterdir())])
PRIVILEGED_OR_PAGED = [p for p in ELFS if "mi-p-" in p.name or "si-p-" in p.name or "-v-" in p.name]
SAMPLE_P = [p for p in ELFS if "-p-" in p.name and ("mi-p-" not in p.name and "si-p-" not in p.name)][::7]
LIMIT = 3_000_000


def equivalent_and_passing(path: Path, modes: list[str]) -> None:
    [c] = compare_images([load_program(str(path))], modes, max_steps=LIMIT, locate_divergences=False)
    for row in c.rows:
        assert row.equivalent, f"{path.name} {row.mode}: {row.divergence.describe()}"
        assert row.run.vm.vcpu.exit_code == 0, f"{path.name} {row.mode}: {row.run.vm.vcpu.exit_message}"


@pytest.mark.parametrize("path", PRIVILEGED_OR_PAGED, ids=lambda p: p.name)
def test_privileged_and_paged_tests_under_pure_hybrid_and_bt(path):
    equivalent_and_passing(path, ["pure", "hybrid", "bt"])


@pytest.mark.parametrize("path", SAMPLE_P, ids=lambda p: p.name)
def test_a_sample_of_p_tests_under_interpret_and_patch(path):
    equivalent_and_passing(path, ["interpret", "patch"])


def test_the_selection_covers_both_xlens_and_every_privileged_test():
    names = {p.name for p in PRIVILEGED_OR_PAGED}
    assert sum(n.startswith("rv64") for n in names) > 80 and sum(n.startswith("rv32") for n in names) > 70
    assert {"rv32mi-p-instret_overflow", "rv64si-p-dirty", "rv64ui-v-add"} <= names
