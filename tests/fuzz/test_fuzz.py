"""A short run of every fuzz target (``scripts/fuzz.py`` runs them for hours).

Each target's cases may end only in the tool's own clear error or a guest's own failure;
see :mod:`harness` for what counts as a failure.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

_spec = importlib.util.spec_from_file_location("fuzz_harness", Path(__file__).with_name("harness.py"))
harness = importlib.util.module_from_spec(_spec)
sys.modules["fuzz_harness"] = harness
_spec.loader.exec_module(harness)

CASES = {"compare": 20, "asm": 25}
"""Cases per target in the suite (default 40): seconds in all; the slow targets fewer."""


@pytest.mark.parametrize("name", list(harness.TARGETS))
def test_fuzz_target_briefly(name):
    target = harness.TARGETS[name]

    @seed(20240601)
    @settings(max_examples=CASES.get(name, 40), database=None, deadline=None, derandomize=True,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(target.strategy())
    def case(value):
        assert target.check(value) in (harness.OK, harness.ERROR, harness.GUEST)

    case()
