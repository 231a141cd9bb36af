"""Shared fixtures: the CLI runner used by every test that checks exit codes and output."""

from __future__ import annotations

import pytest

from hybridvmm.cli import main


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
