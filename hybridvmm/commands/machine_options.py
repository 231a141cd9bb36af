"""The options that set up a guest's machine, shared by ``run`` and ``compare``.

Console input and its delivery rule (:mod:`hybridvmm.machine.console`)::

    --input FILE          the bytes of FILE ('-': standard input); with neither --input nor
                          --input-text, a pipe or file on standard input is the input
    --input-text TEXT     the bytes of TEXT (UTF-8)
    --prompt TEXT         deliver a line each time the console has printed TEXT
    --input-interval N    otherwise one byte N guest instructions after the previous was read
                          (0: all at once, the rule of a machine without a UART, e.g. pgm)

The disk and the RAM (machines with a platform: RISC-V)::

    --drive FILE          a virtio block device on FILE's bytes; FILE is never modified
    --drive-write         (run) write the guest's changes back to FILE when the run ends
    --ram SIZE            RAM bytes (a multiple of 64K, at least 1M)

Every input is deterministic: the same input gives the same transcript and the same
instruction counts, bare and in every monitor mode.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from contextlib import nullcontext
from typing import Any, ContextManager

from hybridvmm.cli_support import number, size
from hybridvmm.errors import UserError, read_input
from hybridvmm.image import Image
from hybridvmm.isas import MAX_STORAGE, machine_class
from hybridvmm.machine.console import DEFAULT_INTERVAL, ConsoleInput
from hybridvmm.machine.drive import Drive

RAM_STEP = 64 << 10
MIN_RAM = 1 << 20


def add_machine_arguments(parser: argparse.ArgumentParser, *, drive_write: bool) -> None:
    g = parser.add_argument_group("console input (deterministic: the same input, the same run)")
    source = g.add_mutually_exclusive_group()
    source.add_argument("--input", metavar="FILE",
                        help="console input from FILE ('-': standard input); without --input or --input-text, a pipe "
                             "or file on standard input is the input")
    source.add_argument("--input-text", metavar="TEXT", help="console input given as TEXT (UTF-8; with --prompt, "
                                                             "a last line without a newline gets one)")
    g.add_argument("--prompt", metavar="TEXT",
                   help="deliver the input a line at a time (its newline included), each once the console has printed "
                        "TEXT since the previous line")
    g.add_argument("--input-interval", metavar="N", type=number, default=DEFAULT_INTERVAL,
                   help=f"without --prompt: the UART receives one byte N guest instructions after the previous one was "
                        f"read (the first N after the start); 0 delivers everything at once (default {DEFAULT_INTERVAL:,})")
    d = parser.add_argument_group("disk and memory (RISC-V)")
    d.add_argument("--drive", metavar="FILE",
                   help="a virtio block device on FILE (QEMU virt's virtio0); the guest writes to a copy in memory, so "
                        "FILE is never modified" + ("" if drive_write else " (each run of the comparison its own copy)"))
    if drive_write:
        d.add_argument("--drive-write", action="store_true",
                       help="write the guest's changes back to the --drive FILE when the run ends (atomically: a "
                            "temporary file, then a rename)")
    d.add_argument("--ram", metavar="SIZE", type=size, help="RAM size (a multiple of 64K from 1M to 512M, e.g. 16M; "
                                                             "default: what the image needs, at least 1M)")


def _stdin_is_data(stdin: Any) -> bool:
    """Is standard input a pipe or a file (not a terminal, not a device such as /dev/null)?"""
    try:
        mode = os.fstat(stdin.fileno()).st_mode
    except (AttributeError, OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode)


def _read_stdin(stdin: Any) -> bytes:
    buffer = getattr(stdin, "buffer", None)
    try:
        data = buffer.read() if buffer is not None else stdin.read()
    except OSError as exc:
        raise UserError(f"standard input: cannot read: {exc.strerror or exc}") from None
    return data.encode("utf-8") if isinstance(data, str) else data


def console_input(args: argparse.Namespace, stdin: Any = None) -> ConsoleInput | None:
    """The console input the options give, with its delivery rule (None: no input)."""
    stdin = sys.stdin if stdin is None else stdin
    if args.input_interval < 0:
        raise UserError(f"--input-interval must be >= 0 (got {args.input_interval})")
    if args.prompt is not None and not args.prompt:
        raise UserError("--prompt must not be empty")
    if args.input == "-":
        data: bytes | None = _read_stdin(stdin)
    elif args.input is not None:
        data = read_input(args.input)
    elif args.input_text is not None:
        data = args.input_text.encode("utf-8")
        if args.prompt is not None and not data.endswith(b"\n"):
            data += b"\n"  # a line typed at a prompt ends with Enter (else the session never ends)
    elif _stdin_is_data(stdin):
        data = _read_stdin(stdin)
    else:
        data = None
    if data is None:
        if args.prompt is not None:
            raise UserError("--prompt paces console input: give --input FILE, --input-text TEXT or a pipe")
        return None
    prompt = args.prompt.encode("utf-8") if args.prompt is not None else None
    return ConsoleInput(data, prompt=prompt, interval=0 if prompt is not None else args.input_interval)


def machine_platform(args: argparse.Namespace, images: list[Image]) -> tuple[ContextManager, Drive | None]:
    """The platform the options give (a context in which the machines are built) and the
    drive they open; a one-line error for a machine without one or a bad size.  Where the
    options are silent, what the images say they expect (a bundled guest's RAM and disk,
    ``Image.platform``) is used: ``run guest:xv6`` needs no option."""
    ram = args.ram
    if ram is None:
        ram = max((image.platform["ram"] for image in images if "ram" in image.platform), default=None)
    if args.drive is None:
        bundled = next((image.platform["drive"] for image in images if "drive" in image.platform), None)
        if bundled is not None:
            if getattr(args, "drive_write", False):
                raise UserError(f"--drive-write: {bundled[0]} is the bundled guest's own disk, with no file to write "
                                f"back to; give --drive FILE (a copy of it)")
            cls = machine_class(images[0].isa)
            return cls.platform(ram=ram, drive=Drive(bundled[1])), None
    if args.drive is None and ram is None:
        return nullcontext(), None
    if args.ram is None:
        args = argparse.Namespace(**{**vars(args), "ram": ram})
    cls = machine_class(images[0].isa)
    configure = getattr(cls, "platform", None)
    if configure is None:
        what = "--drive" if args.drive is not None else "--ram"
        raise UserError(f"{what}: the {images[0].isa} machine has no configurable platform (RISC-V machines have)")
    if args.ram is not None:
        if args.ram % RAM_STEP or not MIN_RAM <= args.ram <= MAX_STORAGE:
            raise UserError(f"--ram {args.ram:#x}: a multiple of 64K from 1M to {MAX_STORAGE >> 20}M")
        for image in images:
            need = cls.storage_needed(image)
            if need > args.ram:
                raise UserError(f"{image.source or 'image'}: needs {need:#x} bytes of RAM; --ram gives {args.ram:#x}")
    drive = Drive.open(args.drive) if args.drive is not None else None
    return configure(ram=args.ram, drive=drive), drive


def own_platform(images: list[Image]) -> ContextManager:
    """The platform the images themselves ask for (a bundled guest's RAM and disk), as
    ``run`` gives it when no option says otherwise."""
    return machine_platform(argparse.Namespace(ram=None, drive=None), images)[0]
