"""Run the vendored riscv-tests on the bare RISC-V machine or under a monitor mode, and print the table.

    python scripts/riscv_tests.py [--xlen 32|64|all] [--mode M] [--elf-dir DIR] [--json] [PATTERN ...]

One row per ELF (result, guest instructions, time), then the suite × environment table and
the totals: the 142 RV32 tests (``elf/``) and the 193 RV64 ones (``elf64/``), each on a hart
of its own XLEN (``--xlen`` picks one set).  Under a monitor mode (``--mode pure|interpret|hybrid|patch|all``) each test
runs bare and under the mode, and must both pass and be *equivalent* to its bare run
(console, every trap the guest saw, final registers, CSRs and memory); the table adds the
equivalence column and the monitor's exits.  Exit 0 when every selected test passes (and is
equivalent), 1 otherwise.
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

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "riscv-tests"
DIRS = {"32": (DATA / "elf",), "64": (DATA / "elf64",), "all": (DATA / "elf", DATA / "elf64")}
LIMIT = 2_000_000
MONITOR_MODES = ("pure", "interpret", "hybrid", "patch", "bt")


def run_one(path: Path) -> dict:
    """One test on the bare machine."""
    image = load_program(str(path))
    start = time.perf_counter()
    m = build_machine(image.isa, image=image)
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
    instructions = m.stats.instructions
    m.close()  # freed at once, not by the garbage collector
    return {"name": path.name, "suite": suite, "env": env, "mode": "bare", "passed": passed, "outcome": outcome,
            "instructions": instructions, "seconds": elapsed}


def run_under(path: Path, mode: str) -> dict:
    """One test bare and under ``mode``: it must pass there and be equivalent to bare."""
    from hybridvmm.vmm.compare import compare_images

    image = load_program(str(path))
    start = time.perf_counter()
    [comparison] = compare_images([image], [mode], max_steps=LIMIT)
    elapsed = time.perf_counter() - start
    row = comparison.rows[0]
    vm = row.run.vm
    code = vm.vcpu.exit_code
    passed = row.run.reason == "halted" and code == 0 and row.equivalent
    if not row.equivalent:
        outcome = "DIVERGES"
    elif code == 0:
        outcome = "pass"
    else:
        outcome = vm.vcpu.exit_message or f"{row.run.reason}"
    suite, env = path.name.split("-")[:2]
    out = {"name": path.name, "suite": suite, "env": env, "mode": mode, "passed": passed, "outcome": outcome,
           "equivalent": row.equivalent, "instructions": row.run.instructions, "seconds": elapsed,
           "exits": sum(vm.stats.exits.values()), "direct_fraction": row.as_dict()["direct_fraction"],
           "divergence": row.divergence.describe() if row.divergence else None}
    row.run.monitor.close()
    return out


def print_table(rows: list[dict], mode: str) -> None:
    width = max(len(r["name"]) for r in rows)
    monitor = mode != "bare"
    extra = f" {'exits':>7} {'direct':>7}" if monitor else ""
    print(f"{'test':<{width}}  {'result':<16} {'instructions':>12} {'ms':>8}{extra}")
    for r in rows:
        more = f" {r['exits']:>7,} {r['direct_fraction']:>7.1%}" if monitor else ""
        print(f"{r['name']:<{width}}  {r['outcome']:<16} {r['instructions']:>12,} {r['seconds'] * 1e3:>8.1f}{more}")
        if r.get("divergence"):
            print(f"    {r['divergence']}")
    print()
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["suite"], r["env"]), []).append(r)
    what = "pass+equiv" if monitor else "passed"
    print(f"{'suite':<8} {'env':<4} {what:>10} {'instructions':>13} {'seconds':>8} {'M insn/s':>9}")
    for (suite, env), group in sorted(groups.items()):
        n, ok = len(group), sum(r["passed"] for r in group)
        insns, secs = sum(r["instructions"] for r in group), sum(r["seconds"] for r in group)
        print(f"{suite:<8} {env:<4} {f'{ok}/{n}':>10} {insns:>13,} {secs:>8.3f} {insns / secs / 1e6:>9.2f}")
    total, ok = len(rows), sum(r["passed"] for r in rows)
    insns, secs = sum(r["instructions"] for r in rows), sum(r["seconds"] for r in rows)
    print(f"{'total (' + mode + ')':<18} {f'{ok}/{total}':>5} {insns:>13,} {secs:>8.3f} {insns / secs / 1e6:>9.2f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("patterns", nargs="*", help="glob patterns of test names (default: all)")
    ap.add_argument("--elf-dir", type=Path, help="run the ELFs of this directory instead")
    ap.add_argument("--xlen", choices=tuple(DIRS), default="all", help="the RV32 tests, the RV64 ones, or both (default)")
    ap.add_argument("--mode", default="bare", choices=("bare", *MONITOR_MODES, "all"),
                    help="bare (default), a monitor mode (bare and that mode, compared), or all of them")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = ap.parse_args(argv)
    dirs = (args.elf_dir,) if args.elf_dir else DIRS[args.xlen]
    paths = sorted(p for d in dirs for p in d.iterdir()
                   if not args.patterns or any(fnmatch.fnmatch(p.name, pat) for pat in args.patterns))
    if not paths:
        print(f"riscv_tests: no test matches in {', '.join(map(str, dirs))}", file=sys.stderr)
        return 2
    modes = ("bare", *MONITOR_MODES) if args.mode == "all" else (args.mode,)
    everything = []
    for mode in modes:
        rows = [run_one(p) if mode == "bare" else run_under(p, mode) for p in paths]
        everything.extend(rows)
        if not args.json:
            print_table(rows, mode)
            print()
    if args.json:
        print(json.dumps(everything, indent=2))
    return 0 if all(r["passed"] for r in everything) else 1


if __name__ == "__main__":
    sys.exit(main())
