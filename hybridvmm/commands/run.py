"""``run IMAGE... --mode M``: run guests bare or under the monitor, and report what they did.

Console output goes to stdout — exactly the guest's bytes for one guest; with several,
each line prefixed ``[vmN] `` as it completes (``--output-dir DIR`` writes one file per
VM instead).  ``--stats``, ``--regs`` and ``--trace`` go to stderr (``--trace-file`` to a
file) so they never mix with it; ``--json`` prints everything as one JSON document.  Exit 0 when every
guest halts (or the user quit an interactive console), 1 when one is stopped
(``--max-steps`` ran out, a trap loop), 2 on bad input.

Console input (:mod:`hybridvmm.commands.machine_options`) is deterministic; on a terminal
with no input given, one guest's console is interactive (:mod:`hybridvmm.terminal`).
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, TextIO

from hybridvmm.asm.disassembler import format_instruction
from hybridvmm.cli_support import (add_counters_argument, add_force_flag, add_image_arguments, add_json_flag, check_output,
                                   input_files, number, print_json, size, virt_options, write_output, write_stdout)
from hybridvmm.commands.machine_options import add_machine_arguments, console_input, machine_platform
from hybridvmm.commands.signature import write_signature
from hybridvmm.errors import UserError
from hybridvmm.gdbstub import DEFAULT_ADDRESS as DEFAULT_GDB, GdbStub
from hybridvmm.guests import GUESTS
from hybridvmm.image import Image
from hybridvmm.isa import load_isa
from hybridvmm.isas import build_machine, machine_class
from hybridvmm.loading import DEFAULT_STORAGE_LIMIT, load_program
from hybridvmm.progress import Progress
from hybridvmm.machine import HALTED, MAX_STEPS, Machine, RunResult
from hybridvmm.machine.console import DEFAULT_INTERVAL, ConsoleInput
from hybridvmm.machine.trace import (RegisterWatch, TraceSymbols, register_lines, registers, regs_line, trace_line,
                                     trap_line)
from hybridvmm.recording import bare_image, identity_mapped
from hybridvmm.symbols import SymbolTable
from hybridvmm.terminal import HELP, NOTICE, Quit, Session, interactive_streams, raw_terminal
from hybridvmm.vmm import BARE, DEFAULT_SLICE, RUN_MODES, Monitor
from hybridvmm.vmm.costs import load_costs
from hybridvmm.vmm.monitor import check_slice

ORDER = 60

DEFAULT_MAX_STEPS = 50_000_000
TRACE_CATEGORIES = ("insn", "trap", "exit", "patch", "switch", "scan", "regs")
DEFAULT_TRACE = "insn,trap"
INTERRUPTED = "interrupted"
"""The result of a guest stopped by Ctrl-C (what it did so far is reported; exit 130)."""
QUIT = "quit"
"""The result of a guest whose interactive console the user quit (Ctrl-A X; exit 0)."""
UNLIMITED = 1 << 62
INTERACTIVE_CHUNK = 50_000
"""Guest instructions between two looks at the keyboard on a bare interactive run."""


def _guest_limits() -> str:
    """The bundled guests that ask for their own instruction limit, with it."""
    return ", ".join(f"guest:{g.name} {g.max_steps:,}" for g in GUESTS.values() if g.max_steps is not None)


def _epilog() -> str:
    lines = machine_class("rv32").memory_map()
    note = ("Console input is deterministic: the same input gives the same output and instruction counts, bare and "
            "in every mode. With --prompt TEXT a line is delivered each time the console has printed TEXT; without "
            f"it the UART receives one byte --input-interval guest instructions (default {DEFAULT_INTERVAL:,}) after "
            "the previous one was read. On a terminal with no input given, one guest's console is interactive "
            f"(not reproducible): {HELP}.")
    return "RISC-V machine (QEMU virt's addresses):\n  " + "\n  ".join(lines) + "\n\n" + textwrap.fill(note, 100)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run guests on the bare machine or under the monitor, and report their output and statistics",
                       epilog=_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    add_image_arguments(p, several="one VM each")
    p.add_argument("--mode", choices=RUN_MODES, default=BARE,
                   help="bare machine, or a monitor: pure (trap-and-emulate), interpret, hybrid, patch, "
                        "bt (binary translation) (default: bare)")
    p.add_argument("--no-patch", action="store_true", help="hybrid only: do not patch user code (the mode hybrid-no-patch)")
    p.add_argument("--slice", metavar="N", type=number, default=DEFAULT_SLICE,
                   help=f"guest instructions per VM before the monitor switches VMs (default {DEFAULT_SLICE:,})")
    p.add_argument("--max-steps", metavar="N", type=number, default=None,
                   help=f"stop a guest (exit 1) after N instructions (default {DEFAULT_MAX_STEPS:,}, or what a "
                        f"bundled guest asks for: {_guest_limits()}; no limit on an interactive console)")
    p.add_argument("--output-dir", metavar="DIR", help="write each VM's console to DIR/vmN.out instead of stdout")
    p.add_argument("--stats", action="store_true", help="print instructions, traps, monitor statistics and the final PSW on stderr")
    p.add_argument("--trace", nargs="?", const=DEFAULT_TRACE, metavar="CATEGORIES",
                   help=f"trace on stderr; categories (comma-separated): {', '.join(TRACE_CATEGORIES)}, or all "
                        f"(default with no value: {DEFAULT_TRACE})")
    p.add_argument("--trace-file", metavar="FILE", help="write the trace to FILE instead of stderr")
    p.add_argument("--regs", action="store_true",
                   help="print every register at the end on stderr: the general registers by name, pc, mode and the "
                        "system registers (RISC-V: the main CSRs); under the monitor, the VM's virtual CPU "
                        "(--json always has them, as 'registers')")
    p.add_argument("--costs", metavar="FILE", help="cost table replacing the default (see hybridvmm/vmm/costs.toml)")
    p.add_argument("--adaptive", metavar="N", type=number, default=0,
                   help="adaptive translation (pure, hybrid, patch): translate a direct site once it has trapped "
                        "N times (default 0: off)")
    add_counters_argument(p)
    p.add_argument("--timing", action="store_true", help="add wall-clock times to --stats and --json (without it "
                                                         "the same run always prints the same bytes)")
    p.add_argument("--dump", metavar="FILE", help="write the guest's storage at the end to FILE, as the machine holds it "
                                                 "(under the monitor: with its patches in place)")
    p.add_argument("--signature", metavar="FILE",
                   help="bare, one ELF: write the words between its begin_signature and end_signature symbols to FILE "
                        "(one 8-digit hex word per line, as Spike's +signature=)")
    p.add_argument("--gdb", nargs="?", const=DEFAULT_GDB, metavar="[HOST:]PORT",
                   help=f"wait for gdb (gdb-multiarch: target remote PORT) on HOST:PORT (default {DEFAULT_GDB}; "
                        "loopback unless HOST says otherwise); the guest starts stopped, and under --mode each VM is "
                        "a gdb thread (see hybridvmm/gdbstub)")
    p.add_argument("--storage", metavar="SIZE", type=size, default=DEFAULT_STORAGE_LIMIT,
                   help=f"the most storage a guest may need (default {DEFAULT_STORAGE_LIMIT >> 20}M; e.g. 256M, at most 512M)")
    add_machine_arguments(p, drive_write=True)
    add_force_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def mode_name(args: argparse.Namespace) -> str:
    if args.no_patch:
        if args.mode != "hybrid":
            raise UserError("--no-patch applies to --mode hybrid only")
        return "hybrid-no-patch"
    return args.mode


def trace_categories(spec: str | None) -> list[str]:
    if spec is None:
        return []
    cats = [c.strip() for c in spec.split(",") if c.strip()]
    if cats == ["all"]:
        return list(TRACE_CATEGORIES)
    unknown = [c for c in cats if c not in TRACE_CATEGORIES]
    if unknown or not cats:
        raise UserError(f"--trace {spec}: unknown category {', '.join(unknown) or '(none)'} (categories: {', '.join(TRACE_CATEGORIES)}, all)")
    return cats


# --- output -------------------------------------------------------------------------------------------
class LinePrefixer:
    """Interleaves several VMs' console output on stdout a whole line at a time, ``[vmN] `` first."""

    def __init__(self, names: list[str]):
        self.pending = {name: bytearray() for name in names}

    def byte(self, name: str, value: int) -> None:
        buf = self.pending[name]
        buf.append(value)
        if value == 0x0A:
            write_stdout(f"[{name}] ".encode() + bytes(buf))
            buf.clear()

    def flush(self) -> None:
        for name, buf in self.pending.items():
            if buf:
                write_stdout(f"[{name}] ".encode() + bytes(buf) + b"\n")
                buf.clear()


