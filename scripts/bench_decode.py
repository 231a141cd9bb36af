#!/usr/bin/env python3
"""Decode throughput: the construct path (cold) against the per-address cache (warm).

For each ISA, a few thousand random but valid instructions (every instruction of the spec,
random operand values) are laid out back to back.  *Cold* decodes each one with
``Decoder.decode`` at its own address — a construct parse per call, as when code is first
seen.  *Cached* reads the same addresses through a warmed ``DecodeCache.get`` — what the
machine's hot loop does.  Each figure is the median of 5 runs, in instructions per second.

    python scripts/bench_decode.py [--count N] [--runs R] [ISA ...]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hybridvmm.isa import DecodeCache, Decoder, load_isa  # noqa: E402


def program(decoder: Decoder, count: int, seed: int = 1) -> tuple[bytes, list[int]]:
    """``count`` random valid instructions back to back, and their offsets."""
    rng = random.Random(seed)
    specs = list(decoder.isa.instructions.values())
    blob = bytearray()
    offsets = []
    for i in range(count):
        spec = specs[i % len(specs)] if i < len(specs) else rng.choice(specs)
        operands = {}
        for name in spec.format.fields:
            fs = decoder.isa.fields[name]
            lo, hi = fs.value_range()
            step = 1 << fs.shift
            operands[name] = rng.randint(lo // step, hi // step) * step
        offsets.append(len(blob))
        blob += decoder.encode(spec, operands)
    return bytes(blob), offsets


def time_cold(decoder: Decoder, blob: bytes, offsets: list[int], base: int) -> float:
    decode = decoder.decode
    start = time.perf_counter()
    for off in offsets:
        decode(blob, base + off, off)
    return time.perf_counter() - start


def time_cached(cache: DecodeCache, addresses: list[int]) -> float:
    get = cache.get
    start = time.perf_counter()
    for a in addresses:
        get(a)
    return time.perf_counter() - start


def bench(isa_name: str, count: int, runs: int) -> dict:
    decoder = Decoder(load_isa(isa_name))
    base = 0x1000
    blob, offsets = program(decoder, count)
    addresses = [base + off for off in offsets]

    def read(address: int, n: int) -> bytes:
        off = address - base
        return blob[off:off + n]

    cache = DecodeCache(decoder, read)
    for a in addresses:  # warm
        cache.get(a)
    cold = [count / time_cold(decoder, blob, offsets, base) for _ in range(runs)]
    warm = [count / time_cached(cache, addresses) for _ in range(runs)]
    return {"isa": isa_name, "count": count, "cold": statistics.median(cold), "cached": statistics.median(warm)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("isas", nargs="*", default=["pgm", "rv32"], metavar="ISA")
    parser.add_argument("--count", type=int, default=5000, help="instructions per ISA (default 5000)")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure; the median is shown (default 5)")
    args = parser.parse_args(argv)
    rows = [bench(name, args.count, args.runs) for name in args.isas]
    print(f"decode throughput, instructions/s (median of {args.runs} runs)")
    print(f"{'ISA':<8} {'instrs':>7} {'construct (cold)':>17} {'cached (warm)':>15} {'speed-up':>9}")
    for r in rows:
        print(f"{r['isa']:<8} {r['count']:>7} {r['cold']:>17,.0f} {r['cached']:>15,.0f} {r['cached'] / r['cold']:>8.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
