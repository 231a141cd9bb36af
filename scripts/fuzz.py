#!/usr/bin/env python3
"""Fuzz every input a user can hand the tool, for as long as you like (issue F, item 2).

    python scripts/fuzz.py --list
    python scripts/fuzz.py --target image --cases 100000 --seed 1
    python scripts/fuzz.py --target run-hybrid,compare --cases 100000 --seed 7 --out fuzz-out

The targets and what counts as a failure are in ``tests/fuzz/harness.py`` (the test suite
runs each one briefly).  For each target this prints the cases run, how many ended well,
in the tool's own clear error, or in a guest's own failure, and every distinct failure
with a reproducer; each failure's files go to ``--out``/TARGET-N/ with a ``cmd.sh`` (CLI
targets) or ``case.txt`` (library targets).  Exit 1 if anything failed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings

ROOT = Path(__file__).resolve().parents[1]


def load_harness():
    spec = importlib.util.spec_from_file_location("fuzz_harness", ROOT / "tests" / "fuzz" / "harness.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_harness"] = module
    spec.loader.exec_module(module)
    return module


def save(harness, out: Path, value, failure) -> None:
    """Write what reproduces ``failure``: the case's files and command, or the case's value."""
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(value, harness.CliCase):
        for d in value.dirs:
            (out / d).mkdir(parents=True, exist_ok=True)
        for name, data in value.files.items():
            (out / name).write_bytes(data)
        for name, target in value.links.items():
            if not os.path.lexists(out / name):
                (out / name).symlink_to(target)
        (out / "cmd.sh").write_text('cd "$(dirname "$0")" && ' + value.shell() + "\n")
    (out / "case.txt").write_text(f"{failure}\n\n{value!r}\n")


def run_target(harness, name: str, cases: int, seed_value: int, out: Path, every: int) -> tuple[Counter, dict]:
    target = harness.TARGETS[name]
    counts: Counter = Counter()
    failures: dict[str, list] = {}  # signature -> [count, first failure, where saved]
    start = time.monotonic()

    @seed(zlib.crc32(f"{seed_value}:{name}".encode()))  # each target its own sequence, the same for the same --seed
    @settings(max_examples=cases, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(target.strategy())
    def case(value) -> None:
        try:
            counts[target.check(value)] += 1
        except harness.Failure as failure:
            counts["failure"] += 1
            signature = f"{failure.kind}: {failure.detail.strip().splitlines()[0][:160] if failure.detail.strip() else ''}"
            if signature not in failures:
                where = out / f"{name}-{len(failures) + 1}"
                save(harness, where, value, failure)
                failures[signature] = [0, failure, where]
                print(f"[{name}] FAILURE {signature}\n  reproduce: {failure.reproducer[:600]}\n  saved in {where}",
                      flush=True)
            failures[signature][0] += 1
        done = sum(counts.values())
        if done % every == 0:
            print(f"[{name}] {done:,} cases, {dict(counts)}, {time.monotonic() - start:,.0f} s", flush=True)

    case()
    return counts, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="all", help="target name(s), comma-separated, or 'all' (see --list)")
    parser.add_argument("--cases", type=int, default=1000, help="cases per target (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0); each target's hypothesis seed is derived "
                        "from it and the target's name, so one target rerun alone sees the same cases")
    parser.add_argument("--out", default="fuzz-out", help="where failures' reproducers go (default fuzz-out)")
    parser.add_argument("--every", type=int, default=5000, help="print progress every N cases")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    args = parser.parse_args(argv)
    harness = load_harness()
    if args.list:
        for t in harness.TARGETS.values():
            print(f"{t.name:<14} {t.describe}")
        return 0
    names = list(harness.TARGETS) if args.target == "all" else args.target.split(",")
    unknown = [n for n in names if n not in harness.TARGETS]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)} (targets: {', '.join(harness.TARGETS)})")
    failed = False
    rows = []
    for name in names:
        start = time.monotonic()
        counts, failures = run_target(harness, name, args.cases, args.seed, Path(args.out), args.every)
        seconds = time.monotonic() - start
        total = sum(counts.values())
        rows.append((name, total, counts[harness.OK], counts[harness.ERROR], counts[harness.GUEST], counts["failure"],
                     len(failures), seconds))
        for signature, (count, failure, where) in failures.items():
            failed = True
            print(f"[{name}] {count} x {signature}\n  reproduce: {failure.reproducer[:600]}\n  saved in {where}")
    print(f"\n{'target':<14}{'cases':>10}{'ok':>10}{'errors':>10}{'guest':>10}{'failures':>10}{'distinct':>10}{'seconds':>10}")
    for name, total, ok, errors, guest, bad, distinct, seconds in rows:
        print(f"{name:<14}{total:>10,}{ok:>10,}{errors:>10,}{guest:>10,}{bad:>10,}{distinct:>10,}{seconds:>10,.0f}")
    print(f"\nseed {args.seed}, {args.cases:,} cases asked per target; 'errors' are the tool's own one-line errors (exit 2), "
          "'guest' a guest's own failure (exit 1)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
