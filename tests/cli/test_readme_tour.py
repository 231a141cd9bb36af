"""The README's tour works pasted from the root of a fresh clone: every ``python -m
hybridvmm`` command in it runs, in order, from a directory that holds what a clone holds,
and ends with the exit status its shown output implies."""

from __future__ import annotations

import re
import shlex
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
DECIMAL = re.compile(r" *\d+\.\d+")
"""Decimal figures (and the blanks that right-align them) are masked before a shown line is compared: they are wall times and
ratios of them (the machine the README was written on is not this one) or percentages
beside the exact counts that are compared."""


def masked(line: str) -> str:
    return DECIMAL.sub("#", line.rstrip())


TOUR = README.split("## A tour of the subcommands", 1)[1].split("\n## ", 1)[0]


def tour_commands() -> list[tuple[list[str], int, list[str] | None]]:
    """(argv, expected exit status, the output lines shown after it) of every hybridvmm
    command of the tour, in order; the commands of one line joined by ``&&`` show their
    output together, after the last (the others have None)."""
    out: list[tuple[list[str], int, list[str] | None]] = []
    for block in re.findall(r"```\n(.*?)```", TOUR, re.S):
        lines = block.splitlines()
        for i, line in enumerate(lines):
            if not line.startswith("$ "):
                continue
            shown = []
            for follow in lines[i + 1 + line.endswith("\\"):]:  # (a continued command's second line is not output)
                if follow.startswith("$ "):
                    break
                shown.append(follow)
            echoed = re.findall(r"&& echo (\w+)", line + (lines[i + 1] if line.endswith("\\") else ""))
            shown = [s for s in shown if s.strip() not in echoed]  # what the shell printed, not the tool
            command = line[2:].split("  #", 1)[0].replace("\\", "")
            if command.startswith("diff "):  # the objdump comparison: its hybridvmm half
                command = re.search(r"<\((python -m hybridvmm [^)]*)\)", lines[i + 1] if "\\" in line else line).group(1)
            parts = [shlex.split(p) for p in command.split("&&")]
            parts = [p[3:] for p in parts if p[:3] == ["python", "-m", "hybridvmm"]]
            status = 0  # of the last command of the line; the ones before it succeed
            if any(s.startswith("hybridvmm: run:") for s in shown) and "&& echo" not in command:
                status = 1
            if any(re.match(r"\S+\.s:\d+: ", s) for s in shown):
                status = 2
            last = len(parts) - 1
            out += [(argv, status if k == last else 0, shown if k == last else None) for k, argv in enumerate(parts)]
    return out


def test_the_tour_has_its_commands():
    argvs = [" ".join(a) for a, _, _ in tour_commands()]
    assert "asm examples/hello.s -o hello.img" in argvs and len(argvs) >= 20


def test_every_tour_command_works_from_a_fresh_clone(cli, tmp_path, monkeypatch):
    for name in ("examples", "tests", "isa_specs", "hybridvmm", "scripts"):
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    stale, printed = [], set()
    for argv, status, shown in tour_commands():
        r = cli(*argv)
        assert r.code == status, f"python -m hybridvmm {' '.join(argv)}: exit {r.code}, {r.err[-300:]}"
        assert "Traceback" not in r.err
        printed |= {masked(line) for line in (r.out + r.err).splitlines()}
        if shown is None:
            continue  # its output is shown after the line's last command
        stale += [f"python -m hybridvmm {' '.join(argv)}:\n    {line}" for line in shown
                  if line.strip() not in ("", "...") and masked(line) not in printed]
        printed = set()
    assert not stale, "the README shows lines these commands no longer print:\n" + "\n".join(stale)
