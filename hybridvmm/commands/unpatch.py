"""``unpatch IMAGE -o OUT``: restore every patched site from the image's patch table."""

from __future__ import annotations

import argparse
from pathlib import Path

from hybridvmm.cli_support import add_json_flag, print_json, write_output
from hybridvmm.loading import load_program
from hybridvmm.patch import unpatch_image
from hybridvmm.patch.output import check_output, default_unpatched

ORDER = 72


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "unpatch",
        help="undo 'patch': restore the original bytes from the image's patch table",
        description="Write IMAGE with every patch undone and an empty patch table: byte for byte the image "
        "that was patched. Default output drops '.patched' from the name (or adds '.unpatched'); an "
        "existing file is overwritten only with --force.",
    )
    p.add_argument("image", metavar="IMAGE", help="a patched image file")
    p.add_argument("-o", "--output", metavar="OUT", help="image to write")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file, even the input")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    image = load_program(args.image)
    output = Path(args.output) if args.output else default_unpatched(args.image)
    check_output(args.image, output, args.force)
    restored = sorted(image.patches, key=lambda p: p.address)
    clean = unpatch_image(image)
    write_output(output, clean.to_bytes())
    if args.json:
        print_json({"input": args.image, "output": str(output), "restored": [
            {"address": p.address, "original": p.original.hex(), "replacement": p.replacement.hex(), "kind": p.kind}
            for p in restored]})
    else:
        for p in restored:
            print(f"  restored 0x{p.address:x}  {p.replacement.hex(' ')} -> {p.original.hex(' ')}  ({p.kind})")
        print(f"wrote {output}: {len(restored)} patches undone")
    return 0
