"""Helpers shared by the subcommand modules: common options, number parsing, output.

Every file a command writes goes through :func:`write_output`, which applies one rule
(documented in the README and in each option's ``--help``):

* ``-`` means standard output;
* an existing file is replaced only with ``--force`` (the command's option, picked up by
  :func:`begin_command` so that every writer gets it);
* a file the command reads (an image, a source, a spec, a cost table) is never replaced,
  not even with ``--force``;
* the file is written as ordinary tools write it, atomically: a temporary file in the same
  directory, created mode 0600, renamed over the name; a symbolic link there is replaced
  by the file (its target is left alone), and a failure leaves what was there;
* a device or FIFO (``/dev/null``, a named pipe) is written into, never replaced.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import stat
import sys
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TextIO

from hybridvmm.errors import UserError, forget_inputs, inputs_read, location
from hybridvmm.image import Image, write_file_atomic
from hybridvmm.loading import GUEST_PREFIX, load_program

STDOUT = "-"
"""The file name that means standard output, wherever a command writes a file."""

FORCE_HELP = "replace existing output files (never one this command reads)"

_force: ContextVar[bool] = ContextVar("force", default=False)


def begin_command(args: argparse.Namespace) -> None:
    """Set up the output rule for one command: its ``--force`` (if it has one); no input read yet."""
    forget_inputs()
    _force.set(bool(getattr(args, "force", False)))


def number(text: str) -> int:
    """An integer in any Python base notation (``0x100``, ``256``, ``0b1``)."""
    try:
        return int(text.replace("_", ""), 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: '{text}'") from None


_SIZE = re.compile(r"(.+?)(?:([kmg])(?:ib)?)?", re.IGNORECASE)
_UNITS = {None: 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def size(text: str) -> int:
    """A byte count: a number (any base) with an optional K, M or G suffix (powers of 1024)."""
    m = _SIZE.fullmatch(text.strip())
    try:
        value = number(m.group(1)) * _UNITS[m.group(2) and m.group(2).lower()] if m else 0
    except argparse.ArgumentTypeError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"not a size: '{text}' (a positive number of bytes, e.g. 65536, 0x10000, 64K, 16M, 1G)")
    return value


def add_image_arguments(parser: argparse.ArgumentParser, isa_help: str = "ISA (or variant) to use; required for raw binaries",
                        several: str | None = None) -> None:
    """IMAGE plus ``--isa/--base/--entry``: the same on every command that reads a program.
    ``several`` (what each of them becomes) takes one or more images, as ``images``."""
    what = "image file, ELF executable, raw binary, or guest:NAME"
    if several:
        parser.add_argument("images", nargs="+", metavar="IMAGE", help=f"{what} (several: {several})")
    else:
        parser.add_argument("image", metavar="IMAGE", help=what)
    parser.add_argument("--isa", metavar="NAME", help=isa_help + " (for an image, ELF or guest: its ISA or a variant of its family)")
    parser.add_argument("--base", metavar="ADDR", type=number, help="load address of a raw binary (raw binaries only)")
    parser.add_argument("--entry", metavar="ADDR", type=number, help="entry point (default: image entry or --base)")


COUNTER_POLICIES = ("trap", "passthrough")
"""What ``--counters`` accepts (the RISC-V monitor's counter policy)."""


def add_counters_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--counters", choices=COUNTER_POLICIES, default=None,
                        help="RISC-V monitor modes: trap (default) clears the host's counter enables while a guest runs, "
                             "so every counter read traps and reads the guest's own counters; passthrough leaves the "
                             "guest's enables on the host, as a naive monitor would (a U-mode read of time then sees "
                             "the host's counter)")


def virt_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options for the family's virtualization model that the user gave (none by default)."""
    return {} if args.counters is None else {"counters": args.counters}


def add_force_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help=FORCE_HELP)


def open_image(args: argparse.Namespace, keep_isa: bool = False) -> Image:
    return load_program(args.image, isa=args.isa, base=args.base, entry=args.entry, keep_isa=keep_isa)


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def report_stream(*outputs: str | Path | None) -> TextIO:
    """Where a command prints its report: stdout, unless one of its files goes there."""
    return sys.stderr if any(str(o) == STDOUT for o in outputs if o is not None) else sys.stdout


def print_json(data: Any, file: TextIO | None = None) -> None:
    out = sys.stdout if file is None else file
    json.dump(data, out, indent=2, sort_keys=False)
    out.write("\n")


def input_files(*names: str) -> tuple[str, ...]:
    """The files among IMAGE arguments (not ``guest:NAME``), for :func:`check_output` before they are read."""
    return tuple(n for n in names if not n.startswith(GUEST_PREFIX))


def check_output(path: str | Path, inputs: tuple[str | Path, ...] = ()) -> None:
    """Refuse (one line, exit 2) a file the output rule forbids; call before long work too.

    ``inputs``: files the command will read but may not have read yet (e.g. an assembly source).
    """
    if str(path) == STDOUT:
        return
    path = Path(path)
    try:
        is_dir = path.is_dir()
    except OSError as exc:  # a name no file can have (too long, say)
        raise UserError(f"{path}: cannot write: {exc.strerror or exc}") from None
    if is_dir:
        raise UserError(f"{path}: is a directory")
    where = location(path)
    if where in inputs_read() | {os.path.realpath(p) for p in inputs} | {location(p) for p in inputs}:
        raise UserError(f"{path}: refusing to overwrite a file this command reads; write to another file")
    if os.path.lexists(path) and not _force.get() and not _is_device(path):
        raise UserError(f"{path}: file exists (use --force to replace it, or choose another name)")


def _is_device(path: Path) -> bool:
    """A device or FIFO (``/dev/null``, a pipe): written into, as ``cat >`` does, never replaced."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode)


def write_stdout(data: bytes) -> None:
    """Bytes to stdout exactly as they are (a guest's console, a file written to ``-``)."""
    if not data:
        return
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is not None:
        buffer.write(data)
        buffer.flush()
    else:
        sys.stdout.write(data.decode("utf-8", errors="replace"))


def write_output(path: str | Path, data: bytes) -> None:
    """Write a file the user named under the output rule (module docstring); any failure
    is a one-line error (exit 2)."""
    if str(path) == STDOUT:
        write_stdout(data)
        return
    check_output(path)
    path = Path(path)
    try:
        if _is_device(path):
            with open(path, "wb") as fh:
                fh.write(data)
        else:
            write_file_atomic(path, data)
    except OSError as exc:
        raise UserError(f"{path}: cannot write: {exc.strerror or exc}") from None