def console_dict(data: bytes) -> dict[str, str]:
    """The console both as text (invalid UTF-8 replaced) and as the exact bytes (hex)."""
    return {"console": data.decode("utf-8", errors="replace"), "console_hex": data.hex()}


# --- bare ---------------------------------------------------------------------------------------------
def _bare_tracer(m: Machine, out: TextIO, cats: list[str], name: str,
                 symbols: SymbolTable | None = None) -> Callable[[], None]:
    """Install the trace; returns what to call after the run (the last instruction's
    register changes, for ``regs``)."""
    isa = m.isa
    prefix = f"[{name}] " if name else ""
    names = TraceSymbols(symbols)
    if "insn" in cats:
        m.tracer = lambda machine, ins: print(prefix + trace_line(
            machine.stats.instructions, machine.mode, ins, format_instruction(ins, isa),
            names.name(ins.address, identity_mapped(machine, ins.address))), file=out)
    if "trap" in cats:
        m.hook_trap(lambda machine, trap: print(prefix + trap_line(trap), file=out))
    if "regs" not in cats:
        return lambda: None
    watch = RegisterWatch(lambda: m)

    def report() -> None:
        changes = watch.changes()
        if changes is not None:
            print(prefix + regs_line(changes), file=out)

    m.tracer = _before(lambda machine, ins: report(), m.tracer)
    return report


