"""Shared helpers for the bundled-guest tests: run a guest on the bare machine once and
remember the result (minios and friends are run by several tests)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from hybridvmm.guests import build_guest
from hybridvmm.image import Image
from hybridvmm.isas import build_machine
from hybridvmm.machine.core import Machine
from hybridvmm.machine.results import RunResult

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("HYBRIDVMM_UPDATE_GOLDEN") == "1"
"""Set HYBRIDVMM_UPDATE_GOLDEN=1 to rewrite the golden files from the current guests."""

MAX_STEPS = 5_000_000


@dataclass
class GuestRun:
    image: Image
    machine: Machine
    result: RunResult

    @property
    def output(self) -> str:
        return self.machine.console.text()

    @property
    def lines(self) -> list[str]:
        return self.output.splitlines()


def run_guest(name: str, isa: str, defines: dict | None = None, small: bool = True, semantics: dict | None = None) -> GuestRun:
    image = build_guest(name, isa, defines, small=small)
    extra = {"semantics": semantics} if semantics else {}
    m = build_machine(image.isa, image=image, **extra)
    result = m.run(MAX_STEPS)
    return GuestRun(image, m, result)


_cache: dict = {}


@pytest.fixture(scope="session")
def guest_run():
    """``guest_run(name, isa, **defines)``: the (cached) small-size run of a guest."""

    def get(name: str, isa: str, **defines) -> GuestRun:
        key = (name, isa, tuple(sorted(defines.items())))
        if key not in _cache:
            _cache[key] = run_guest(name, isa, defines or None)
        return _cache[key]

    return get


@pytest.fixture(scope="session")
def guest_run_fresh():
    """``guest_run_fresh(name, isa, defines=None, small=True, semantics=None)``: an uncached run
    (``semantics`` overrides instruction semantics: a deliberately broken machine)."""
    return run_guest


@pytest.fixture(scope="session")
def golden():
    """``golden(name, text)``: assert ``text`` equals the guest's golden output (or rewrite it)."""

    def check(name: str, text: str) -> None:
        path = GOLDEN / f"{name}.txt"
        if UPDATE:
            GOLDEN.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
        assert path.exists(), f"no golden output for {name}: run the tests with HYBRIDVMM_UPDATE_GOLDEN=1"
        expected = path.read_text(encoding="utf-8")
        assert text == expected, f"console output of guest {name} differs from {path.name}"

    return check
