"""``asm SRC [-o OUT] [--isa NAME]``: assemble a source file into an image.

Every error of the source is reported, each on its own ``file:line: message`` line on
stderr (as GNU as does), with exit 2 and no image written.  The image is written under the
output rule of :mod:`hybridvmm.cli_support` (``-`` for stdout, ``--force`` to replace a
file, never the source).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hybridvmm.asm import assemble_file
from hybridvmm.asm.assembler import AsmErrors
from hybridvmm.cli_support import add_force_flag, add_json_flag, check_output, print_json, report_stream, write_output
from hybridvmm.errors import EXIT_USAGE, UserError, one_line

ORDER = 20


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("asm", help="assemble a source file into an image")
    p.add_argument("source", metavar="SRC", help="assembly source (first line may say '.isa NAME')")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="image to write (default: SRC with suffix .img; '-' for stdout, the report then going to stderr)")
    p.add_argument("--isa", metavar="NAME", help="ISA (or variant) to assemble for; overrides the source's .isa line")
    p.add_argument("-I", "--include-dir", metavar="DIR", action="append", default=[],
                   help="where .include looks after the including file's directory (repeatable; the bundled "
                        "guests' directory, with klib.s, is always looked in last)")
    add_force_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def output_path(source: Path, output: str | None) -> str:
    """Where the image goes (never the source itself: checked with the rest of the output rule)."""
    out = output if output else str(source.with_suffix(".img"))
    check_output(out, inputs=(source,))
    return out


def run(args: argparse.Namespace) -> int:
    source = Path(args.source)
    out = output_path(source, args.output)
    for directory in args.include_dir:
        if not Path(directory).is_dir():
            raise UserError(f"--include-dir {directory}: not a directory")
    try:
        image = assemble_file(source, args.isa, tuple(args.include_dir))
    except AsmErrors as exc:
        for error in exc.errors:
            print(one_line(f"{error.filename}:{error.line}: {error.message}"), file=sys.stderr)
        return EXIT_USAGE
    write_output(out, image.to_bytes())
    total = sum(len(s.data) for s in image.sections)
    report = report_stream(out)
    if args.json:
        print_json({
            "source": str(source),
            "output_file": out,
            "isa": image.isa,
            "bytes": total,
            "entry": image.entry,
            "sections": [{"name": s.name, "address": s.address, "size": len(s.data)} for s in image.sections],
            "symbol_count": len(image.symbols),
        }, file=report)
        return 0
    ranges = ", ".join(f"{s.name} 0x{s.address:x}-0x{s.end:x}" for s in image.sections)
    plural = "" if len(image.sections) == 1 else "s"
    print(f"{out}: {total} bytes in {len(image.sections)} section{plural} ({ranges}), entry 0x{image.entry:x}, isa {image.isa}",
          file=report)
    return 0
