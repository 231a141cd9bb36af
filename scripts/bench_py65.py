#!/usr/bin/env python3
"""The bare machines against py65 (a 6502 simulator in Python) on comparable loops, in one run.

    python scripts/bench_py65.py [--steps N] [--repeat R] [--json]

Instructions per second depend on the machine they run on; their ratios, measured in the
same run with the workloads interleaved, travel better.  Each workload is a tight loop of
register arithmetic, a load, a store and a conditional branch:

* ``pgm``    the bare pgm machine (``hybridvmm.isas.build_machine``, ``run``);
* ``rv32``   the bare RISC-V machine in M-mode;
* ``py65``   py65's ``MPU.step()`` on the same loop in 6502 code (``pip install py65``;
             without it this workload is left out).

A benchmark, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Callable

from hybridvmm.asm import assemble
from hybridvmm.isas import build_machine

PGM = """
.isa pgm
start:  movi r1, 0
        movl r3, 0x4000
loop:   addi r1, r1, 1
        st   r1, 0(r3)
        ld   r2, 0(r3)
        add  r4, r2
        cmpi r1, 0
        bne  loop
        halt
"""

RV32 = """
        .org 0x80000000
        .entry start
start:  lui   sp, 0x80010
        addi  t0, zero, 0
loop:   addi  t0, t0, 1
        sw    t0, 0(sp)
        lw    t2, 0(sp)
        add   t3, t3, t2
        bne   t0, zero, loop
        ebreak
"""

# 6502: INX; STX $10; LDA $10; CLC; ADC $11; STA $11; CPX #0; BNE loop (at 0x0200)
PY65 = bytes([0xE8, 0x86, 0x10, 0xA5, 0x10, 0x18, 0x65, 0x11, 0x85, 0x11, 0xE0, 0x00, 0xD0, 0xF2])


def run_hybridvmm(source: str, isa: str, steps: int) -> Callable[[], int]:
    image = assemble(source, isa, f"<{isa} loop>")

    def go() -> int:
        m = build_machine(isa, image=image)
        return m.run(steps).steps
    return go


def run_py65(steps: int) -> Callable[[], int] | None:
    try:
        from py65.devices.mpu6502 import MPU
    except ImportError:
        return None

    def go() -> int:
        mpu = MPU()
        mpu.memory[0x200:0x200 + len(PY65)] = list(PY65)
        mpu.pc = 0x200
        step = mpu.step
        for _ in range(steps):
            step()
        return steps
    return go


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1_000_000, help="instructions per run (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per workload, interleaved (default 5)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    workloads: dict[str, Callable[[], int]] = {"pgm": run_hybridvmm(PGM, "pgm", args.steps),
                                               "rv32": run_hybridvmm(RV32, "rv32", args.steps)}
    py65 = run_py65(args.steps)
    if py65 is not None:
        workloads["py65"] = py65
    seconds: dict[str, list[float]] = {name: [] for name in workloads}
    done: dict[str, int] = {}
    for _ in range(args.repeat):
        for name, go in workloads.items():
            start = time.perf_counter()
            done[name] = go()
            seconds[name].append(time.perf_counter() - start)
    rate = {name: done[name] / statistics.median(s) for name, s in seconds.items()}
    base = rate.get("py65")
    rows = [{"workload": n, "instructions": done[n], "median_s": statistics.median(seconds[n]),
             "instructions_per_s": rate[n], "ratio_to_py65": rate[n] / base if base else None} for n in workloads]
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
        return 0
    print(f"median of {args.repeat} interleaved runs of {args.steps:,} instructions each")
    print(f"{'workload':<10}{'M instr/s':>11}{'x py65':>9}")
    for r in rows:
        ratio = f"{r['ratio_to_py65']:.1f}" if r["ratio_to_py65"] is not None else "-"
        print(f"{r['workload']:<10}{r['instructions_per_s'] / 1e6:>11.2f}{ratio:>9}")
    if base is None:
        print("(py65 is not installed: pip install py65 to compare)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
