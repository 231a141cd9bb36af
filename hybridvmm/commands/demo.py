"""``demo``: the whole story on the bundled guests, in one command.

One ISA description in three variants; the classes and theorem verdicts derived by
execution; the minios guest on the bare machine of each variant; and the scan-and-patch
of minios that a monitor needs where Theorem 3 fails.
"""

from __future__ import annotations

import argparse
import hashlib
import time

from hybridvmm.classify import classify_isa
from hybridvmm.guests import build_guest, task_regions
from hybridvmm.isa import load_isa
from hybridvmm.isas import build_machine
from hybridvmm.patch import patch_image
from hybridvmm.scan import Space, scan_program

ORDER = 1
VARIANTS = ("pgm-virt", "pgm-hybrid", "pgm-x86")
SHOWN_LINES = ("sysinfo: task", "sysinfo: pushf", "sysinfo: rdtime", "minios: task 5 rogue killed", "minios: all tasks done")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the main demonstration: classify, run, scan and patch on the bundled guests")
    p.add_argument("--samples", type=int, default=60, metavar="N", help="classifier states per instruction (default 60)")
    p.set_defaults(func=run)


def heading(n: int, text: str) -> None:
    print(f"\n{n}. {text}\n" + "-" * (len(text) + 3))


def show_variants() -> None:
    heading(1, "One ISA description, three variants (isa_specs/pgm*.toml)")
    for name in VARIANTS:
        isa = load_isa(name)
        five = [i for i in isa.instructions.values() if i.user_mode is not None]
        runs = [i.name for i in five if i.user_mode == "execute"]
        traps = [i.name for i in five if i.user_mode == "trap"]
        print(f"  {name:<11} in user mode executes: {', '.join(runs) or '-':<34} traps: {', '.join(traps) or '-'}")


def show_classes(samples: int) -> None:
    heading(2, f"Classes derived by executing each instruction in paired states ({samples} states each)")
    for name in VARIANTS:
        start = time.perf_counter()
        result = classify_isa(name, samples=samples)
        seconds = time.perf_counter() - start
        verdicts = []
        for v in (result.theorem1, result.theorem3):
            verdicts.append(f"{v.theorem} {'holds' if v.holds else 'FAILS (' + ', '.join(v.violations) + ')'}")
        print(f"  {name:<11} {'; '.join(verdicts)}   [{seconds:.1f} s, spec agrees: {not result.disagreements}]")
        shown = result.theorem3.violations[:1] or result.theorem1.violations[:1]
        for violator in shown:
            ic = result.by_name(violator)
            tag = "user-sensitive" if ic.user_sensitive else ("control-sensitive" if ic.control_sensitive else "behavior-sensitive")
            print(f"      {ic.witnesses[tag].explanation};\n      it is not privileged: {ic.not_privileged_because}.")


def show_runs() -> None:
    heading(3, "minios on the bare machine of each variant (the reference for every monitor)")
    outputs = {}
    for name in VARIANTS:
        machine = build_machine(name, image=build_guest("minios", name))
        start = time.perf_counter()
        result = machine.run(50_000_000)
        seconds = time.perf_counter() - start
        text = machine.console.text()
        outputs[name] = text
        stats = machine.stats
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        print(f"  {name:<11} {result.reason}: {stats.supervisor + stats.user:,} instructions "
              f"({stats.user:,} user), {stats.traps.get('timer', 0)} timer interrupts, "
              f"{stats.traps.get('privileged', 0)} privileged traps, console sha256 {digest}, {seconds:.2f} s")
    same = len(set(outputs.values())) == 1
    print(f"  console output identical on all three variants: {'yes' if same else 'NO'}")
    print("  a few of its lines (pgm-x86):")
    for line in outputs["pgm-x86"].splitlines():
        if line.startswith(SHOWN_LINES):
            print(f"    | {line}")


def show_patching() -> None:
    heading(4, "Scanning minios for sensitive-unprivileged sites, and patching it for pgm-x86")
    for name in VARIANTS:
        image = build_guest("minios", name)
        isa = load_isa(name)
        spaces = [Space(base, bound, (entry,)) for base, bound, entry in task_regions(image)]
        scanned = scan_program(image, isa, spaces=spaces)
        kernel, sites = scanned.main, scanned.main_sites
        task_sites = [site for _, _, space_sites in scanned.spaces for site in space_sites]
        every = scanned.sites
        names = sorted({s.name for s in every})
        user = sum(1 for s in every if s.user_sensitive)
        print(f"  {name:<11} kernel: {len(kernel.blocks)} blocks, {len(sites)} sites; {len(spaces)} relocated tasks: "
              f"{len(task_sites)} sites; {user} of all {len(every)} user-sensitive  {' '.join(names)}".rstrip())
    image = build_guest("minios", "pgm-x86")
    spaces = tuple(Space(base, bound, (entry,)) for base, bound, entry in task_regions(image))
    result = patch_image(image, "pgm-x86", policy="all-sensitive", spaces=spaces)
    patched = result.image
    print(f"  patch --all-sensitive: {len(patched.patches)} sites replaced by `vmtrap 0` (+ nop padding), originals in the patch table:")
    for record in patched.patches[:6]:
        print(f"    0x{record.address:05x}  {record.original.hex():<12} -> {record.replacement.hex():<12} ({record.kind})")
    if len(patched.patches) > 6:
        print(f"    ... and {len(patched.patches) - 6} more (python -m hybridvmm info on the patched image lists them all)")


def run(args: argparse.Namespace) -> int:
    print("hybridvmm demo: Popek–Goldberg virtualization theory, executed")
    show_variants()
    show_classes(args.samples)
    show_runs()
    show_patching()
    print("\nNext: `python -m hybridvmm --help` lists every subcommand; README.md has the tour.")
    return 0
