"""Guest instructions per second of the bare RISC-V machine: compute loops and the riscv-tests,
with blocks compiled and not, against unicorn on the same bytes.

    python scripts/bench_riscv.py [--steps N] [--repeat R] [--json]

Workloads, measured in one run (repeated R times, interleaved; medians) so that their ratios
mean something on a noisy machine:

* ``loop-m``      a compute loop (ALU, mul, loads/stores, branches) in M-mode, physical addressing;
* ``loop-u-sv32`` the same loop in U-mode through Sv32 page tables (the TLB fast path);
* ``suite``       every vendored RV32 riscv-tests ELF, machine construction and ELF loading excluded
                  (each test executes its code only a few times, so this measures translation),
                  and so is collecting the previous test's machine;
* each of them again with no block compiled (``--no-compile``);
* ``unicorn``     the bytes of ``loop-m`` on unicorn (QEMU's TCG as a library: ``pip install
                  unicorn``; left out without it), run to the loop's end.

A benchmark, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

from hybridvmm.asm import assemble
from hybridvmm.isas import build_machine
from hybridvmm.loading import load_program

ELF_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "riscv-tests" / "elf"

BODY = """
loop:
        addi  t0, t0, 1
        sw    t0, 0(sp)
        lw    t2, 0(sp)
        add   t3, t3, t2
        mul   t4, t3, t0
        xor   t4, t4, t3
        slli  t5, t4, 3
        srli  t5, t5, 1
        sb    t5, 5(sp)
        lbu   t6, 5(sp)
        sltu  a0, t6, t5
        bne   t0, t1, loop
        ebreak
"""

M_MODE = """
        .org 0x80000000
        .entry start
start:
        lui   sp, 0x80010
        addi  t0, zero, 0
        lui   t1, 0x100
""" + BODY

# U-mode through Sv32: a megapage identity-maps RAM with U set; PMP opened first.
U_SV32 = """
        .org 0x80000000
        .entry start
start:
        addi  t0, zero, -1
        csrrw zero, pmpaddr0, t0
        addi  t0, zero, 0x1f
        csrrw zero, pmpcfg0, t0
        lui   t0, 0x80021
        lui   t1, 0x20000
        addi  t1, t1, 0xdf
        sw    t1, -0x800(t0)
        lui   t0, 0x80020
        lui   t1, 0x80000
        srli  t0, t0, 12
        or    t0, t0, t1
        csrrw zero, satp, t0
        lui   t0, 0x80000
        addi  t0, t0, 0x100
        csrrw zero, mepc, t0
        mret
        .org 0x80000100
user:
        lui   sp, 0x80010
        addi  t0, zero, 0
        lui   t1, 0x100
""" + BODY


def bench_program(source: str, steps: int) -> dict:
    m = build_machine("rv32", image=assemble(source, "rv32"))
    gc.collect()
    start = time.perf_counter()
    result = m.run(steps)
    elapsed = time.perf_counter() - start
    return {"instructions": result.steps, "seconds": elapsed, "mips": result.steps / elapsed / 1e6,
            "modes": {k: v for k, v in m.stats.by_mode.items() if v}}


def bench_suite() -> dict:
    images = [load_program(str(p)) for p in sorted(ELF_DIR.iterdir())]
    total = passed = 0
    elapsed = 0.0
    for img in images:
        m = build_machine("rv32", image=img)
        # A machine is cyclic garbage once done (its translations hold it): collect the last
        # test's before timing this one, or the collector's work on it counts as this run's.
        gc.collect()
        start = time.perf_counter()
        total += m.run(2_000_000).steps
        elapsed += time.perf_counter() - start
        passed += m.exit_code == 0
    return {"instructions": total, "seconds": elapsed, "mips": total / elapsed / 1e6, "passed": f"{passed}/{len(images)}"}


def bench_unicorn(source: str) -> dict | None:
    """``source`` (the M-mode loop) on unicorn, from its start to its ``ebreak``."""
    try:
        from unicorn import Uc, UC_ARCH_RISCV, UC_MODE_RISCV32
    except ImportError:
        return None
    image = assemble(source, "rv32")
    section = image.sections[0]
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV32)
    uc.mem_map(0x80000000, 0x20000)
    uc.mem_write(section.address, bytes(section.data))
    end = image.symbols["loop"] + 12 * 4                   # the ebreak after the loop's 12 instructions
    instructions = 3 + 12 * 0x100000                       # the prologue, then t1 = 0x100000 iterations
    start = time.perf_counter()
    uc.emu_start(image.entry, end)
    elapsed = time.perf_counter() - start
    return {"instructions": instructions, "seconds": elapsed, "mips": instructions / elapsed / 1e6}


def compiled(on: bool):
    """Run with blocks compiled (the default) or not (``--no-compile``)."""
    from hybridvmm.machine.core import Machine

    class Setting:
        def __enter__(self):
            self.saved = Machine.compile_default
            Machine.compile_default = on

        def __exit__(self, *exc):
            Machine.compile_default = self.saved
    return Setting()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3_000_000, help="instructions per compute loop (default 3,000,000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each workload, interleaved (default 3)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    runs: dict[str, list[dict]] = {}
    for _ in range(args.repeat):
        for on in (True, False):
            suffix = "" if on else " (no compile)"
            with compiled(on):
                runs.setdefault("loop-m" + suffix, []).append(bench_program(M_MODE, args.steps))
                runs.setdefault("loop-u-sv32" + suffix, []).append(bench_program(U_SV32, args.steps))
                runs.setdefault("suite" + suffix, []).append(bench_suite())
        u = bench_unicorn(M_MODE)
        if u is not None:
            runs.setdefault("unicorn", []).append(u)
    rows = {}
    for name, rs in runs.items():
        r = dict(rs[0])
        r["seconds"] = statistics.median(x["seconds"] for x in rs)
        r["mips"] = r["instructions"] / r["seconds"] / 1e6
        rows[name] = r
    ratios = {}
    if "unicorn" in rows:
        ratios["unicorn_over_loop_m"] = rows["unicorn"]["mips"] / rows["loop-m"]["mips"]
    for name in ("loop-m", "loop-u-sv32", "suite"):
        ratios[f"{name}_compile_speedup"] = rows[f"{name} (no compile)"]["seconds"] / rows[name]["seconds"]
    if args.json:
        print(json.dumps({"repeat": args.repeat, "rows": rows, "ratios": ratios}, indent=2))
    else:
        print(f"median of {args.repeat} interleaved runs")
        print(f"{'workload':<25} {'instructions':>13} {'seconds':>8} {'M insn/s':>9}")
        for name, r in rows.items():
            extra = f"  ({r['passed']} passed)" if "passed" in r else f"  {r['modes']}" if "modes" in r else ""
            print(f"{name:<25} {r['instructions']:>13,} {r['seconds']:>8.3f} {r['mips']:>9.2f}{extra}")
        for name in ("loop-m", "loop-u-sv32", "suite"):
            print(f"{name}: compiled {ratios[name + '_compile_speedup']:.2f}x as fast as uncompiled")
        if "unicorn_over_loop_m" in ratios:
            print(f"unicorn runs the loop-m bytes {ratios['unicorn_over_loop_m']:.1f}x as fast as hybridvmm (compiled)")
        else:
            print("(unicorn is not installed: pip install unicorn to compare)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
