"""Documentation and packaging stay true to the code."""

from __future__ import annotations

import runpy
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_format_md_pgm_table_matches_the_spec():
    module = runpy.run_path(str(ROOT / "scripts" / "format_table.py"))
    text = (ROOT / "isa_specs" / "FORMAT.md").read_text()
    current = text.split(module["BEGIN"], 1)[1].split(module["END"], 1)[0].strip()
    assert current == module["pgm_table"]()


def test_every_package_directory_is_packaged():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "hybridvmm").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    missing = on_disk - listed
    assert not missing, f"add these packages to pyproject.toml: {sorted(missing)}"


def test_installed_package_data_finds_the_specs():
    import importlib.util

    import pytest

    from hybridvmm.isa.loader import installed_specs_dir

    if importlib.util.find_spec("hybridvmm.isa_specs") is None:
        pytest.skip("not installed (pip install -e . maps hybridvmm.isa_specs)")
    directory = installed_specs_dir()
    assert (directory / "pgm.toml").is_file() and (directory / "FORMAT.md").is_file()
