"""docs/writing-guests.md is true: every ``python -m hybridvmm`` command it shows runs from the
root of a fresh clone, in order, ends with the exit status its output implies and prints the
lines shown after it; every command named inline runs; and every assembly excerpt is the
text of the example (or bundled guest) it quotes."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "writing-guests.md").read_text()
DECIMAL = re.compile(r" *\d+\.\d+")
"""Decimal figures (and the blanks that right-align them) are masked before a shown line is compared: wall times, their ratios and
percentages beside the exact counts that are compared."""
PLACEHOLDER = re.compile(r"\b[A-Z]{2,}\b")
"""An inline command with a word like IMAGE or MODE is a pattern, not a command to run."""
SOURCES = sorted((ROOT / "examples").glob("*.s")) + sorted((ROOT / "hybridvmm" / "guests").glob("*.s"))


def masked(line: str) -> str:
    return DECIMAL.sub("#", line.rstrip())


def blocks() -> list[tuple[str, list[str]]]:
    """(info string, lines) of every fenced code block of the guide."""
    out: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    for line in GUIDE.splitlines():
        if line.startswith("```"):
            if current is None:
                current = []
                out.append((line[3:].strip(), current))
            else:
                current = None
        elif current is not None:
            current.append(line)
    return out


def prose() -> str:
    """The guide without its code blocks."""
    out, fenced = [], False
    for line in GUIDE.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            out.append(line)
    return "\n".join(out)


def shown_commands() -> list[tuple[list[str], int, list[str]]]:
    """(argv, exit status, the lines shown after it) of every ``$ python -m hybridvmm``
    line of the guide's plain code blocks, in order.  A run's ``hybridvmm: run:`` line means
    exit status 1, an assembler's ``file:line:`` line 2."""
    out = []
    for info, lines in blocks():
        if info:
            continue
        for i, line in enumerate(lines):
            if not line.startswith("$ "):
                continue
            shown = []
            for follow in lines[i + 1:]:
                if follow.startswith("$ "):
                    break
                shown.append(follow)
            argv = shlex.split(line[2:])
            assert argv[:3] == ["python", "-m", "hybridvmm"], line
            status = 0
            if any(s.startswith("hybridvmm: run:") for s in shown):
                status = 1
            if any(re.match(r"\S+\.s:\d+: ", s) for s in shown):
                status = 2
            out.append((argv[3:], status, shown))
    return out


def inline_commands() -> list[list[str]]:
    """The ``python -m hybridvmm ...`` commands named in the guide's text (not patterns)."""
    found = []
    for span in re.findall(r"`(python -m hybridvmm[^`]*)`", prose(), re.S):
        command = " ".join(span.split())
        if not PLACEHOLDER.search(command):
            found.append(shlex.split(command)[3:])
    return found


def excerpts() -> list[str]:
    return ["\n".join(lines) + "\n" for info, lines in blocks() if info == "asm"]


def test_the_guide_has_its_commands_and_excerpts():
    argvs = [" ".join(a) for a, _, _ in shown_commands()]
    for expected in ("asm examples/skeleton.s -o skeleton.img", "asm examples/usermode.s -o usermode.img",
                     "run usermode.img --mode hybrid --stats", "compare usermode.img",
                     "compare usermode.img --isa pgm-x86", "asm examples/rv32_usermode.s -o rvuser.img",
                     "compare rvuser.img", "run usermode.img --regs"):
        assert expected in argvs
    assert any("--trace" in a and "regs" in a for a in argvs)
    assert len(inline_commands()) >= 4 and len(excerpts()) >= 10


def test_every_shown_command_works_from_a_fresh_clone(cli, tmp_path, monkeypatch):
    for name in ("examples", "tests", "isa_specs", "hybridvmm", "scripts"):
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    stale = []
    for argv, status, shown in shown_commands():
        r = cli(*argv)
        assert r.code == status, f"python -m hybridvmm {' '.join(argv)}: exit {r.code}, {r.err[-300:]}"
        assert "Traceback" not in r.err
        printed = {masked(line) for line in (r.out + r.err).splitlines()}
        stale += [f"python -m hybridvmm {' '.join(argv)}:\n    {line}" for line in shown
                  if line.strip() not in ("", "...") and masked(line) not in printed]
    assert not stale, "the guide shows lines these commands no longer print:\n" + "\n".join(stale)


def test_every_command_named_in_the_text_works(cli, tmp_path, monkeypatch):
    for name in ("examples", "tests", "isa_specs", "hybridvmm", "scripts"):
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    for argv in inline_commands():
        try:
            code = cli(*argv).code
        except SystemExit as exc:  # --help
            code = exc.code
        assert code == 0, f"python -m hybridvmm {' '.join(argv)}: exit {code}"


def test_every_assembly_excerpt_is_the_text_it_quotes():
    texts = {path: path.read_text() for path in SOURCES}
    missing = [excerpt.splitlines()[0] for excerpt in excerpts()
               if not any(excerpt in text for text in texts.values())]
    assert not missing, "excerpts no file holds (first lines):\n" + "\n".join(missing)


def test_the_guide_names_the_examples_it_builds():
    for name in ("usermode.s", "rv32_usermode.s", "skeleton.s"):
        assert (ROOT / "examples" / name).is_file() and f"examples/{name}" in GUIDE
