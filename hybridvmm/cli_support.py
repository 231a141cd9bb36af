"""Helpers shared by the subcommand modules: common options, number parsing, output."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hybridvmm.errors import UserError
from hybridvmm.image import Image, write_file_atomic
from hybridvmm.loading import load_program


def number(text: str) -> int:
    """An integer in any Python base notation (``0x100``, ``256``, ``0b1``)."""
    try:
        return int(text.replace("_", ""), 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: '{text}'") from None


def add_image_arguments(parser: argparse.ArgumentParser, isa_help: str = "ISA (or variant) to use; required for raw binaries") -> None:
    """IMAGE plus ``--isa/--base/--entry``: the same on every command that reads a program."""
    parser.add_argument("image", metavar="IMAGE", help="image file, raw binary, or guest:NAME")
    parser.add_argument("--isa", metavar="NAME", help=isa_help)
    parser.add_argument("--base", metavar="ADDR", type=number, help="load address of a raw binary")
    parser.add_argument("--entry", metavar="ADDR", type=number, help="entry point (default: image entry or --base)")


def open_image(args: argparse.Namespace) -> Image:
    return load_program(args.image, isa=args.isa, base=args.base, entry=args.entry)


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def write_output(path: str | Path, data: bytes) -> None:
    """Write a file the user named, atomically; any failure is a one-line error (exit 2)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a directory")
    try:
        write_file_atomic(path, data)
    except OSError as exc:
        raise UserError(f"{path}: cannot write: {exc.strerror or exc}") from None
