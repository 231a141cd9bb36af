"""``demo``: the whole story on the bundled guests, in one command.

One ISA description in three variants; the classes and theorem verdicts derived by
execution; the minios guest on the bare machine of each variant; the scan-and-patch of
minios that a monitor needs where Theorem 3 fails; and the monitor itself: minios, redpill
and stopwatch compared with the bare machine under every mode on every variant, the
prediction table of docs/modes.md, 'Predicted equivalence', filled in from those runs, and what each design costs on a
user-heavy workload; then real RISC-V: rvminios and an official riscv-tests ``v`` test with guest M,
S and U deprivileged under every mode, the rv32 row of the table, and the one hole RISC-V
has — counters read in U-mode — shown by running a naive monitor beside the real one.
With ``--xv6`` an eighth act boots a real operating system, MIT's xv6-riscv, bare and under
``pure`` and ``hybrid`` with one command typed at its shell (about a minute more: three
boots of some 67 M guest instructions).
"""

from __future__ import annotations

import argparse
import hashlib
import time
from importlib import resources

from hybridvmm.commands.machine_options import own_platform
from hybridvmm.image import Image
from hybridvmm.machine.console import ConsoleInput

from hybridvmm.classify import classify_isa
from hybridvmm.guests import build_guest, task_regions
from hybridvmm.isa import load_isa
from hybridvmm.isas import build_machine, probe_for
from hybridvmm.loading import load_program
from hybridvmm.patch import patch_image
from hybridvmm.progress import Progress
from hybridvmm.scan import Space, scan_program
from hybridvmm.vmm import COMPARE_MODES
from hybridvmm.vmm.compare import compare_images

ORDER = 1
from hybridvmm.guests import VARIANTS

