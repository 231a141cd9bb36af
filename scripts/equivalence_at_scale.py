"""Equivalence at scale: N random guest programs, bare against every monitor mode, on every variant.

    python scripts/equivalence_at_scale.py --programs 10000 --jobs 2
    python scripts/equivalence_at_scale.py --show 1234 --variant pgm-x86     # one program's source and report
    python scripts/equivalence_at_scale.py --programs 1000 --start 3000 --json part3.json   # one slice of a long run
    python scripts/equivalence_at_scale.py --merge part*.json               # the table over every slice
    python scripts/equivalence_at_scale.py --isa rv32 --programs 300 --jobs 2   # random RISC-V programs
    python scripts/equivalence_at_scale.py --isa rv32 --show 17             # one of them, with its report

Each program (``hybridvmm.guests.randomized``: kernel and user parts, system calls, faults,
timer interrupts, nested traps, R changes, self-modifying stores, the five sensitive
instructions) is assembled for each pgm variant and run bare and in every monitor mode.

* In a mode the theory says is equivalent on that variant, any divergence is a bug: it is
  printed with ``compare``'s divergence report and the command that shows it again.
* The theory's "no" cells must stay "no": of the programs that *execute* a sensitive
  unprivileged instruction where the mode runs it directly (counted by the patches the
  repairing mode hits: ``patch`` for ``pure``, ``hybrid`` for ``hybrid-no-patch``), the
  script counts how many diverge, and tabulates the ones that do not by the instructions
  they executed, so each can be explained.

With ``--isa rv32`` the programs are ``hybridvmm.guests.rvrandom``'s (M firmware, S kernel
and U code; delegation, Sv32 on and off, live PTE edits, the CLINT timer forwarded or not,
nested traps, MPRV, LR/SC and AMOs, self-modifying code, counters), run on the one rv32
variant, where the theory calls every mode equivalent.

Exit 1 if any program diverges where the theory says it must not, or if the monitor's
resource control saw a VM's host mapping leave its window (in any mode, on any ISA).
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hybridvmm.guests import VARIANTS  # noqa: E402
from hybridvmm.guests.randomized import generate  # noqa: E402
from hybridvmm.guests.rvrandom import generate as generate_rv32  # noqa: E402
from hybridvmm.isa import load_isa  # noqa: E402
from hybridvmm.vmm import COMPARE_MODES  # noqa: E402
from hybridvmm.vmm.compare import first_divergence, locate, run_bare, run_monitor  # noqa: E402
from hybridvmm.vmm.theory import predict  # noqa: E402

MAX_STEPS = 20_000
"""Guest instructions per run by default.  Nine programs in ten halt within 1,300 (the median
within 450); the rest never halt, and a run of those is compared at the step limit (final
state included), which holds several dozen timer interrupts at 20,000."""
ISAS = {"pgm": (generate, VARIANTS), "rv32": (generate_rv32, ("rv32",))}
"""Each ISA family's program generator and the variants its programs run on."""
REPAIRED_BY = {"pure": "patch", "hybrid-no-patch": "hybrid"}
"""For each mode that runs sensitive instructions unpatched, the mode whose patches hit
tell which of them the program executed directly."""


def check(seed: int, variants: tuple[str, ...] | None = None, max_steps: int = MAX_STEPS, isa: str = "pgm") -> list[dict]:
    """Every (variant, mode) result of one program of the ``isa`` family."""
    make, family = ISAS[isa]
    variants = family if variants is None else variants
    program = make(seed)
    out = []
    for variant in variants:
        isa = load_isa(variant)
        image = program.image(variant)
        ref = run_bare(image, isa, max_steps)
        hits: dict[str, Counter] = {}
        rows = {}
        for mode in COMPARE_MODES:
            run = run_monitor([image], mode, isa, max_steps)[0]
            d = first_divergence(ref, run, image, isa)
            rows[mode] = (run, d)
            if mode in REPAIRED_BY.values():
                hits[mode] = Counter(run.vm.stats.patch_hits)
        for mode, (run, d) in rows.items():
            predicted = predict(isa, mode).equivalent
            entry = {"seed": seed, "variant": variant, "mode": mode, "predicted": predicted, "diverged": d is not None,
                     "ending": ref.reason, "instructions": ref.instructions}
            if d is not None and predicted:
                responsible = locate(image, mode, isa, max_steps)
                d.responsible = responsible
                entry["report"] = d.describe()
            if run.monitor.escapes:  # resource control failed: a bug in any mode
                entry["escapes"] = list(run.monitor.escapes)
            if mode in REPAIRED_BY:
                used = hits[REPAIRED_BY[mode]]
                entry["uses"] = sorted(used.elements())
            out.append(entry)
    return out