def _before(first: Callable[[Machine, Any], None], then: Callable[[Machine, Any], Any] | None) -> Callable[[Machine, Any], None]:
    """A tracer calling ``first``, then the tracer that was there."""
    if then is None:
        return first

    def both(machine: Machine, ins: Any) -> None:
        first(machine, ins)
        then(machine, ins)
    return both


def _watch_registers(monitor: Monitor) -> Callable[[], None]:
    """``--trace regs`` under the monitor: before each guest instruction, direct or
    interpreted, what the current VM's previous one changed (its virtual CPU: the shared
    registers and its own system state), and before a world switch what the retiring VM's
    last one did.  Returns what to call after the run."""
    watches = {vm.name: RegisterWatch(lambda vm=vm: vm.vcpu) for vm in monitor.vms}

    def report() -> None:
        vm = monitor.current
        changes = watches[vm.name].changes() if vm is not None else None
        if changes is not None:
            monitor.emit(vm, "regs", "=> " + changes)

    for machine in (monitor.host, *(vm.vcpu for vm in monitor.vms)):
        machine.tracer = _before(lambda machine, ins: report(), machine.tracer)
    switch = monitor.switch_to

    def switch_to(vm) -> None:
        if monitor.current is not vm:
            report()
        switch(vm)
    monitor.switch_to = switch_to  # type: ignore[method-assign]
    return report


PROGRESS_CHUNK = 2_000_000


