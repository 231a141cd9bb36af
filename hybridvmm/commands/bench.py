"""``bench``: guest instructions per second of the bare machine and of every monitor mode.

Workloads are the bundled guests (``hybridvmm.guests``; their results are checked by the
guest tests): the pgm ones by default, the RISC-V ones with ``--isa rv32`` (rvminios, the
user-mode compute loop rvloop under Sv32, the privileged-heavy rvcsr, and the riscv-tests
``v`` test shipped with the package), and with ``--isa rv64`` xv6 (its boot to the shell and
one short command typed at the prompt, so that the run ends by itself: about 67 M guest
instructions, on a fresh copy of its disk each run, at that size with ``--small`` too) and
rvloop64 (rvloop under Sv39).  Every measurement starts from a freshly built machine or
monitor, after a garbage collection; only the run is timed (assembling, loading and
building are not).  All workloads are measured in *every* mode in one invocation, the modes
interleaved repeat by repeat, so the ratios to bare are meaningful even on a noisy machine:
quote those, and medians.  Wall time here is Python hosting Python — the host machine is an
interpreter too, so ``interpret`` costs about what direct execution does — and only the
simulated host cycles (the ``cycles x bare`` column, as ``run --stats`` and ``compare`` price
them) carry the classic cost ratios.  ``--no-compile-too`` times every run a second time with
no block compiled (``--no-compile``), interleaved, for the block compiler's speed-up.  Exit 1 if
a run is not deterministic, or a mode the theory says is equivalent runs a different number
of guest instructions than bare.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from hybridvmm.cli_support import add_json_flag, number, print_json
from hybridvmm.commands.machine_options import own_platform
from hybridvmm.errors import UserError
from hybridvmm.guests import build_guest, guest_info, list_guests
from hybridvmm.image import Image
from hybridvmm.isa import load_isa
from hybridvmm.isas import build_machine, family, family_of
from hybridvmm.loading import load_program
from hybridvmm.machine.console import ConsoleInput
from hybridvmm.machine.core import Machine
from hybridvmm.progress import Progress
from hybridvmm.vmm import BARE, MODES, Monitor
from hybridvmm.vmm.theory import predict

ORDER = 90

DEFAULT_REPEAT = 5
MAX_STEPS = 500_000_000
ALL_MODES = (BARE, "pure", "interpret", "hybrid-no-patch", "hybrid", "patch", "bt")
RISCV_GUESTS = ("rvminios", "rvloop", "rvcsr")
XV6_SESSION = ConsoleInput(b"echo hello\n", prompt=b"$ ")
"""What the xv6 workload types: one short command at its first prompt (the run ends when
the prompt is back)."""
XV6_LIMITS = (8.0, 1.5)
"""The performance bounds: the boot at most 8 s bare; pure and hybrid at most 1.5x bare."""
V_TEST = "rv32ui-v-add"
"""The riscv-tests ``v`` test shipped as package data (``hybridvmm/guests/elf``)."""
WALL_NOTE = ("wall time here is Python hosting Python (the host is an interpreter too, so interpret costs about "
             "what direct execution does): only the simulated host cycles of run --stats and compare carry "
             "the classic cost ratios")


@dataclass
class Workload:
    """Something to benchmark: a named image."""

    name: str
    description: str
    image: Image
    console: ConsoleInput | None = None
    """Console input fed to every run (with its delivery rule), if any."""

    def platform(self):
        """The context its machines are built in: the RAM and a fresh copy of the disk the
        image asks for (nothing for an image that asks for none)."""
        return own_platform([self.image])


@dataclass
class Measurement:
    workload: Workload
    mode: str
    instructions: int = 0
    direct: int = 0
    user: int = 0
    seconds: list[float] = field(default_factory=list)
    plain_seconds: list[float] = field(default_factory=list)
    """With ``--no-compile-too``: the same runs with no block compiled."""
    cycles: int = 0
    """Simulated host cycles (the cost table; a bare run's are its instructions)."""
    exits: dict[str, int] = field(default_factory=dict)
    compositions: dict[str, int] = field(default_factory=dict)
    problem: str | None = None
    note: str = ""

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds) if self.seconds else 0.0

    @property
    def mips(self) -> float:
        return self.instructions / self.median_s / 1e6 if self.median_s else 0.0

    @property
    def plain_median_s(self) -> float:
        return statistics.median(self.plain_seconds) if self.plain_seconds else 0.0

    @property
    def plain_mips(self) -> float:
        return self.instructions / self.plain_median_s / 1e6 if self.plain_median_s else 0.0

    def as_dict(self, bare: "Measurement | None") -> dict[str, Any]:
        return {
            "workload": self.workload.name,
            "mode": self.mode,
            "isa": self.workload.image.isa,
            "instructions": self.instructions,
            "median_s": self.median_s,
            "runs_s": self.seconds,
            "mips": self.mips,
            "ratio_to_bare": self.median_s / bare.median_s if bare and bare.median_s else None,
            "host_cycles": self.cycles,
            "cycles_to_bare": self.cycles / bare.cycles if bare and bare.cycles else None,
            "no_compile_median_s": self.plain_median_s if self.plain_seconds else None,
            "no_compile_runs_s": self.plain_seconds,
            "no_compile_mips": self.plain_mips if self.plain_seconds else None,
            "compile_speedup": self.plain_median_s / self.median_s if self.plain_seconds and self.median_s else None,
            "direct_fraction": self.direct / self.instructions if self.instructions else 0.0,
            "user_share": self.user / self.instructions if self.instructions else 0.0,
            "exits": dict(self.exits),
            "compositions": dict(self.compositions),
            "ok": self.problem is None,
            "problem": self.problem,
            "note": self.note,
        }


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="guest instructions per second of the bare machine and each monitor mode (median of N)")
    p.add_argument("workloads", nargs="*", metavar="WORKLOAD", help="workload names (default: all)")
    p.add_argument("--isa", metavar="ISA", help="a pgm variant to run the pgm workloads on (default: each workload's "
                                                "own), rv32 for the RISC-V workloads, or rv64 for xv6 and rvloop64")
    p.add_argument("--modes", metavar="M,M,...", default=",".join(ALL_MODES),
                   help=f"modes to measure (default: {','.join(ALL_MODES)})")
    p.add_argument("--repeat", metavar="N", type=number, default=DEFAULT_REPEAT, help=f"runs per workload and mode (default {DEFAULT_REPEAT})")
    p.add_argument("--small", action="store_true", help="bundled guests at their test sizes (a quick smoke run)")
    p.add_argument("--no-compile-too", action="store_true",
                   help="also time every run with no block compiled (interleaved), for the compiler's speed-up")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    add_json_flag(p)
    p.set_defaults(func=run)


