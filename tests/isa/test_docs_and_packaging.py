"""Documentation and packaging stay true to the code."""

from __future__ import annotations

import os
import re
import runpy
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


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


# --- the design documentation in docs/ and every reference to it ------------------------------

SKIPPED_DIRS = {".git", "__pycache__", ".pytest_cache", ".hypothesis", ".mypy_cache", ".ruff_cache", "build", "dist",
                "node_modules"}
MISSING_DESIGN = re.compile("DESIGN\\s*\u00a7")
"""A citation of the design brief the repository never held (written so as not to match itself)."""
DOCS_REFERENCE = re.compile(r"(?<![\w/.-])docs/([\w./-]+?\.md)(?:#([\w-]+)|,\s*'([^']+)')?")
"""``docs/<page>.md``, ``docs/<page>.md#anchor`` or ``docs/<page>.md, 'Section heading'``."""
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


def repository_text_files():
    """(relative path, text) of every file of the repository that is UTF-8 text, skipping
    virtual environments, caches and build output."""
    for directory, subdirs, files in os.walk(ROOT):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info")
                            and not (Path(directory) / d / "pyvenv.cfg").is_file())
        for name in sorted(files):
            path = Path(directory) / name
            try:
                if path.stat().st_size > 2_000_000:
                    continue
                yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def headings(page: Path) -> list[str]:
    """The section headings of a Markdown page (not the lines of its code blocks)."""
    out, fenced = [], False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            out.append(line.lstrip("#").strip())
    return out


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in headings(page):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def _normal(text: str) -> str:
    return " ".join(text.split()).lower()


def test_the_docs_have_an_index_that_links_every_page():
    pages = sorted(p.name for p in DOCS.glob("*.md") if p.name != "README.md")
    assert {"theory.md", "architecture.md", "modes.md"} <= set(pages)
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    assert not [p for p in pages if f"]({p})" not in index], "docs/README.md must link every page"


def test_nothing_cites_the_design_brief_by_section_number():
    """The design lives in docs/: a reference names a page and a section heading there."""
    found = [f"{path}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
             for path, text in repository_text_files() for m in MISSING_DESIGN.finditer(text)]
    assert not found, "cite docs/<page>.md, 'Section heading' instead:\n" + "\n".join(found)


def test_every_reference_to_the_docs_names_a_page_and_section_that_exist():
    bad, count = [], 0
    for path, text in repository_text_files():
        for m in DOCS_REFERENCE.finditer(text):
            count += 1
            page, anchor, heading = DOCS / m.group(1), m.group(2), m.group(3)
            line = text.count("\n", 0, m.start()) + 1
            where = f"{path}:{line}: {' '.join(m.group(0).split())}"
            if not page.is_file():
                bad.append(f"{where}: no such page")
            elif anchor is not None and anchor not in anchors(page):
                bad.append(f"{where}: no section with that anchor")
            elif heading is not None and _normal(heading) not in {_normal(h) for h in headings(page)}:
                bad.append(f"{where}: no section with that heading")
    assert count >= 10, f"only {count} references to docs/ found: is the search looking in the right place?"
    assert not bad, "\n".join(bad)


def test_links_in_the_docs_and_the_readme_lead_somewhere():
    bad = []
    for page in [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for m in MARKDOWN_LINK.finditer(text):
            target = m.group(1)
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            resolved = (page.parent / file) if file else page
            where = f"{page.relative_to(ROOT)}: ({target})"
            if not resolved.exists():
                bad.append(f"{where}: no such file")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                bad.append(f"{where}: no section with that anchor")
    assert not bad, "\n".join(bad)
