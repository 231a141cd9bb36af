"""A scripted xv6 session on hybridvmm — bare and under each monitor mode — and on QEMU, the
transcripts compared byte for byte.

    python scripts/xv6_session.py [COMMANDS] [--modes M,M,...] [--qemu PATH | --no-qemu]
                                  [--max-steps N] [--json]

Each line of COMMANDS (default: the built-in session below) is typed at each ``$ `` prompt,
as ``run guest:xv6 --input COMMANDS --prompt '$ '`` does; the session ends when the prompt
is back after the last line.  Every run boots the bundled ``guest:xv6`` on a fresh copy of
its file system.  Under each mode the run is checked *equivalent* to the bare one (every
console byte and every trap the guest saw, with its instruction count, and the final
state), not only its transcript equal.  Per mode it prints guest instructions, wall
seconds, instructions per second, the guest's instructions by privilege mode, and the
monitor's exits by cause.  Exit 0 when every transcript equals bare's (QEMU's included) and
every mode is equivalent, 1 otherwise, 2 on bad input.

QEMU (``qemu-system-riscv64``, skipped with a message where absent) runs the same kernel
and a copy of the same file system, from the package, on ``virt`` as
``../shared/xv6/README.md`` boots it, with its serial port on pipes (``-serial stdio``,
no monitor multiplexed in, so nothing typed is taken for a QEMU escape); a line is written
once the output shows ``$ `` since the previous one, and QEMU is stopped once it shows it
after the last.  What is normalised in QEMU's transcript (and only there; each reported
with its count, zero when nothing was needed — on pipes QEMU passes the UART's bytes as
they are):

- terminal escape sequences (``ESC [ ... final``, ``ESC c``), which QEMU writes to a
  terminal it drives, never to a pipe;
- CR LF to LF, what a terminal line discipline would add.

The default session costs about 1.6 G guest instructions per mode: ``usertests NAME`` counts
the free pages (``countfree``: sbrk until it fails, 3,800 byte-wise page fills) before and
after the test, about 0.67 G instructions of its own, so the two usertests tests below
(``copyin``: bad addresses to the kernel's copyin; ``textwrite``: a store to U text, a page
fault that kills the child) are the cheap ones.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

from hybridvmm.guests import build_guest, guest_info
from hybridvmm.isa import load_isa
from hybridvmm.isas.riscv.platform import configured
from hybridvmm.machine.console import ConsoleInput
from hybridvmm.machine.drive import Drive
from hybridvmm.recording import GuestRun, run_bare
from hybridvmm.vmm import MODES
from hybridvmm.vmm.compare import first_divergence, run_monitor

PROMPT = b"$ "
COMMANDS = ("echo hello", "ls", "cat README | wc", "forktest", "usertests copyin", "usertests textwrite")
"""The built-in session: the shell, a directory listing, a pipe, fork and wait, and two
usertests tests (names from user/usertests.c)."""
DEFAULT_MODES = ("pure", "interpret", "hybrid", "patch", "bt")
QEMU = "qemu-system-riscv64"
QEMU_TIMEOUT = 600.0
ESCAPE = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1bc")


class BadInput(Exception):
    """A one-line error (exit 2)."""


# --- input ---------------------------------------------------------------------------------
def read_commands(path: str | None) -> list[bytes]:
    """The lines to type (the built-in session without a file)."""
    if path is None:
        return [c.encode() for c in COMMANDS]
    try:
        text = Path(path).read_bytes()
    except OSError as e:
        raise BadInput(f"{path}: {e.strerror or e}") from None
    lines = text.splitlines()
    if not lines:
        raise BadInput(f"{path}: no command in it")
    bad = [line for line in lines if any(b < 0x20 or b == 0x7F for b in line)]
    if bad:
        raise BadInput(f"{path}: a control character in {bad[0]!r} (xv6's console would edit the line)")
    return lines


def parse_modes(text: str) -> list[str]:
    modes = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise BadInput(f"--modes {text}: unknown mode {', '.join(unknown) or '(none)'} (modes: {', '.join(MODES)})")
    return modes


# --- hybridvmm ---------------------------------------------------------------------------------
def guest_traps(run: GuestRun) -> dict[str, int]:
    """The traps and interrupts the guest received, by cause (what it saw; the same in every
    equivalent mode)."""
    out: dict[str, int] = {}
    for e in run.events:
        if e.kind != "out":
            cause = e.detail.split()[0]
            out[cause] = out.get(cause, 0) + 1
    return dict(sorted(out.items()))


def row(mode: str, run: GuestRun, bare: GuestRun | None, image, isa) -> dict[str, Any]:
    """One mode's figures, checked against the bare run."""
    out: dict[str, Any] = {
        "mode": mode, "ending": run.reason, "instructions": run.instructions, "wall_s": round(run.wall_s, 3),
        "instructions_per_s": round(run.instructions / run.wall_s) if run.wall_s else None,
        "transcript_bytes": len(run.console),
    }
    vm = run.vm
    if vm is not None:
        stats = vm.stats
        out["by_mode"] = dict(stats.by_mode)
        out["direct_fraction"] = stats.direct_instructions / run.instructions if run.instructions else 0.0
        out["exits"] = dict(sorted(stats.exits.items()))
        out["emulated"] = stats.emulated
        if stats.compositions:
            out["compositions"] = dict(stats.compositions)
    else:
        out["guest_traps"] = guest_traps(run)
    if bare is not None:
        out["transcript_equal"] = run.console == bare.console
        divergence = first_divergence(bare, run, image, isa)
        out["equivalent"] = divergence is None
        out["divergence"] = divergence.describe() if divergence is not None else None
    return out


