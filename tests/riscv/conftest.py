"""Fixtures for the RISC-V tests; helpers live in ``rvrig`` (this directory and tests/contract
are put on the import path, so test modules can import ``rvrig`` and ``machine_contract``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for _p in (HERE, HERE.parent / "contract"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from rvrig import Rig, load_asm  # noqa: E402


@pytest.fixture
def rig():
    """``rig(ram=..., vectors=False, pmp=True)`` → a fresh :class:`rvrig.Rig`."""
    return Rig


@pytest.fixture
def asm_machine():
    """``asm_machine(source)`` → a machine with the assembled program loaded."""
    return load_asm