def guest_workloads(isa: str | None, small: bool) -> list[Workload]:
    """The workloads: the pgm guests (on ``isa`` if it is a pgm variant), or with a RISC-V
    ``isa`` the RISC-V guests and the shipped ``v`` test (rv64: xv6 and rvloop64)."""
    if isa is not None and load_isa(isa).name == "rv64":
        xv6 = build_guest("xv6")
        return [Workload("xv6", "xv6-riscv: boot to the shell, then `echo hello` at the prompt (on a copy of its disk)",
                         xv6, XV6_SESSION),
                Workload("rvloop64", guest_info("rvloop64").description, build_guest("rvloop64", isa, small=small))]
    if isa is not None and family(load_isa(isa)) == "rv32":
        out = [Workload(name, guest_info(name).description, build_guest(name, isa, small=small)) for name in RISCV_GUESTS]
        elf = resources.files("hybridvmm.guests").joinpath("elf", V_TEST)
        with resources.as_file(elf) as path:
            out.append(Workload("v-test", f"the riscv-tests {V_TEST} (S-mode kernel, Sv32, the test in U-mode)",
                                load_program(str(path))))
        return out
    return [Workload(name, description, build_guest(name, isa, small=small))
            for name, description in list_guests()
            if family_of(guest_info(name).isa).name != "rv32" and family_of(guest_info(name).isa).virt is not None]


def parse_modes(text: str) -> list[str]:
    modes = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in modes if m != BARE and m not in MODES]
    if unknown or not modes:
        raise UserError(f"--modes {text}: unknown mode {', '.join(unknown) or '(none)'} (modes: {', '.join(ALL_MODES)})")
    return modes


@dataclass
class Run:
    """One timed run."""

    seconds: float
    instructions: int
    direct: int
    user: int
    ending: str
    exits: dict[str, int] = field(default_factory=dict)
    compositions: dict[str, int] = field(default_factory=dict)
    cycles: int = 0


def measure_once(w: Workload, mode: str, compiling: bool = True) -> Run:
    """One run of ``w`` in ``mode``, timed alone (the garbage of earlier runs collected
    first), with blocks compiled or not."""
    default = Machine.compile_default
    Machine.compile_default = default and compiling
    try:
        return _measure_once(w, mode)
    finally:
        Machine.compile_default = default


