"""``unpatch IMAGE -o OUT``: restore every patched site from the image's patch table."""

from __future__ import annotations

import argparse

from hybridvmm.cli_support import (add_force_flag, add_json_flag, check_output, input_files, print_json, report_stream,
                                   write_output)
from hybridvmm.commands.patch_paths import default_unpatched
from hybridvmm.loading import load_program
from hybridvmm.patch import unpatch_image

ORDER = 72


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "unpatch",
        help="undo 'patch': restore the original bytes from the image's patch table",
        description="Write IMAGE with every patch undone and an empty patch table: byte for byte the image "
        "that was patched. Default output drops '.patched' from the name (or adds '.unpatched'); '-' writes "
        "to stdout (the report then going to stderr); an existing file is replaced only with --force, and the "
        "input never.",
    )
    p.add_argument("image", metavar="IMAGE", help="a patched image file")
    p.add_argument("-o", "--output", metavar="OUT", help="image to write ('-' for stdout)")
    add_force_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    output = args.output if args.output else str(default_unpatched(args.image))
    check_output(output, inputs=input_files(args.image))
    image = load_program(args.image)
    restored = sorted(image.patches, key=lambda p: p.address)
    clean = unpatch_image(image)
    write_output(output, clean.to_bytes())
    out = report_stream(output)
    if args.json:
        print_json({"image": args.image, "output_file": output, "restored": [
            {"address": p.address, "original": p.original.hex(), "replacement": p.replacement.hex(), "kind": p.kind}
            for p in restored], "restored_count": len(restored)}, file=out)
    else:
        for p in restored:
            print(f"  restored 0x{p.address:x}  {p.replacement.hex(' ')} -> {p.original.hex(' ')}  ({p.kind})", file=out)
        print(f"wrote {output}: {len(restored)} patches undone", file=out)
    return 0
