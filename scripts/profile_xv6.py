"""What dominates an xv6 boot: where the guest's instructions go, and where the host's time goes.

    python scripts/profile_xv6.py [--mode MODE] [--command TEXT] [--top N] [--sort tottime|cumulative]
                                  [--sample N] [--json]

Boots the bundled ``guest:xv6`` (on a copy of its disk) to its shell, types one command at
the first ``$ `` prompt (default ``echo hello``) and stops when the prompt is back, under
cProfile, bare or under a monitor mode.  It prints:

- the guest's instructions by privilege mode (and under a monitor, the part run directly,
  and the monitor's exits by cause);
- bare only: the guest's time by kernel function, from its pc sampled every N guest
  instructions (``--sample``, default 10,000; the run is the same instruction for
  instruction, it only stops and resumes), named by the image's symbols where the mapping
  is the identity (xv6's kernel), ``(user)`` in U-mode;
- the host's time: cProfile's top functions (``--sort tottime``, the default, is the time
  in a function itself; ``cumulative`` includes what it calls).

cProfile slows the interpreter down (about 2x here), evenly enough that the shares hold.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from collections import Counter
from typing import Any

from hybridvmm.guests import build_guest
from hybridvmm.isas import build_machine
from hybridvmm.isas.riscv.platform import configured
from hybridvmm.machine import MAX_STEPS
from hybridvmm.machine.console import ConsoleInput
from hybridvmm.machine.drive import Drive
from hybridvmm.recording import identity_mapped
from hybridvmm.symbols import SymbolTable
from hybridvmm.vmm import BARE, MODES, Monitor

PROMPT = b"$ "
LIMIT = 500_000_000


def boot_bare(image, feed: ConsoleInput, sample: int) -> tuple[dict[str, Any], Counter]:
    """The boot on the bare machine in chunks of ``sample`` instructions, the pc noted after each."""
    m = build_machine(image.isa, image=image)
    m.console.feed(feed)
    table = SymbolTable.from_image(image)
    names: dict[int, str] = {}
    places: Counter = Counter()
    done = 0
    start = time.perf_counter()
    while done < LIMIT:
        result = m.run(min(sample, LIMIT - done))
        done += result.steps
        if result.reason != MAX_STEPS:
            break
        pc = m.pc
        if m.mode == "user":
            places["(user)"] += 1
        elif m.physical_of(pc) is None:
            places["(not translated yet)"] += 1
        elif identity_mapped(m, pc):
            if pc not in names:
                label = table.nearest(pc)
                names[pc] = label[1:-1].split("+")[0] if label else f"0x{pc:x}"
            places[names[pc]] += 1
        else:
            places["(mapped elsewhere)"] += 1
    wall = time.perf_counter() - start
    out = {"mode": BARE, "ending": result.reason, "instructions": m.stats.instructions, "wall_s": wall,
           "by_mode": dict(m.stats.by_mode), "guest_traps": dict(m.stats.traps), "console": bytes(m.console.output)}
    m.close()
    return out, places


def boot_monitor(image, feed: ConsoleInput, mode: str) -> dict[str, Any]:
    monitor = Monitor([image], mode, max_steps=LIMIT)
    vm = monitor.vms[0]
    vm.console.feed(feed)
    start = time.perf_counter()
    monitor.run()
    wall = time.perf_counter() - start
    stats = vm.stats
    out = {"mode": mode, "ending": vm.outcome.reason, "instructions": vm.guest_instructions, "wall_s": wall,
           "by_mode": dict(stats.by_mode), "direct": dict(stats.direct), "exits": dict(sorted(stats.exits.items())),
           "emulated": stats.emulated, "compositions": dict(stats.compositions), "console": bytes(vm.console.output)}
    monitor.close()
    return out


def top_functions(profile: cProfile.Profile, sort: str, n: int) -> tuple[str, list[dict[str, Any]]]:
    """cProfile's table (directories stripped) and its rows as data."""
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text).strip_dirs().sort_stats(sort)
    stats.print_stats(n)
    rows = []
    key = {"tottime": 2, "cumulative": 3}[sort]
    for (filename, line, name), (cc, nc, tt, ct, _) in sorted(stats.stats.items(), key=lambda kv: -kv[1][key])[:n]:
        rows.append({"function": f"{filename}:{line}({name})", "calls": nc, "tottime_s": round(tt, 3),
                     "cumtime_s": round(ct, 3)})
    lines = text.getvalue().splitlines()
    header = next((k for k, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return "\n".join(lines[header:]).rstrip(), rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", default=BARE, help=f"bare (default) or a monitor mode: {', '.join(MODES)}")
    p.add_argument("--command", default="echo hello", metavar="TEXT", help="the line typed at the first prompt")
    p.add_argument("--top", type=int, default=25, metavar="N", help="cProfile functions shown (default 25)")
    p.add_argument("--sort", choices=("tottime", "cumulative"), default="tottime", help="cProfile's order")
    p.add_argument("--sample", type=int, default=10_000, metavar="N", help="bare: note the guest's pc every N instructions")
    p.add_argument("--json", action="store_true", help="print the results as one JSON document")
    args = p.parse_args(argv)
    error = None
    if args.mode != BARE and args.mode not in MODES:
        error = f"--mode {args.mode}: not a mode (modes: {BARE}, {', '.join(MODES)})"
    elif args.top < 1 or args.sample < 1:
        error = "--top and --sample must be at least 1"
    elif not args.command or any(ord(c) < 0x20 for c in args.command):
        error = "--command: one printable line"
    if error:
        print(f"profile_xv6: error: {error}", file=sys.stderr)
        return 2
    image = build_guest("xv6")
    feed = ConsoleInput(args.command.encode() + b"\n", prompt=PROMPT)
    profile = cProfile.Profile()
    places: Counter = Counter()
    with configured(ram=image.platform["ram"], drive=Drive(image.platform["drive"][1])):
        profile.enable()
        if args.mode == BARE:
            run, places = boot_bare(image, feed, args.sample)
        else:
            run = boot_monitor(image, feed, args.mode)
        profile.disable()
    table, rows = top_functions(profile, args.sort, args.top)
    total = run["instructions"]
    samples = sum(places.values())
    console = run.pop("console")
    if args.json:
        json.dump({**run, "command": args.command, "transcript": console.decode(errors="replace"),
                   "guest_functions": [{"function": f, "samples": n, "share": n / samples} for f, n in places.most_common()]
                   if samples else None, "sample_every": args.sample if samples else None,
                   "host_functions": rows, "sort": args.sort}, sys.stdout, indent=2)
        print()
        return 0 if run["ending"] == "halted" else 1
    print(f"xv6 boot and `{args.command}` under {run['mode']} with cProfile on: {run['ending']}, "
          f"{total:,} guest instructions in {run['wall_s']:.1f} s ({total / run['wall_s'] / 1e6:.2f} M instr/s profiled)")
    print("\nguest instructions by mode:")
    for mode, n in run["by_mode"].items():
        direct = run.get("direct", {}).get(mode)
        extra = f", {direct / n:.1%} of them directly" if direct is not None and n else ""
        print(f"  {mode:<11}{n:>13,}  {n / total:>6.2%}{extra}")
    if "exits" in run:
        print("monitor exits by cause: " + (", ".join(f"{k} {v:,}" for k, v in run["exits"].items()) or "none")
              + f"; {run['emulated']:,} instructions emulated")
    else:
        print("traps the guest took: " + ", ".join(f"{k} {v:,}" for k, v in run["guest_traps"].items()))
    if samples:
        print(f"\nguest instructions by kernel function (pc every {args.sample:,} instructions, {samples:,} samples):")
        for name, n in places.most_common(12):
            print(f"  {name:<28}{n / samples:>7.1%}")
    print(f"\nhost time: cProfile's top {args.top} by {args.sort}")
    print(table)
    return 0 if run["ending"] == "halted" else 1


if __name__ == "__main__":
    sys.exit(main())