def _measure_once(w: Workload, mode: str) -> Run:
    if mode == BARE:
        with w.platform():
            m = build_machine(w.image.isa, image=w.image)
        if w.console is not None:
            m.console.feed(w.console)
        gc.collect()
        start = time.perf_counter()
        outcome = m.run(MAX_STEPS)
        elapsed = time.perf_counter() - start
        n = m.stats.instructions
        run = Run(elapsed, n, n, m.stats.by_mode.get("user", 0), outcome.reason, cycles=n)
        m.close()
        return run
    with w.platform():
        monitor = Monitor([w.image], mode, max_steps=MAX_STEPS)
    if w.console is not None:
        monitor.vms[0].console.feed(w.console)
    gc.collect()
    start = time.perf_counter()
    monitor.run()
    elapsed = time.perf_counter() - start
    vm = monitor.vms[0]
    user = vm.stats.by_mode.get("user", 0)
    run = Run(elapsed, vm.guest_instructions, vm.stats.direct_instructions, user, vm.outcome.reason,
              dict(vm.stats.exits), dict(vm.stats.compositions), monitor.costs.of(vm.stats.events()))
    monitor.close()
    return run


def measure(workloads: list[Workload], modes: list[str], repeat: int, progress: Progress,
            plain_too: bool = False) -> list[Measurement]:
    results = {(w.name, mode): Measurement(w, mode) for w in workloads for mode in modes}
    for w in workloads:
        isa = load_isa(w.image.isa)
        for mode in modes:
            if mode != BARE and not predict(isa, mode).equivalent:
                results[w.name, mode].note = f"diverges on {isa.name} ({predict(isa, mode).reason.split(':')[0]})"
        for k in range(repeat):
            for mode in modes:
                r = results[w.name, mode]
                if r.problem:
                    continue
                progress.update(f"{w.name} {mode} {k + 1}/{repeat}")
                one = measure_once(w, mode)
                n = one.instructions
                if r.seconds and n != r.instructions:
                    r.problem = f"not deterministic: {n} instructions vs {r.instructions}"
                    continue
                if one.ending != "halted" and not r.note:
                    r.problem = f"did not halt ({one.ending} after {n} instructions)"
                    continue
                r.instructions, r.direct, r.user = n, one.direct, one.user
                r.exits, r.compositions, r.cycles = one.exits, one.compositions, one.cycles
                r.seconds.append(one.seconds)
                if plain_too and Machine.compile_default:
                    progress.update(f"{w.name} {mode} {k + 1}/{repeat}, no block compiled")
                    plain = measure_once(w, mode, compiling=False)
                    if plain.instructions != n:
                        r.problem = f"not deterministic: {plain.instructions} instructions uncompiled vs {n}"
                        continue
                    r.plain_seconds.append(plain.seconds)
        bare = results.get((w.name, BARE))
        for mode in modes:
            r = results[w.name, mode]
            if bare and mode != BARE and not r.note and not r.problem and r.instructions != bare.instructions:
                r.problem = f"ran {r.instructions} guest instructions, bare ran {bare.instructions}"
    progress.clear()
    return [results[w.name, mode] for w in workloads for mode in modes]