def show(seed: int, variant: str, max_steps: int = MAX_STEPS, isa: str = "pgm") -> int:
    program = ISAS[isa][0](seed)
    print(program.source)
    image = program.image(variant)
    isa = load_isa(variant)
    ref = run_bare(image, isa, max_steps)
    print(f"; bare: {ref.reason} after {ref.instructions} instructions, console {ref.console!r}")
    for mode in COMPARE_MODES:
        run = run_monitor([image], mode, isa, max_steps)[0]
        d = first_divergence(ref, run, image, isa)
        if d is not None:
            d.responsible = locate(image, mode, isa, max_steps)
        escapes = "; ".join(run.monitor.escapes)
        print(f"; {mode}: {'equivalent' if d is None else d.describe()}" + (f"; ESCAPES: {escapes}" if escapes else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--programs", type=int, default=1000, help="how many random programs (seeds start..start+N-1)")
    p.add_argument("--start", type=int, default=0, help="first seed")
    p.add_argument("--jobs", type=int, default=1, help="worker processes")
    p.add_argument("--json", metavar="FILE", help="also write every result to FILE")
    p.add_argument("--show", type=int, metavar="SEED", help="print one program and its comparison, and exit")
    p.add_argument("--isa", choices=sorted(ISAS), default="pgm",
                   help="which random programs: pgm (every pgm variant, the default) or rv32")
    p.add_argument("--variant", help="with --show: the variant (default pgm-x86, or rv32 with --isa rv32)")
    p.add_argument("--max-steps", type=int, default=MAX_STEPS, metavar="N",
                   help=f"guest instructions per run (default {MAX_STEPS:,})")
    p.add_argument("--merge", nargs="+", metavar="FILE",
                   help="tabulate results saved by --json (slices of one long run) instead of running")
    args = p.parse_args(argv)
    if args.show is not None:
        return show(args.show, args.variant or ISAS[args.isa][1][-1], args.max_steps, args.isa)
    if args.merge:
        results = [r for name in args.merge for r in json.loads(Path(name).read_text())]
        programs = len({r["seed"] for r in results})
        return report(results, f"{programs} random programs (merged from {len(args.merge)} files)")
    seeds = range(args.start, args.start + args.programs)
    start = time.perf_counter()
    results = []
    pool = multiprocessing.Pool(args.jobs) if args.jobs > 1 else None  # one job: in this process
    try:
        job = functools.partial(check, max_steps=args.max_steps, isa=args.isa)
        rows_per_seed = pool.imap_unordered(job, seeds, chunksize=8) if pool else map(job, seeds)
        for k, rows in enumerate(rows_per_seed):
            results.extend(rows)
            if sys.stderr.isatty() and k % 50 == 0:
                print(f"  {k + 1}/{args.programs} programs", end="\r", file=sys.stderr, flush=True)
    finally:
        if pool:
            pool.terminate()
    seconds = time.perf_counter() - start
    if args.json:
        Path(args.json).write_text(json.dumps(results))
    what = "random programs" if args.isa == "pgm" else f"random {args.isa} programs"
    return report(results, f"{args.programs} {what} (seeds {args.start}..{args.start + args.programs - 1}, "
                           f"{args.max_steps:,} steps) in {seconds:.0f} s ({args.jobs} jobs)")


def report(results: list[dict], heading: str) -> int:
    """Print the table of ``results`` (one row per program, variant and mode); 1 if any
    mode the theory calls equivalent diverged, or any run's host mapping left its window."""
    table: dict[tuple[str, str], Counter] = defaultdict(Counter)
    quiet: dict[tuple[str, str], Counter] = defaultdict(Counter)
    endings = Counter()
    bugs = []
    for r in results:
        key = (r["variant"], r["mode"])
        c = table[key]
        c["programs"] += 1
        c["diverged"] += r["diverged"]
        if r["mode"] == "interpret":
            endings[r["ending"]] += 1
        if r["predicted"] and r["diverged"] or r.get("escapes"):
            bugs.append(r)
        if "uses" in r and r["uses"]:
            c["use"] += 1
            c["use_diverged"] += r["diverged"]
            if not r["diverged"]:
                quiet[key][" ".join(sorted(set(r["uses"])))] += 1
    variants = [v for family in ISAS.values() for v in family[1] if any(r["variant"] == v for r in results)] or VARIANTS
    plural = "s" if len(variants) != 1 else ""
    print(f"{heading}; {len(variants)} variant{plural} x {len(COMPARE_MODES)} modes; bare endings: {dict(endings)}")
    print(f"{'variant':<11}{'mode':<17}{'theory':<8}{'programs':>9}{'diverged':>10}{'  use s-u':>10}{'of them diverged':>18}")
    for variant in variants:
        for mode in COMPARE_MODES:
            c = table[variant, mode]
            theory = "yes" if predict(load_isa(variant), mode).equivalent else "no"
            use = f"{c['use']:>10}{c['use_diverged']:>18}" if mode in REPAIRED_BY else ""
            print(f"{variant:<11}{mode:<17}{theory:<8}{c['programs']:>9}{c['diverged']:>10}{use}")
    for (variant, mode), counts in sorted(quiet.items()):
        if not predict(load_isa(variant), mode).equivalent:
            print(f"  {variant} {mode}: executed sensitive-unprivileged instructions directly yet did not diverge:")
            for names, n in counts.most_common(8):
                print(f"    {n:>6} programs executing {names}")
    for r in bugs[:20]:
        where = f"seed {r['seed']} {r['variant']} {r['mode']}"
        if r.get("escapes"):
            print(f"ESCAPE {where}: {'; '.join(r['escapes'])}")
        else:
            print(f"DIVERGENCE {where}: {r.get('report')}")
        family = next(name for name, (_, vs) in ISAS.items() if r["variant"] in vs)
        isa_option = "" if family == "pgm" else f" --isa {family}"
        print(f"  show it: python scripts/equivalence_at_scale.py{isa_option} --show {r['seed']} --variant {r['variant']}")
    print(f"unexpected divergences: {len(bugs)}")
    return 1 if bugs else 0


if __name__ == "__main__":
    sys.exit(main())