def run_hybridvmm(lines: list[bytes], modes: list[str], max_steps: int | None,
                  tell) -> tuple[bytes, list[dict[str, Any]], dict[str, Any]]:
    """The session bare, then under each mode (each on a fresh copy of the disk)."""
    image = build_guest("xv6")
    isa = load_isa(image.isa)
    limit = max_steps or image.platform.get("max_steps") or guest_info("xv6").max_steps
    feed = ConsoleInput(b"".join(line + b"\n" for line in lines), prompt=PROMPT)
    name, disk = image.platform["drive"]
    rows = []
    with configured(ram=image.platform["ram"], drive=Drive(disk)):
        tell("bare: running")
        bare = run_bare(image, isa, limit, feed)
        rows.append(row("bare", bare, None, image, isa))
        tell(_summary(rows[-1]))
        by_mode: dict[str, Any] = {}
        for mode in modes:
            tell(f"{mode}: running")
            [run] = run_monitor([image], mode, isa, limit, feed)
            rows.append(row(mode, run, bare, image, isa))
            by_mode = by_mode or rows[-1].get("by_mode", {})
            run.monitor.close()
            tell(_summary(rows[-1]))
    if by_mode:
        rows[0]["by_mode"] = by_mode  # the guest's modes, the same in every equivalent run
    return bare.console, rows, {"limit": limit, "disk": name}


def _summary(r: dict[str, Any]) -> str:
    return (f"{r['mode']}: {r['ending']}, {r['instructions']:,} instructions in {r['wall_s']:.1f} s"
            + ("" if r.get("equivalent", True) else "  NOT EQUIVALENT"))


# --- QEMU ------------------------------------------------------------------------------------
def qemu_command(qemu: str, kernel: Path, disk: Path) -> list[str]:
    """QEMU's virt board as ../shared/xv6/README.md boots xv6, the serial port on stdio."""
    return [qemu, "-machine", "virt", "-bios", "none", "-kernel", str(kernel), "-m", "16M", "-smp", "1",
            "-display", "none", "-monitor", "none", "-serial", "stdio",
            "-global", "virtio-mmio.force-legacy=false", "-drive", f"file={disk},if=none,format=raw,id=x0",
            "-device", "virtio-blk-device,drive=x0,bus=virtio-mmio-bus.0"]


