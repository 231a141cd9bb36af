"""``bench``: guest instructions per second of the machine, median of N runs per workload.

Workloads are the bundled guests (``hybridvmm.guests``; their results are checked by the
guest tests).  Every run starts from a freshly loaded machine; only
``run`` is timed (assembling and loading are not).  All workloads are measured in one
invocation, so their ratios are meaningful even on a noisy machine.  Exit 1 if a
workload does not halt or is not deterministic.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from hybridvmm.cli_support import add_json_flag, number, print_json
from hybridvmm.errors import UserError
from hybridvmm.guests import build_guest, list_guests
from hybridvmm.image import Image
from hybridvmm.isas import build_machine

ORDER = 90

DEFAULT_REPEAT = 5
MAX_STEPS = 500_000_000


@dataclass
class Workload:
    """Something to benchmark: a named image."""

    name: str
    description: str
    image: Image


@dataclass
class Measurement:
    workload: Workload
    instructions: int = 0
    user: int = 0
    seconds: list[float] = field(default_factory=list)
    problem: str | None = None

    @property
    def rates(self) -> list[float]:
        return [self.instructions / s for s in self.seconds if s > 0]

    @property
    def median(self) -> float:
        return statistics.median(self.rates) if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "workload": self.workload.name,
            "description": self.workload.description,
            "isa": self.workload.image.isa,
            "instructions": self.instructions,
            "user_share": self.user / self.instructions if self.instructions else 0.0,
            "median_ips": self.median,
            "runs_ips": self.rates,
            "median_seconds": statistics.median(self.seconds) if self.seconds else 0.0,
            "ok": self.problem is None,
            "problem": self.problem,
        }


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="guest instructions per second of the bare machine on each workload (median of N runs)")
    p.add_argument("workloads", nargs="*", metavar="WORKLOAD", help="workload names (default: all)")
    p.add_argument("--isa", metavar="VARIANT", help="pgm variant to run the workloads on (default: each workload's own)")
    p.add_argument("--repeat", metavar="N", type=number, default=DEFAULT_REPEAT, help=f"runs per workload (default {DEFAULT_REPEAT})")
    p.add_argument("--small", action="store_true", help="bundled guests at their test sizes (a quick smoke run)")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    add_json_flag(p)
    p.set_defaults(func=run)


def guest_workloads(isa: str | None, small: bool) -> list[Workload]:
    """The bundled guests."""
    return [Workload(name, description, build_guest(name, isa, small=small))
            for name, description in list_guests()]


def measure(w: Workload, repeat: int) -> Measurement:
    result = Measurement(w)
    for _ in range(repeat):
        m = build_machine(w.image.isa, image=w.image)
        start = time.perf_counter()
        outcome = m.run(MAX_STEPS)
        elapsed = time.perf_counter() - start
        if not outcome.halted:
            result.problem = f"did not halt ({outcome.reason} after {outcome.steps} instructions)"
            break
        if result.instructions and m.stats.instructions != result.instructions:
            result.problem = f"not deterministic: {m.stats.instructions} instructions vs {result.instructions}"
            break
        result.instructions, result.user = m.stats.instructions, m.stats.user
        result.seconds.append(elapsed)
    return result


def run(args: argparse.Namespace) -> int:
    if args.repeat < 1:
        raise UserError("--repeat must be at least 1")
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
    results = []
    progress = not args.json and sys.stderr.isatty()  # a live status line, for terminals only
    for w in workloads:
        if progress:
            print(f"  running {w.name} ...".ljust(40), end="\r", file=sys.stderr, flush=True)
        results.append(measure(w, args.repeat))
    if progress:
        print(" " * 40, end="\r", file=sys.stderr, flush=True)
    if args.json:
        print_json({"mode": "bare", "repeat": args.repeat, "python": sys.version.split()[0],
                    "workloads": [r.as_dict() for r in results]})
    else:
        print(f"bare machine: guest instructions per second, median of {args.repeat} run(s), Python {sys.version.split()[0]}")
        print(f"{'workload':<11}{'isa':<12}{'instructions':>13}{'user':>6}{'M instr/s':>11}{'min-max':>14}")
        for r in results:
            rates = r.rates
            span = f"{min(rates) / 1e6:.2f}-{max(rates) / 1e6:.2f}" if rates else "-"
            user = f"{r.user / r.instructions:.0%}" if r.instructions else "-"
            line = (f"{r.workload.name:<11}{r.workload.image.isa:<12}{r.instructions:>13,}{user:>6}"
                    f"{r.median / 1e6:>11.2f}{span:>14}")
            print(line + (f"  FAILED: {r.problem}" if r.problem else ""))
    return 1 if any(r.problem for r in results) else 0