def run_machine(m: Machine, max_steps: int, progress: Progress, name: str) -> RunResult:
    """``m.run(max_steps)``, in chunks that let a terminal see it advance."""
    if not progress.enabled:
        return m.run(max_steps)
    done = 0
    while True:
        result = m.run(min(PROGRESS_CHUNK, max_steps - done))
        done += result.steps
        if result.reason != MAX_STEPS or done >= max_steps:
            return RunResult(result.reason, done, result.pc, result.detail)
        progress.update(f"{name}: {done:,} instructions")


def run_session(m: Machine, max_steps: int, session: Session) -> RunResult:
    """``m.run(max_steps)`` with an interactive console: the keyboard is read between chunks."""
    done = 0
    m.hook_output(session.byte)
    while True:
        session.pump()
        result = m.run(min(INTERACTIVE_CHUNK, max_steps - done))
        done += result.steps
        if result.reason != MAX_STEPS or done >= max_steps:
            session.flush()
            return RunResult(result.reason, done, result.pc, result.detail)


def run_bare(args: argparse.Namespace, images: list[Image], out: TextIO, cats: list[str],
             progress: Progress, feed: ConsoleInput | None = None, session: Session | None = None,
             gdb: GdbStub | None = None) -> tuple[list[dict[str, Any]], list[Machine]]:
    results = []
    dumps: list[Machine] = []
    several = len(images) > 1
    prefixer = LinePrefixer([f"vm{k + 1}" for k in range(len(images))]) if several and not args.output_dir else None
    for k, image in enumerate(images):
        name = f"vm{k + 1}"
        loaded = bare_image(image)
        m = build_machine(image.isa, image=loaded)
        dumps.append(m)
        if feed is not None:
            m.console.feed(feed)
        finish_trace = _bare_tracer(m, out, cats, name if several else "", SymbolTable.from_image(image))
        if prefixer is not None and not args.json:
            m.hook_output(lambda machine, byte, name=name: prefixer.byte(name, byte))
        start = time.perf_counter()
        try:
            if session is not None:
                session.feed = m.console.feed
            if gdb is not None:
                result = gdb.run_machine(m, args.max_steps, session)
            elif session is not None:
                result = run_session(m, args.max_steps, session)
            else:
                result = run_machine(m, args.max_steps, progress, name)
        except KeyboardInterrupt:  # Ctrl-C: report what was done so far (exit 130)
            result = RunResult(INTERRUPTED, m.stats.instructions, m.pc, "Ctrl-C")
        except Quit:  # the interactive console's escape
            result = RunResult(QUIT, m.stats.instructions, m.pc, "Ctrl-A X")
        wall = time.perf_counter() - start
        finish_trace()
        if args.signature and result.reason != INTERRUPTED:
            write_signature(m, loaded.symbols, args.signature)
        results.append({
            "name": name, "image": image.source, "isa": m.isa.name, "result": result.reason, "detail": result.detail,
            "halted": result.reason == HALTED, "steps": result.steps, "pc": result.pc,
            "exit_code": m.exit_code, "exit_message": m.exit_message,
            **console_dict(bytes(m.console.output)), "stats": _bare_stats(m, wall if args.timing else None),
            "final_psw": m.psw_summary(),
            "registers": registers(m),
        })
        if result.reason in (INTERRUPTED, QUIT):
            break
    if prefixer is not None and not args.json:
        prefixer.flush()
    if args.dump:
        write_output(args.dump, dumps[0].storage.snapshot())
    return results, dumps


def _bare_stats(m: Machine, wall: float | None) -> dict[str, Any]:
    """The machine's statistics, with the run's wall time under ``--timing`` (as the
    monitor modes give theirs; without it the same run prints the same bytes)."""
    stats = m.stats.as_dict()
    if wall is not None:
        stats["wall_s"] = round(wall, 6)
    return stats