def run_qemu(qemu: str, lines: list[bytes], timeout: float) -> dict[str, Any]:
    """The session on QEMU: its raw transcript, wall seconds, and how it ended."""
    files = resources.files("hybridvmm.guests")
    guest = guest_info("xv6")
    with tempfile.TemporaryDirectory(prefix="xv6-qemu-") as tmp:
        kernel, disk = Path(tmp) / "kernel.elf", Path(tmp) / "fs.img"
        kernel.write_bytes(files.joinpath(guest.elf).read_bytes())
        disk.write_bytes(lzma.decompress(files.joinpath(guest.disk).read_bytes()))
        start = time.perf_counter()
        proc = subprocess.Popen(qemu_command(qemu, kernel, disk), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        out, since, typed, ending = bytearray(), 0, 0, "timeout"
        try:
            while True:
                left = timeout - (time.perf_counter() - start)
                ready, _, _ = select.select([proc.stdout], [], [], max(left, 0))
                if not ready:
                    break
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    ending = f"QEMU exited ({proc.wait()}): {proc.stderr.read().decode(errors='replace').strip()}"
                    break
                out += chunk
                if out.find(PROMPT, since) >= 0:   # the rule of run --prompt: the prompt since the last line
                    if typed == len(lines):
                        ending = "done"
                        break
                    proc.stdin.write(lines[typed] + b"\n")
                    proc.stdin.flush()
                    typed += 1
                    since = len(out)
        finally:
            seconds = time.perf_counter() - start
            proc.kill()
            proc.wait()
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                stream.close()
    return {"raw": bytes(out), "wall_s": round(seconds, 3), "ending": ending}


def normalise(raw: bytes) -> tuple[bytes, dict[str, int]]:
    """QEMU's transcript with what a terminal adds taken out (see the module docstring)."""
    text, escapes = ESCAPE.subn(b"", raw)
    crlf = text.count(b"\r\n")
    return text.replace(b"\r\n", b"\n"), {"escape sequences removed": escapes, "CR LF made LF": crlf}


# --- output ------------------------------------------------------------------------------------
def causes(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in counts.items()) or "-"


def print_report(lines: list[bytes], transcript: bytes, rows: list[dict[str, Any]], qemu: dict[str, Any] | None) -> None:
    print(f"xv6 session: {len(lines)} commands typed at each '$ ' prompt: "
          + "; ".join(line.decode(errors="replace") for line in lines))
    print(f"\ntranscript (bare, {len(transcript):,} bytes):")
    for text in transcript.decode(errors="replace").split("\n"):
        print(f"  | {text}")
    print(f"\n{'mode':<10}{'ending':<9}{'instructions':>15}{'wall s':>9}{'M instr/s':>11}{'direct':>8}"
          f"  {'transcript':<11}{'equivalent':<11}exits by cause (bare: the traps the guest took)")
    for r in rows:
        direct = f"{r['direct_fraction']:.1%}" if "direct_fraction" in r else "-"
        rate = f"{r['instructions_per_s'] / 1e6:.2f}" if r["instructions_per_s"] else "-"
        same = "-" if "transcript_equal" not in r else ("equal" if r["transcript_equal"] else "DIFFERS")
        equivalent = "-" if "equivalent" not in r else ("yes" if r["equivalent"] else "NO")
        print(f"{r['mode']:<10}{r['ending']:<9}{r['instructions']:>15,}{r['wall_s']:>9.1f}{rate:>11}{direct:>8}"
              f"  {same:<11}{equivalent:<11}{causes(r.get('exits', r.get('guest_traps', {})))}")
        if r.get("divergence"):
            print(f"{'':<10}{r['divergence']}")
    if rows and rows[0].get("by_mode"):
        split = rows[0]["by_mode"]
        total = sum(split.values())
        print("guest instructions by mode (every run): "
              + ", ".join(f"{k} {v:,} ({v / total:.1%})" for k, v in split.items()))
    if qemu is None:
        return
    if "skipped" in qemu:
        print(f"qemu      {qemu['skipped']}")
        return
    same = "equal" if qemu["transcript_equal"] else "DIFFERS"
    changed = {k: v for k, v in qemu["normalised"].items() if v}
    print(f"qemu      {qemu['ending']:<9}{'-':>15}{qemu['wall_s']:>9.1f}{'-':>11}{'-':>8}  {same:<11}"
          f"normalised: {causes(changed) if changed else 'nothing needed'}")
    if not qemu["transcript_equal"]:
        print(f"{'':<10}first difference at byte {qemu['first_difference']}: "
              f"bare {qemu['bare_context']!r}, qemu {qemu['qemu_context']!r}")


def first_difference(a: bytes, b: bytes) -> int:
    return next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("commands", nargs="?", metavar="COMMANDS", help="a file of lines to type (default: "
                                                                     + "; ".join(COMMANDS) + ")")
    p.add_argument("--modes", default=",".join(DEFAULT_MODES), metavar="M,M,...",
                   help=f"monitor modes to run besides bare (default {','.join(DEFAULT_MODES)}; any of {', '.join(MODES)})")
    p.add_argument("--qemu", default=None, metavar="PATH", help=f"the QEMU to compare with (default: {QEMU} on PATH)")
    p.add_argument("--no-qemu", action="store_true", help="skip the QEMU comparison")
    p.add_argument("--qemu-timeout", type=float, default=QEMU_TIMEOUT, metavar="S",
                   help=f"give QEMU's session at most S seconds (default {QEMU_TIMEOUT:.0f})")
    p.add_argument("--max-steps", type=int, default=None, metavar="N",
                   help="stop a run after N guest instructions (default: the guest's own limit, 2,000,000,000)")
    p.add_argument("--json", action="store_true", help="print the results as one JSON document")
    args = p.parse_args(argv)
    try:
        lines = read_commands(args.commands)
        modes = parse_modes(args.modes)
        if args.max_steps is not None and args.max_steps < 1:
            raise BadInput("--max-steps must be at least 1")
        qemu_path = None if args.no_qemu else (args.qemu or shutil.which(QEMU))
        if args.qemu and not args.no_qemu and shutil.which(args.qemu) is None:
            raise BadInput(f"--qemu {args.qemu}: not an executable")
    except BadInput as e:
        print(f"xv6_session: error: {e}", file=sys.stderr)
        return 2

    def tell(text: str) -> None:
        print(f"xv6_session: {text}", file=sys.stderr, flush=True)

    qemu: dict[str, Any] | None = None
    raw_qemu = None
    if args.no_qemu:
        qemu = None
    elif qemu_path is None:
        qemu = {"skipped": f"{QEMU} not found: QEMU comparison skipped"}
        tell(qemu["skipped"])
    else:
        tell("qemu: running")
        got = run_qemu(qemu_path, lines, args.qemu_timeout)
        raw_qemu = got.pop("raw")
        text, normalised = normalise(raw_qemu)
        qemu = {**got, "normalised": normalised, "transcript_bytes": len(text)}
        tell(f"qemu: {got['ending']} in {got['wall_s']:.1f} s")
    transcript, rows, setup = run_hybridvmm(lines, modes, args.max_steps, tell)
    if qemu is not None and raw_qemu is not None:
        text = normalise(raw_qemu)[0]
        qemu["transcript_equal"] = text == transcript and qemu["ending"] == "done"
        if text != transcript:
            k = first_difference(text, transcript)
            qemu.update(first_difference=k, bare_context=transcript[max(0, k - 20):k + 20].decode(errors="replace"),
                        qemu_context=text[max(0, k - 20):k + 20].decode(errors="replace"))
    ok = (rows[0]["ending"] == "halted" and all(r.get("transcript_equal", True) and r.get("equivalent", True)
                                                 and r["ending"] == "halted" for r in rows)
          and (qemu is None or "skipped" in qemu or qemu["transcript_equal"]))
    if args.json:
        json.dump({"commands": [line.decode(errors="replace") for line in lines], "prompt": PROMPT.decode(),
                   "transcript": transcript.decode(errors="replace"), **setup, "runs": rows, "qemu": qemu, "ok": ok},
                  sys.stdout, indent=2)
        print()
    else:
        print_report(lines, transcript, rows, qemu)
        print("all transcripts equal and every mode equivalent" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
