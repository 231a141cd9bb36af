"""Reports rendered once per session (each costs seconds of runs) for the report tests.

The report needs the optional extra (matplotlib, jinja2); the ``test`` extra installs it,
and where it is missing these fixtures skip the tests that use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from hybridvmm.cli import main


@dataclass
class Rendered:
    path: Path
    code: int

    @property
    def html(self) -> str:
        return self.path.read_text(encoding="utf-8")


def render(tmp_path_factory, name: str, *argv: str) -> Rendered:
    pytest.importorskip("matplotlib")
    pytest.importorskip("jinja2")
    path = tmp_path_factory.mktemp("report") / name
    code = main(["report", *argv, "-o", str(path)])
    assert path.exists(), f"report {' '.join(argv)} wrote nothing (exit {code})"
    return Rendered(path, code)


@pytest.fixture(scope="session")
def pgm_report(tmp_path_factory) -> Rendered:
    """guest:redpill in every mode: two divergences (pure, hybrid-no-patch), patches in hybrid and patch."""
    return render(tmp_path_factory, "redpill.html", "guest:redpill")


@pytest.fixture(scope="session")
def riscv_report(tmp_path_factory) -> Rendered:
    """guest:rvcounters in every mode: RISC-V, equivalent everywhere, no sensitive-unprivileged site."""
    return render(tmp_path_factory, "rvcounters.html", "guest:rvcounters")
