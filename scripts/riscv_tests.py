"""Run the vendored riscv-tests on the bare RISC-V machine and print the pass/fail table.

    python scripts/riscv_tests.py [--elf-dir DIR] [--json] [PATTERN ...]

One row per ELF (result, guest instructions, time), then the suite × environment table
and the totals.  Exit 0 when every selected test passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
import time
from pathlib import Path

from hybridvmm.isas import build_machine
from hybridvmm.loading import load_program

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "riscv-tests" / "elf"
LIMIT = 2_000_000


def run_one(path: Path) -> dict:
    image = load_program(str(path))
    start = time.perf_counter()
    m = build_machine("rv32", image=image)
    result = m.run(LIMIT)
    elapsed = time.perf_counter() - start
    passed = result.halted and m.exit_code == 0
    if passed:
        outcome = "pass"
    elif result.halted and m.exit_code is not None:
        outcome = m.exit_message or f"exit {m.exit_code}"
    else:
        outcome = f"{result.reason} at 0x{result.pc:x}"
    suite, env = path.name.split("-")[:2]
    return {"name": path.name, "suite": suite, "env": env, "passed": passed, "outcome": outcome,
            "instructions": m.stats.instructions, "seconds": elapsed}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("patterns", nargs="*", help="glob patterns of test names (default: all)")
    ap.add_argument("--elf-dir", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = ap.parse_args(argv)
    paths = sorted(p for p in args.elf_dir.iterdir()
                   if not args.patterns or any(fnmatch.fnmatch(p.name, pat) for pat in args.patterns))
    if not paths:
        print(f"riscv_tests: no test matches in {args.elf_dir}", file=sys.stderr)
        return 2
    rows = [run_one(p) for p in paths]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        width = max(len(r["name"]) for r in rows)
        print(f"{'test':<{width}}  {'result':<16} {'instructions':>12} {'ms':>8}")
        for r in rows:
            print(f"{r['name']:<{width}}  {r['outcome']:<16} {r['instructions']:>12,} {r['seconds'] * 1e3:>8.1f}")
        print()
        groups: dict[tuple[str, str], list[dict]] = {}
        for r in rows:
            groups.setdefault((r["suite"], r["env"]), []).append(r)
        print(f"{'suite':<8} {'env':<4} {'passed':>8} {'instructions':>13} {'seconds':>8} {'M insn/s':>9}")
        for (suite, env), group in sorted(groups.items()):
            n, ok = len(group), sum(r["passed"] for r in group)
            insns, secs = sum(r["instructions"] for r in group), sum(r["seconds"] for r in group)
            print(f"{suite:<8} {env:<4} {f'{ok}/{n}':>8} {insns:>13,} {secs:>8.3f} {insns / secs / 1e6:>9.2f}")
        total, ok = len(rows), sum(r["passed"] for r in rows)
        insns, secs = sum(r["instructions"] for r in rows), sum(r["seconds"] for r in rows)
        print(f"{'total':<13} {f'{ok}/{total}':>8} {insns:>13,} {secs:>8.3f} {insns / secs / 1e6:>9.2f}")
    return 0 if all(r["passed"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
