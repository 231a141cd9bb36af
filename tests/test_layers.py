"""The package layering: a lower layer never imports a higher one (REVIEW §1.3).

Every import counts, top-level, function-local and ``TYPE_CHECKING`` alike: a local import
hides a cycle, it does not remove it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "hybridvmm"


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports (``from a import b`` counts as ``a`` and ``a.b``)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return out


def modules(where: str) -> list[Path]:
    """The files of a module (``scan/memory.py``) or package (``scan/``) under hybridvmm/."""
    target = PACKAGE / where
    return sorted(target.rglob("*.py")) if target.is_dir() else [target]


def offending(where: str, forbidden: str) -> list[str]:
    return [f"{path.relative_to(PACKAGE)} imports {name}"
            for path in modules(where) for name in sorted(imports(path))
            if name == forbidden or name.startswith(forbidden + ".")]


RULES = [
    ("scan", "hybridvmm.patch"),
    ("scan", "hybridvmm.vmm"),
    ("patch_table.py", "hybridvmm.patch"),
    ("patch_table.py", "hybridvmm.scan"),
    ("patch", "hybridvmm.loading"),
    ("patch", "hybridvmm.cli_support"),
    ("classify", "hybridvmm.isas"),
    ("isas", "hybridvmm.cli_support"),
    ("isas", "hybridvmm.commands"),
    ("isas", "hybridvmm.cli"),
    ("commands", "hybridvmm.cli"),
    ("commands", "hybridvmm.isas.riscv"),
    ("recording.py", "hybridvmm.vmm"),
    ("commands/run.py", "hybridvmm.vmm.compare"),
]


@pytest.mark.parametrize(("where", "forbidden"), RULES)
def test_no_back_edge(where, forbidden):
    assert offending(where, forbidden) == []
