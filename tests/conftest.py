"""Shared fixtures: the CLI runner used by every test that checks exit codes and output.

Also the hypothesis profile ``ci``: derandomised, so that a new random example can never
fail CI (long random searches belong in scripts), and without deadlines, which a shared
machine's timing would break.  ``HYPOTHESIS_PROFILE=ci`` selects it (``.ci/run`` does);
unset, hypothesis chooses its own default.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from hybridvmm.cli import main

settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def cli(capsys):
    """Run ``main(argv)`` and capture (exit code, stdout, stderr)."""

    def run(*argv: str) -> CliResult:
        code = main(list(argv))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