# --- monitor --------------------------------------------------------------------------------------------
def run_monitor(args: argparse.Namespace, images: list[Image], mode: str, out: TextIO, cats: list[str],
                progress: Progress, feed: ConsoleInput | None = None,
                session: Session | None = None, gdb: GdbStub | None = None) -> tuple[Monitor, list[dict[str, Any]]]:
    tracer: Callable[[str, str], None] = lambda category, line: print(line, file=out)
    monitor = Monitor(images, mode, isa=args.isa, slice_length=args.slice, max_steps=args.max_steps,
                      costs=load_costs(args.costs), tracer=tracer if cats else None, trace_categories=cats,
                      virt_options=virt_options(args), adaptive=args.adaptive)
    monitor.progress = progress.update if progress.enabled else None
    finish_trace = _watch_registers(monitor) if "regs" in cats else (lambda: None)
    if session is not None:
        session.feed = monitor.vms[0].console.feed
        monitor.vms[0].vcpu.hook_output(session.byte)
        monitor.progress = lambda text: session.pump()
        session.pump()
    several = len(images) > 1
    prefixer = LinePrefixer([vm.name for vm in monitor.vms]) if several and not args.output_dir and not args.json else None
    for vm in monitor.vms:
        if feed is not None:
            vm.console.feed(feed)
        if prefixer is not None:
            vm.vcpu.hook_output(lambda machine, byte, name=vm.name: prefixer.byte(name, byte))
    try:
        if gdb is not None:
            gdb.run_monitor(monitor)
        else:
            monitor.run()
    except KeyboardInterrupt:  # Ctrl-C: report what was done so far (exit 130)
        monitor.interrupted()
        for vm in monitor.vms:
            vm.finish(INTERRUPTED, "Ctrl-C")
    except Quit:  # the interactive console's escape
        for vm in monitor.vms:
            vm.finish(QUIT, "Ctrl-A X")
    finally:
        finish_trace()
        if session is not None:
            session.flush()
        if prefixer is not None:
            prefixer.flush()
    results = []
    for vm in monitor.vms:
        outcome = vm.outcome
        results.append({
            "name": vm.name, "image": vm.image.source, "isa": vm.isa.name, "result": outcome.reason,
            "detail": outcome.detail, "halted": outcome.reason == HALTED, "steps": vm.guest_instructions,
            "pc": outcome.pc, **console_dict(bytes(vm.console.output)), "stats": vm.vcpu.stats.as_dict(),
            "monitor": vm.stats.as_dict(monitor.costs, timing=args.timing), "final_psw": _final_psw(monitor, vm),
            "registers": registers(vm.vcpu),  # (the VM's world is loaded: _final_psw switched to it)
            "window": {"offset": vm.window.offset, "size": vm.window.size},
        })
    return monitor, results


def _final_psw(monitor: Monitor, vm) -> dict[str, Any]:
    monitor.switch_to(vm)
    return vm.vcpu.psw_summary()


