"""``run IMAGE --mode bare``: run a guest and report its console output and statistics.

Console output goes to stdout (exactly the guest's bytes); ``--stats`` and ``--trace``
go to stderr so they never mix with it; ``--json`` prints everything as one JSON document.
Exit 0 when the guest halts, 1 when it is stopped (``--max-steps`` ran out, a trap loop),
2 on bad input.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hybridvmm.cli_support import add_image_arguments, add_json_flag, number, open_image, print_json
from hybridvmm.errors import UserError
from hybridvmm.isas import build_machine
from hybridvmm.machine import HALTED, MAX_STEPS, Machine, RunResult
from hybridvmm.asm.disassembler import format_instruction
from hybridvmm.machine.trace import trace_line, trap_line

ORDER = 60

DEFAULT_MAX_STEPS = 50_000_000
MODES = ("bare",)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a guest on the bare machine and report its output and statistics")
    add_image_arguments(p)
    p.add_argument("--mode", choices=MODES, default="bare", help="how to run the guest (default: bare; monitor modes come later)")
    p.add_argument("--max-steps", metavar="N", type=number, default=DEFAULT_MAX_STEPS,
                   help=f"stop (exit 1) after N instructions (default {DEFAULT_MAX_STEPS:,})")
    p.add_argument("--input", metavar="TEXT", default="", help="bytes queued on the console input (UTF-8)")
    p.add_argument("--stats", action="store_true", help="print instructions per mode, traps by cause, timer interrupts and the final PSW on stderr")
    p.add_argument("--trace", action="store_true", help="print every instruction (and trap) on stderr")
    add_json_flag(p)
    p.set_defaults(func=run)


def report(m: Machine, result: RunResult, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "image": args.image,
        "isa": m.isa.name,
        "mode": args.mode,
        "result": result.reason,
        "detail": result.detail,
        "halted": result.reason == HALTED,
        "steps": result.steps,
        "max_steps": args.max_steps,
        "output": m.console.text(),
        "stats": m.stats.as_dict(),
        "final_psw": m.psw_summary(),
    }


def print_stats(data: dict[str, Any]) -> None:
    s, psw = data["stats"], data["final_psw"]
    traps = ", ".join(f"{k} {v}" for k, v in s["traps"].items()) or "none"
    err = sys.stderr
    print(f"instructions      {s['instructions']} (supervisor {s['supervisor']}, user {s['user']})", file=err)
    print(f"traps             {traps}", file=err)
    print(f"timer interrupts  {s['timer_interrupts']}", file=err)
    fields = " ".join(f"{k}={'0x%x' % v if isinstance(v, int) and not isinstance(v, bool) and k != 'timer' else v}"
                      for k, v in psw.items())
    print(f"final PSW         {fields}", file=err)


def _install_trace(m: Machine) -> None:
    isa = m.isa
    err = sys.stderr

    def on_instruction(machine: Machine, ins) -> None:
        print(trace_line(machine.stats.instructions, machine.user, ins, format_instruction(ins, isa)), file=err)

    m.tracer = on_instruction
    m.hook_trap(lambda machine, trap: print(trap_line(trap), file=err))


def _write_output(data: bytes) -> None:
    if not data:
        return
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is not None:
        buffer.write(data)
        buffer.flush()
    else:
        sys.stdout.write(data.decode("utf-8", errors="replace"))


def run_bare(args: argparse.Namespace) -> tuple[Machine, RunResult]:
    image = open_image(args)
    m = build_machine(image.isa, image=image)
    if args.input:
        m.console.feed(args.input.encode("utf-8"))
    if args.trace:
        _install_trace(m)
    return m, m.run(args.max_steps)


RUNNERS = {"bare": run_bare}


def run(args: argparse.Namespace) -> int:
    if args.max_steps < 0:
        raise UserError(f"--max-steps must be >= 0 (got {args.max_steps})")
    m, result = RUNNERS[args.mode](args)
    data = report(m, result, args)
    if args.json:
        print_json(data)
    else:
        _write_output(bytes(m.console.output))
        if args.stats:
            print_stats(data)
    if result.reason == HALTED:
        return 0
    if result.reason == MAX_STEPS:
        print(f"hybridvmm: run: guest did not halt within {args.max_steps:,} instructions (stopped at pc 0x{result.pc:x})", file=sys.stderr)
    else:
        print(f"hybridvmm: run: guest stopped ({result.reason}): {result.detail}", file=sys.stderr)
    return 1
