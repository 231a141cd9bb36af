#!/usr/bin/env python3
"""Scanning throughput: instructions per second on generated images of growing size.

For each size, a random-but-valid program (``hybridvmm.scan.synth``: ~72 % plain
instructions, branches, calls, jumps, returns, traps, indirect branches, data blobs after
non-falling-through instructions) is scanned from its entry point ``--runs`` times; the
median wall time gives instructions/s.  The same run also times the decoder alone (one
construct decode per reached instruction, what the scan cannot avoid), so the scanner's
own cost per instruction is visible apart from the decoder's, and "decode+keep" (decoding
every instruction once and keeping it, the least any scan must do) shows how much of any
growth in the per-instruction cost is the memory hierarchy rather than the algorithm.
Linear growth shows as a flat microseconds-per-instruction column, or at least a flat
scan/decode+keep ratio.

    python scripts/bench_scan.py                      # pgm, 10k / 100k / 1M, median of 5
    python scripts/bench_scan.py --isa rv32 --sizes 10000,100000 --runs 3 --json
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hybridvmm.isa import Decoder, load_isa  # noqa: E402
from hybridvmm.scan import scan_image  # noqa: E402
from hybridvmm.scan.synth import Generator  # noqa: E402


def _median_time(fn, runs: int) -> float:
    """Median wall time of ``fn()``; its result is freed after the clock stops (tearing
    down a million decoded instructions is not scanning)."""
    times = []
    for _ in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
        del result
    return statistics.median(times)


def bench(isa_name: str, sizes: list[int], runs: int, seed: int) -> list[dict]:
    isa = load_isa(isa_name)
    gen = Generator(isa)
    decoder = Decoder(isa)
    rows = []
    for n in sizes:
        program = gen.program(n, random.Random(seed), data_chance=0.3)
        scanner = scan_image(program.image, isa)
        reached = len(scanner.instructions)
        blocks, edges = len(scanner.blocks), scanner.graph.number_of_edges()
        section = program.image.sections[0]
        data, base = section.data, section.address
        addresses = sorted(scanner.instructions)
        del scanner

        def decode_all() -> None:
            for a in addresses:
                decoder.decode(data, a, a - base)

        def decode_keep() -> dict:
            # what a scan cannot avoid: every instruction decoded once and kept (with the
            # collector paused, as the scanner does) — it shows the memory hierarchy's
            # share of any growth in the per-instruction cost
            gc.disable()
            kept = {a: decoder.decode(data, a, a - base) for a in addresses}
            gc.freeze()
            gc.unfreeze()
            gc.enable()
            return kept

        t_scan = _median_time(lambda: scan_image(program.image, isa), runs)
        t_decode = _median_time(decode_all, runs)
        t_keep = _median_time(decode_keep, runs)
        rows.append({
            "isa": isa_name,
            "slots": n,
            "instructions": reached,
            "blocks": blocks,
            "edges": edges,
            "scan_s": t_scan,
            "scan_per_s": reached / t_scan,
            "us_per_instruction": t_scan / reached * 1e6,
            "decode_per_s": reached / t_decode,
            "decode_us": t_decode / reached * 1e6,
            "scanner_us": (t_scan - t_decode) / reached * 1e6,
            "decode_keep_us": t_keep / reached * 1e6,
            "scan_over_decode_keep": t_scan / t_keep,
        })
        r = rows[-1]
        print(
            f"{isa_name:5} {n:>9,} slots {reached:>9,} insns {r['blocks']:>8,} blocks  "
            f"scan {t_scan:7.3f} s  {r['scan_per_s']:>9,.0f} insns/s  {r['us_per_instruction']:5.2f} us/insn "
            f"(decode {r['decode_us']:4.2f} + scanner {r['scanner_us']:4.2f}; decode+keep {r['decode_keep_us']:4.2f}, "
            f"scan/decode+keep {r['scan_over_decode_keep']:4.2f})",
            file=sys.stderr,
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--isa", action="append", help="ISA to benchmark (repeatable; default pgm)")
    p.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated instruction counts")
    p.add_argument("--runs", type=int, default=5, help="runs per size (the median is reported)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    args = p.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s]
    rows = []
    for name in args.isa or ["pgm"]:
        rows += bench(name, sizes, args.runs, args.seed)
    for name in dict.fromkeys(r["isa"] for r in rows):
        mine = [r for r in rows if r["isa"] == name]
        if len(mine) > 1:
            first, last = mine[0], mine[-1]
            growth = (last["scan_s"] / first["scan_s"]) / (last["instructions"] / first["instructions"])
            keep = last["scan_over_decode_keep"] / first["scan_over_decode_keep"]
            print(f"{name}: time grows {growth:.2f}x as fast as size from {first['slots']:,} to {last['slots']:,} "
                  f"(1.00 = linear); relative to decode+keep {keep:.2f}x", file=sys.stderr)
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