# --- reports --------------------------------------------------------------------------------------------
def print_stats(data: dict[str, Any], several: bool) -> None:
    err = sys.stderr
    prefix = f"[{data['name']}] " if several else ""
    s, psw = data["stats"], data["final_psw"]
    traps = ", ".join(f"{k} {v}" for k, v in s["traps"].items()) or "none"
    modes = ", ".join(f"{k} {v}" for k, v in s.items() if k not in ("instructions", "traps", "timer_interrupts", "wall_s"))
    print(f"{prefix}instructions      {s['instructions']} ({modes})", file=err)
    print(f"{prefix}traps             {traps}", file=err)
    print(f"{prefix}timer interrupts  {s['timer_interrupts']}", file=err)
    if "wall_s" in s:
        print(f"{prefix}wall time         {s['wall_s']:.3f} s", file=err)
    mon = data.get("monitor")
    if mon is not None:
        exits = ", ".join(f"{k} {v}" for k, v in mon["exits"].items()) or "none"
        translated = sum(mon["translated_by_mode"].values())
        ran = f"{translated} translated, " if translated else ""
        print(f"{prefix}executed          {mon['direct']} directly ({mon['direct_fraction']:.2%}), "
              f"{ran}{mon['interpreted'] - translated} interpreted", file=err)
        print(f"{prefix}monitor exits     {exits}; {mon['emulated']} emulated", file=err)
        if mon["adaptive_sites"]:
            print(f"{prefix}adaptive          {mon['adaptive_sites']} trapping sites translated, entered "
                  f"{mon['adaptive_entries']} times instead of trapping", file=err)
        if mon["translations"]:
            print(f"{prefix}translated        {translated} run from the translation cache ({mon['callouts']} callouts); "
                  f"{mon['translations']} blocks ({mon['instructions_translated']} instructions) translated, "
                  f"{mon['translations_dropped']} dropped by stores", file=err)
        print(f"{prefix}patches           {mon['patches_applied']} applied, {mon['patches_hit']} hit, "
              f"{mon['patches_dropped']} dropped by stores; {mon['blocks_scanned']} blocks "
              f"({mon['instructions_scanned']} instructions) scanned", file=err)
        comp = mon.get("compositions")
        if comp:
            print(f"{prefix}compositions      {comp['built']} built, {comp['dropped']} dropped, {comp['flushes']} guest "
                  f"flushes followed, {comp['refills']} refills over {comp['guest_pages']} guest pages", file=err)
        print(f"{prefix}VM switches       {mon['switches']}", file=err)
        wall = f", wall {mon['wall_s']:.3f} s" if "wall_s" in mon else ""
        print(f"{prefix}host cycles       {mon['host_cycles']:,} (simulated){wall}", file=err)
    fields = " ".join(f"{k}={'0x%x' % v if isinstance(v, int) and not isinstance(v, bool) and k != 'timer' else v}"
                      for k, v in psw.items())
    print(f"{prefix}final PSW         {fields}", file=err)


def print_registers(data: dict[str, Any], several: bool) -> None:
    """``--regs``: the final registers on stderr (QEMU ``info registers`` style)."""
    prefix = f"[{data['name']}] " if several else ""
    for line in register_lines(data["registers"], load_isa(data["isa"]).word_bits):
        print(prefix + line, file=sys.stderr)


def _open_trace(args: argparse.Namespace) -> tuple[TextIO, Callable[[], None]]:
    if args.trace_file is None:
        return sys.stderr, lambda: None
    if args.trace is None:
        args.trace = DEFAULT_TRACE
    from io import StringIO
    buffer = StringIO()
    return buffer, lambda: write_output(args.trace_file, buffer.getvalue().encode("utf-8"))


def check_outputs(args: argparse.Namespace, vms: int) -> None:
    """Every file the run will write, checked under the output rule before it starts (a
    long run does not end in 'file exists')."""
    inputs = input_files(*args.images)
    for name in (args.dump, args.trace_file, args.signature):
        if name:
            check_output(name, inputs)
    if args.output_dir:
        directory = Path(args.output_dir)
        if os.path.lexists(directory) and not directory.is_dir():
            raise UserError(f"{directory}: not a directory")
        for k in range(vms):
            check_output(directory / f"vm{k + 1}.out", inputs)


