"""CI runs hypothesis derandomised: a new random example must never fail a landing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent


def test_ci_profile_is_derandomised():
    assert settings.get_profile("ci").derandomize


def test_ci_script_selects_the_profile():
    assert "export HYPOTHESIS_PROFILE=ci" in (ROOT / ".ci" / "run").read_text()


def test_the_environment_selects_the_profile():
    code = "import conftest; from hypothesis import settings; print(settings.default.derandomize)"
    env = {**os.environ, "HYPOTHESIS_PROFILE": "ci"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "tests", env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "True"