MONITOR_GUESTS = ("minios", "redpill", "stopwatch")
COLUMN = {"hybrid-no-patch": "hybrid --no-patch"}
SHOWN_LINES = ("sysinfo: task", "sysinfo: pushf", "sysinfo: rdtime", "minios: task 5 rogue killed", "minios: all tasks done")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the main demonstration: classify, run, scan and patch on the bundled guests")
    p.add_argument("--samples", type=int, default=60, metavar="N", help="classifier states per instruction (default 60)")
    p.add_argument("--xv6", action="store_true", help="add an act booting xv6-riscv bare and under pure and hybrid "
                                                    "(about a minute more)")
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
        progress = Progress()
        try:
            result = classify_isa(name, samples=samples, probe=probe_for(name), progress=progress.update)
        finally:
            progress.clear()
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
        print(f"  {name:<11} {result.reason}: {stats.instructions:,} instructions "
              f"({stats.by_mode.get('user', 0):,} user), {stats.traps.get('timer', 0)} timer interrupts, "
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


def show_monitor() -> bool:
    heading(5, "The monitor: minios, redpill and stopwatch bare and under every mode, compared exactly")
    cells: dict[tuple[str, str], list] = {}
    examples = []
    as_predicted = True
    for variant in VARIANTS:
        start = time.perf_counter()
        progress = Progress()
        try:
            comparisons = compare_images([build_guest(g, variant) for g in MONITOR_GUESTS], list(COMPARE_MODES), variant,
                                         progress=progress.update)
        finally:
            progress.clear()
        seconds = time.perf_counter() - start
        for c in comparisons:
            for row in c.rows:
                cells.setdefault((variant, row.mode), []).append(row)
                as_predicted &= row.equivalent == row.predicted
        print(f"  {variant:<11} compared {len(comparisons)} guests x {len(COMPARE_MODES)} modes in {seconds:.1f} s")
    print("\n  The prediction table (docs/modes.md, 'Predicted equivalence'), filled in from those runs: yes = all three guests equivalent")
    print("  to the bare machine; NO = diverges, with the instruction the lock-step search found responsible.")
    header = f"  {'':<11}" + "".join(f"{COLUMN.get(m, m):<22}" for m in COMPARE_MODES)
    print(header.rstrip())
    for variant in VARIANTS:
        row_text = f"  {variant:<11}"
        for mode in COMPARE_MODES:
            rows = cells[variant, mode]
            if all(r.equivalent for r in rows):
                cell = "yes"
            else:
                names = []
                for r in rows:
                    if r.divergence is not None and r.divergence.responsible is not None:
                        name = r.divergence.responsible.text.split()[0]
                        if name not in names:
                            names.append(name)
                        if len(examples) < 2 and mode == "hybrid-no-patch":
                            examples.append((variant, mode, r))
                diverged = sum(not r.equivalent for r in rows)
                cell = f"NO {diverged}/3 ({', '.join(names)})"
            row_text += f"{cell:<22}"
        print(row_text.rstrip())
    print(f"  every cell as the theorems predict: {'yes' if as_predicted else 'NO'}")
    for variant, mode, r in examples[:1]:
        d = r.divergence
        print(f"\n  e.g. {r.run.vm.image.source} on {variant}, {COLUMN.get(mode, mode)}:")
        for line in d.lines(COLUMN.get(mode, mode)):
            print(f"    {line}")
    return as_predicted


COST_GUESTS = (("sieve", "user-heavy"), ("kcompute", "kernel compute"), ("privileged", "privileged-heavy"),
               ("syscalls", "syscall-heavy"), ("kjit", "code rewritten"))
COST_MODES = ("pure", "interpret", "hybrid", "bt")


def show_costs() -> None:
    heading(6, "What each design costs: five workloads on pgm-virt (where trap-and-emulate is sound), one run each")
    rows: dict[str, list[str]] = {mode: [] for mode in COST_MODES}
    for guest, _ in COST_GUESTS:
        comparison = compare_images([build_guest(guest, "pgm-virt")], list(COST_MODES), "pgm-virt",
                                    locate_divergences=False)[0]
        for row in comparison.rows:
            d = row.as_dict()
            mark = "" if row.equivalent else " (NOT equivalent)"
            rows[row.mode].append(f"{d['slowdown_simulated']:.2f}x{mark}")
    print("  simulated host cycles against the bare machine's (the cost table, hybridvmm/vmm/costs.toml):")
    print(f"  {'mode':<11}" + "".join(f"{g:>19}" for g, _ in COST_GUESTS))
    print(f"  {'':<11}" + "".join(f"{'(' + what + ')':>19}" for _, what in COST_GUESTS))
    for mode in COST_MODES:
        print(f"  {mode:<11}" + "".join(f"{cell:>19}" for cell in rows[mode]))
    print("\n  bt (VMware's binary translation) makes each privileged instruction of the kernel a callout (100 cycles)")
    print("  instead of a trap (1,300): it beats trap-and-emulate where the kernel runs privileged instructions")
    print("  (privileged, and the kernel half of every system call), and hybrid wherever the kernel computes")
    print("  (translated code runs at native speed, interpreted code 40x slower).  Where the kernel computes with")
    print("  no privileged instruction it only ties with trap-and-emulate (kcompute), and where it rewrites code")
    print("  before reusing it bt loses (kjit: every store voids a translation, 300 cycles an instruction to make")
    print("  again, where trap-and-emulate runs the new code directly for nothing).")
    print("  (`python -m hybridvmm bench` measures wall time: Python hosting Python, where only the simulated")
    print("  cycles carry the classic ratios)")


def riscv_guests() -> list:
    """rvminios and the riscv-tests ``v`` test shipped with the package."""
    elf = resources.files("hybridvmm.guests").joinpath("elf", "rv32ui-v-add")
    with resources.as_file(elf) as path:
        vtest = load_program(str(path))
    return [build_guest("rvminios", "rv32"), vtest]


def show_riscv() -> bool:
    heading(7, "Real RISC-V: guest M, S and U all deprivileged, over a composed (shadow) mapping")
    start = time.perf_counter()
    progress = Progress()
    try:
        comparisons = compare_images(riscv_guests(), list(COMPARE_MODES), "rv32", progress=progress.update)
    finally:
        progress.clear()
    seconds = time.perf_counter() - start
    as_predicted = True
    print(f"  rvminios (M firmware, S kernel with Sv32, 2 U tasks) and rv32ui-v-add (the riscv-tests' own S kernel)")
    print(f"  under every mode, compared exactly with the bare machine in {seconds:.1f} s:")
    print(f"  {'guest':<22}{'mode':<18}{'equivalent':<12}{'direct':>8}  exits by cause")
    for c in comparisons:
        for row in c.rows:
            as_predicted &= row.equivalent == row.predicted
            exits = row.run.vm.stats.exits
            causes = ", ".join(f"{k} {v}" for k, v in sorted(exits.items())) or "-"
            name = c.image.source.rsplit("/", 1)[-1]
            print(f"  {name:<22}{COLUMN.get(row.mode, row.mode):<18}{'yes' if row.equivalent else 'NO':<12}"
                  f"{row.as_dict()['direct_fraction']:>8.1%}  {causes}")
    cells = {mode: all(r.equivalent for c in comparisons for r in c.rows if r.mode == mode) for mode in COMPARE_MODES}
    print(("\n  " + f"{'':<11}" + "".join(f"{COLUMN.get(m, m):<22}" for m in COMPARE_MODES)).rstrip())
    print(("  " + f"{'rv32':<11}" + "".join(f"{'yes' if cells[m] else 'NO':<22}" for m in COMPARE_MODES)).rstrip())
    print("  (RISC-V meets Theorem 1 once the monitor keeps the counters from the guest: every cell yes)")
    image = build_guest("rvcounters", "rv32")
    print("\n  The one condition: counters read in U-mode.  guest:rvcounters enables time for U and reads it there.")
    for policy in ("trap", "passthrough"):
        [c] = compare_images([image], ["pure"], "rv32", virt_options={"counters": policy})
        row = c.rows[0]
        as_predicted &= row.equivalent == row.predicted
        verdict = "equivalent" if row.equivalent else "DIVERGES"
        print(f"  pure --counters {policy:<12} {verdict}: {row.run.console.decode().strip()}")
        if row.divergence is not None and row.divergence.responsible is not None:
            print(f"      responsible: {row.divergence.responsible.describe()}")
    print(f"  bare                          {c.bare.console.decode().strip()}")
    return as_predicted


XV6_MODES = ("pure", "hybrid")
XV6_INPUT = ConsoleInput(b"echo hello from xv6\n", prompt=b"$ ")
"""The act's session: one command typed at the shell's first prompt (the run ends when the
prompt is back)."""


def show_xv6(image: Image | None = None, console: ConsoleInput = XV6_INPUT) -> bool:
    """Act 8: a real operating system bare and under pure and hybrid, its transcript once,
    the equivalence and the monitor's exits by cause.  ``image``: xv6 (another guest for a
    quick look at the act)."""
    heading(8, "A real operating system: xv6-riscv, bare and under pure and hybrid")
    image = image if image is not None else build_guest("xv6")
    platform = own_platform([image])
    limit = max(50_000_000, image.platform.get("max_steps", 0))
    progress = Progress()
    start = time.perf_counter()
    try:
        with platform:
            [c] = compare_images([image], list(XV6_MODES), image.isa, limit, console, locate_divergences=False,
                                 progress=progress.update)
    finally:
        progress.clear()
    seconds = time.perf_counter() - start
    typed = console.decode(errors="replace").strip().replace("\n", "; ")
    print(f"  {image.source} (RV64IMA, Sv39, PLIC, UART, virtio disk) typed '{typed}' at each '$ ' prompt,"
          if typed else f"  {image.source}, no input,")
    print(f"  bare, then under each mode on a fresh copy of its disk, {seconds:.0f} s in all.  The transcript (every run's):")
    for line in c.bare.console.decode(errors="replace").split("\n"):
        print(f"    | {line}".rstrip())
    print(f"  {'mode':<9}{'instructions':>13}{'wall s':>8}{'M instr/s':>11}{'direct':>8}  {'equivalent':<12}exits by cause")
    print(f"  {'bare':<9}{c.bare.instructions:>13,}{c.bare.wall_s:>8.1f}{c.bare.instructions / c.bare.wall_s / 1e6:>11.2f}"
          f"{'-':>8}  {'-':<12}-")
    as_predicted = True
    for row in c.rows:
        as_predicted &= row.equivalent == row.predicted
        run = row.run
        exits = ", ".join(f"{k} {v:,}" for k, v in sorted(run.vm.stats.exits.items())) or "-"
        print(f"  {row.mode:<9}{run.instructions:>13,}{run.wall_s:>8.1f}{run.instructions / run.wall_s / 1e6:>11.2f}"
              f"{row.as_dict()['direct_fraction']:>8.1%}  {'yes' if row.equivalent else 'NO':<12}{exits}")
        if row.divergence is not None:
            print(f"      {row.divergence.describe()}")
        run.monitor.close()
    same = all(row.run.console == c.bare.console for row in c.rows)
    print(f"  same transcript bare, {' and '.join(XV6_MODES)}: {'yes' if same else 'NO'}; equivalent (every console "
          f"byte and trap at the same instruction count, the same final state): "
          f"{'yes' if all(r.equivalent for r in c.rows) else 'NO'}")
    print("  (pure exits on every CSR access of xv6's S-mode kernel — its spinlocks save and restore sstatus — "
          "hybrid interprets S-mode and runs U directly; scripts/xv6_session.py runs a longer session against QEMU)")
    return as_predicted and same


def run(args: argparse.Namespace) -> int:
    print("hybridvmm demo: Popek–Goldberg virtualization theory, executed")
    show_variants()
    show_classes(args.samples)
    show_runs()
    show_patching()
    as_predicted = show_monitor()
    show_costs()
    as_predicted &= show_riscv()
    if args.xv6:
        as_predicted &= show_xv6()
    print("\nNext: `python -m hybridvmm --help` lists every subcommand; README.md has the tour.")
    return 0 if as_predicted else 1
