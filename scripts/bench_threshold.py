#!/usr/bin/env python3
"""How the block compiler's tiering threshold was chosen: the same workloads, bare, with
blocks compiled after 1, 2, 4 or 8 samples, and with no block compiled, in one run.

    python scripts/bench_threshold.py [--thresholds 1,2,4,8] [--repeat R] [--no-xv6] [--json]

Between chunks of ``SAMPLE_CHUNK`` instructions the run loop samples the address it is at;
an address sampled ``THRESHOLD`` times is compiled into a block (hybridvmm/machine/blocks.py).
A low threshold compiles code that never runs again (compiling costs far more than running
an instruction once); a high one runs hot code uncompiled for longer.  Workloads: xv6's
boot to its first prompt and one command (bench's xv6 workload; a real kernel: much code
run a few times, some loops run millions of times), rvloop (one hot loop) and sieve (pgm,
user-heavy).  Medians of R runs, thresholds interleaved; the ratio to the uncompiled run is
what to quote.  A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time

from hybridvmm.commands.bench import XV6_SESSION
from hybridvmm.commands.machine_options import own_platform
from hybridvmm.guests import build_guest
from hybridvmm.isas import build_machine
from hybridvmm.machine import core
from hybridvmm.machine.console import ConsoleInput


def workloads(xv6: bool) -> list[tuple[str, object, ConsoleInput | None]]:
    out = [("rvloop", build_guest("rvloop", "rv32"), None), ("sieve", build_guest("sieve", "pgm-virt"), None)]
    if xv6:
        # bench's xv6 workload: the boot, one short command typed at the first prompt, and the
        # prompt back (a session that types nothing never ends: it idles at the prompt)
        out.insert(0, ("xv6 boot", build_guest("xv6"), XV6_SESSION))
    return out


def once(image, console: ConsoleInput | None, threshold: int | None) -> tuple[float, int, int]:
    """Seconds, instructions and blocks compiled of one bare run (threshold None: no compiling)."""
    saved = core.THRESHOLD, core.Machine.compile_default
    core.THRESHOLD = threshold or 1
    core.Machine.compile_default = threshold is not None
    try:
        with own_platform([image]):
            m = build_machine(image.isa, image=image)
        if console is not None:
            m.console.feed(console)
        gc.collect()
        start = time.perf_counter()
        m.run(500_000_000)
        elapsed = time.perf_counter() - start
        out = elapsed, m.stats.instructions, m.blocks.compiled
        m.close()
        return out
    finally:
        core.THRESHOLD, core.Machine.compile_default = saved


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--thresholds", default="1,2,4,8")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-xv6", action="store_true", help="leave xv6's boot out (it takes most of the time)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    thresholds: list[int | None] = [int(t) for t in args.thresholds.split(",")] + [None]
    rows = []
    for name, image, console in workloads(not args.no_xv6):
        times: dict = {t: [] for t in thresholds}
        info: dict = {}
        for _ in range(args.repeat):
            for t in thresholds:
                s, n, blocks = once(image, console, t)
                times[t].append(s)
                info[t] = (n, blocks)
        plain = statistics.median(times[None])
        for t in thresholds:
            med = statistics.median(times[t])
            rows.append({"workload": name, "threshold": t, "median_s": med, "instructions": info[t][0],
                         "blocks": info[t][1], "speedup": plain / med})
            if not args.json:
                label = "no compile" if t is None else f"threshold {t}"
                print(f"{name:<9} {label:<13} {med:8.2f} s  {info[t][0]:>12,} instructions  {info[t][1]:>6} blocks"
                      f"  {plain / med:5.2f}x", flush=True)
    if args.json:
        json.dump({"repeat": args.repeat, "sample_chunk": core.SAMPLE_CHUNK, "rows": rows}, sys.stdout, indent=1)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