def run(args: argparse.Namespace) -> int:
    if args.repeat < 1:
        raise UserError("--repeat must be at least 1")
    modes = parse_modes(args.modes)
    workloads = guest_workloads(args.isa, args.small)
    if args.list:
        for w in workloads:
            print(f"{w.name:<10} {w.description}")
        return 0
    if args.workloads:
        known = {w.name: w for w in workloads}
        missing = [n for n in args.workloads if n not in known]
        if missing:
            raise UserError(f"unknown workload(s) {', '.join(missing)} (known: {', '.join(known)})")
        workloads = [known[n] for n in args.workloads]
    results = measure(workloads, modes, args.repeat, Progress(enabled=None if not args.json else False),
                      args.no_compile_too)
    bare = {r.workload.name: r for r in results if r.mode == BARE}
    figures = riscv_figures(results)
    if args.json:
        print_json({"repeat": args.repeat, "python": sys.version.split()[0], "modes": modes,
                    "runs": [r.as_dict(bare.get(r.workload.name)) for r in results], **figures, "note": WALL_NOTE})
    else:
        print(f"guest instructions per second, median of {args.repeat} run(s) per workload and mode, "
              f"modes interleaved; Python {sys.version.split()[0]}")
        plain = args.no_compile_too and Machine.compile_default
        print(f"{'workload':<11}{'mode':<17}{'instructions':>13}{'user':>6}{'direct':>8}{'M instr/s':>11}"
              f"{'x bare':>8}{'cycles x bare':>15}" + (f"{'uncompiled':>12}{'speed-up':>10}" if plain else ""))
        for r in results:
            d = r.as_dict(bare.get(r.workload.name))
            ratio = f"{d['ratio_to_bare']:.2f}" if d["ratio_to_bare"] is not None else "-"
            cycles = f"{d['cycles_to_bare']:.2f}" if d["cycles_to_bare"] is not None else "-"
            line = (f"{r.workload.name:<11}{r.mode:<17}{r.instructions:>13,}{d['user_share']:>6.0%}"
                    f"{d['direct_fraction']:>8.1%}{r.mips:>11.2f}{ratio:>8}{cycles:>15}")
            if plain:
                speedup = f"{d['compile_speedup']:.2f}x" if d["compile_speedup"] else "-"
                line += f"{r.plain_mips:>12.2f}{speedup:>10}"
            if r.note:
                line += f"  ({r.note})"
            print(line + (f"  FAILED: {r.problem}" if r.problem else ""))
        if "csr_round_trip_us" in figures:
            print(f"CSR trap round trip (exit, emulate, resume; rvcsr under pure): "
                  f"{figures['csr_round_trip_us']:.1f} µs median")
        for row in figures.get("compositions", []):
            print(f"compositions {row['workload']:<9} {row['mode']:<16} {row['built']:>5} built over "
                  f"{row['guest_pages']:>4} guest pages ({row['per_page']:.2f} per page), {row['refills']:,} refills")
        for row in figures.get("exits", []):
            causes = ", ".join(f"{k} {v:,}" for k, v in row["exits"].items()) or "none"
            print(f"exits        {row['workload']:<9} {row['mode']:<16} {causes}")
        xv6 = figures.get("xv6")
        if xv6:
            ratios = ", ".join(f"{m} {r:.2f}x" for m, r in xv6["ratio_to_bare"].items())
            print(f"xv6 boot and `echo hello`: bare {xv6['bare_s']:.1f} s median ({xv6['bare_mips']:.2f} M instr/s; "
                  f"bound: at most {XV6_LIMITS[0]:.0f} s){'; ' + ratios + ' bare' if ratios else ''} "
                  f"(at most {XV6_LIMITS[1]}x under pure and hybrid): {'within' if xv6['within'] else 'OUTSIDE'}")
        print(f"note: {WALL_NOTE}")
    return 1 if any(r.problem for r in results) else 0


def riscv_figures(results: list[Measurement]) -> dict[str, Any]:
    """What ``--isa rv32`` adds: one CSR trap round trip (the extra median time of rvcsr
    under pure over bare, per CSR exit), and the compositions built per guest page."""
    out: dict[str, Any] = {}
    by = {(r.workload.name, r.mode): r for r in results}
    bare, pure = by.get(("rvcsr", BARE)), by.get(("rvcsr", "pure"))
    if bare and pure and pure.exits.get("csr") and not pure.problem:
        per_exit = [(p - b) / pure.exits["csr"] * 1e6 for p, b in zip(pure.seconds, bare.seconds)]
        out["csr_round_trip_us"] = statistics.median(per_exit)
    rows = []
    for r in results:
        c = r.compositions
        if c.get("guest_pages"):
            rows.append({"workload": r.workload.name, "mode": r.mode, "built": c["built"], "guest_pages": c["guest_pages"],
                         "per_page": c["built"] / c["guest_pages"], "refills": c["refills"]})
    if rows:
        out["compositions"] = rows
    if any(r.workload.image.isa == "rv64" for r in results):
        out.update(rv64_figures(results))
    return out


def rv64_figures(results: list[Measurement]) -> dict[str, Any]:
    """What ``--isa rv64`` adds: the exits by cause of every monitor run, and xv6's boot
    against its bounds (bare wall, and pure and hybrid to bare in the same run)."""
    out: dict[str, Any] = {"exits": [{"workload": r.workload.name, "mode": r.mode, "exits": dict(sorted(r.exits.items()))}
                                     for r in results if r.mode != BARE and not r.problem]}
    by = {(r.workload.name, r.mode): r for r in results}
    bare = by.get(("xv6", BARE))
    if bare is not None and bare.seconds and not bare.problem:
        ratios = {mode: by["xv6", mode].median_s / bare.median_s for mode in ("pure", "hybrid")
                  if ("xv6", mode) in by and by["xv6", mode].seconds and not by["xv6", mode].problem}
        out["xv6"] = {"bare_s": bare.median_s, "bare_mips": bare.mips, "ratio_to_bare": ratios,
                      "limits": {"bare_s": XV6_LIMITS[0], "ratio_to_bare": XV6_LIMITS[1]},
                      "within": bare.median_s <= XV6_LIMITS[0] and all(r <= XV6_LIMITS[1] for r in ratios.values())}
    return out