def run(args: argparse.Namespace) -> int:
    if args.max_steps is not None and args.max_steps < 0:
        raise UserError(f"--max-steps must be >= 0 (got {args.max_steps})")
    check_slice(args.slice)
    mode = mode_name(args)
    cats = trace_categories(args.trace if args.trace is not None or args.trace_file is None else DEFAULT_TRACE)
    images = [load_program(name, isa=args.isa, base=args.base, entry=args.entry, storage_limit=args.storage)
              for name in args.images]
    if args.signature and (mode != BARE or len(images) > 1):
        raise UserError("--signature needs one image run bare")
    if args.dump and len(images) > 1:
        raise UserError("--dump writes one guest's storage: give one image")
    if args.costs and mode == BARE:
        raise UserError("--costs prices the monitor's work: it applies to the monitor modes, not --mode bare")
    if args.adaptive and mode == BARE:
        raise UserError("--adaptive is a monitor policy: it applies to pure, hybrid and patch, not --mode bare")
    if args.counters and mode == BARE:
        raise UserError("--counters is the monitor's counter policy: it applies to the monitor modes, not --mode bare")
    check_outputs(args, len(images))
    if args.gdb and mode == BARE and len(images) > 1:
        raise UserError("--gdb debugs one bare guest, or several VMs under --mode")
    feed = console_input(args)
    platform, drive = machine_platform(args, images)
    if args.drive_write and drive is None:
        raise UserError("--drive-write writes the --drive FILE back: give --drive FILE")
    if args.drive_write and len(images) > 1:
        raise UserError("--drive-write writes one guest's disk back: give one image")
    interactive = feed is None and len(images) == 1 and not args.json and not args.output_dir and interactive_streams()
    if args.max_steps is None:
        own = max((image.platform.get("max_steps", 0) for image in images), default=0)
        args.max_steps = UNLIMITED if interactive else max(DEFAULT_MAX_STEPS, own)
    session = Session(lambda data: None, sys.stdin.fileno(), sys.stdout.buffer) if interactive else None
    out, close_trace = _open_trace(args)
    progress = Progress(enabled=False if (cats and args.trace_file is None) or interactive or args.gdb else None)
    gdb = GdbStub(args.gdb, images, quit_reason=QUIT) if args.gdb else None
    try:
        with platform, (raw_terminal(sys.stdin.fileno()) if interactive else nullcontext()):
            if interactive:
                print(NOTICE, file=sys.stderr)
            if mode == BARE:
                results, machines = run_bare(args, images, out, cats, progress, feed, session, gdb)
                summary: dict[str, Any] = {"mode": mode}
            else:
                monitor, results = run_monitor(args, images, mode, out, cats, progress, feed, session, gdb)
                machines = [vm.vcpu for vm in monitor.vms]
                summary = {**monitor.summary(), "resource_control_violations": monitor.escapes}
                if args.dump:
                    write_output(args.dump, monitor.vms[0].window.snapshot())
    finally:
        progress.clear()
        close_trace()
        if gdb is not None:
            gdb.close()
        if session is not None:
            session.end()
    if args.drive_write:
        own = getattr(machines[0], "drive", None)
        if own is not None:
            own.write_back()
    several = len(images) > 1
    if args.output_dir:
        directory = Path(args.output_dir)
        directory.mkdir(parents=True, exist_ok=True)
        for r in results:
            write_output(directory / f"{r['name']}.out", bytes.fromhex(r["console_hex"]))
    if args.json:
        data = {**results[0], "mode": mode, "max_steps": args.max_steps} if not several else {
            **summary, "max_steps": args.max_steps, "vms": results}
        if not several and mode != BARE:
            data.update(summary)
        print_json(data)
    else:
        if not several and not args.output_dir and not interactive:
            write_stdout(bytes.fromhex(results[0]["console_hex"]))
        if args.stats:
            for r in results:
                print_stats(r, several)
        if args.regs:
            for r in results:
                print_registers(r, several)
    status = 0
    for r in results:
        who = f"{r['name']} " if several else ""
        if r["result"] == QUIT:
            continue
        if r["halted"]:
            if r.get("exit_code"):  # the guest itself reported a failure (RISC-V HTIF, test finisher)
                status = 1
                print(f"hybridvmm: run: {who}{r['exit_message'] or 'guest exit code %d' % r['exit_code']}", file=sys.stderr)
            continue
        status = 1
        if r["result"] == MAX_STEPS:
            print(f"hybridvmm: run: guest {who}did not halt within {args.max_steps:,} instructions (stopped at pc 0x{r['pc']:x})",
                  file=sys.stderr)
        else:
            print(f"hybridvmm: run: guest {who}stopped ({r['result']}): {r['detail']}", file=sys.stderr)
    return 130 if any(r["result"] == INTERRUPTED for r in results) else status

