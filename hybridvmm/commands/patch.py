"""``patch IMAGE``: replace sensitive-unprivileged instructions with traps, as data."""

from __future__ import annotations

import argparse
from pathlib import Path

from hybridvmm.asm.disassembler import format_instruction
from hybridvmm.cli_support import add_image_arguments, add_json_flag, print_json, write_output
from hybridvmm.image import MAGIC, Image, PatchRecord
from hybridvmm.isa import ISA, Decoder, load_isa
from hybridvmm.loading import GUEST_PREFIX, load_program
from hybridvmm.patch import patch_image
from hybridvmm.patch.output import check_output, default_patched
from hybridvmm.scan import Space

ORDER = 71


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "patch",
        help="scan an image and replace its sensitive-unprivileged instructions with monitor traps",
        description="Scan IMAGE for the ISA variant and replace each sensitive-unprivileged instruction "
        "with the ISA's trap instruction (pgm: vmtrap 0), padded with no-ops so nothing else moves; the "
        "original bytes go into the image's patch table ('info' shows it, 'unpatch' restores them). "
        "Idempotent. Writes IMAGE's stem + .patched + suffix unless -o is given, and never overwrites an "
        "existing file (the input included) without --force. The output keeps the input's ISA name.",
    )
    add_image_arguments(p, isa_help="ISA variant whose classes decide the sites (default: the image's)")
    p.add_argument("-o", "--output", metavar="OUT", help="patched image to write (default: STEM.patched.SUFFIX)")
    policy = p.add_mutually_exclusive_group()
    policy.add_argument("--only", choices=["user-sensitive"], dest="only",
                        help="patch only user-sensitive sites (what a hybrid monitor needs for user code)")
    policy.add_argument("--all-sensitive", action="store_true",
                        help="patch every sensitive-unprivileged site (the default)")
    p.add_argument("--root", action="append", default=[], metavar="SYM|ADDR",
                   help="also scan from this symbol or address (repeatable)")
    p.add_argument("--space", action="append", default=[], metavar="BASE:BOUND:ROOT[,ROOT]",
                   help="also scan and patch a relocated region (e.g. a user task running under R = (BASE, "
                   "BOUND)) from its virtual ROOTs; repeatable")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file, even the input")
    add_json_flag(p)
    p.set_defaults(func=run)


def _is_image_file(name: str) -> bool:
    if name.startswith(GUEST_PREFIX):
        return False
    try:
        with open(name, "rb") as fh:
            return fh.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def load_for_patching(args: argparse.Namespace) -> tuple[Image, ISA]:
    """The image with its own ISA name kept, and the variant to patch for."""
    keep_name = _is_image_file(args.image)
    image = load_program(args.image, isa=None if keep_name else args.isa, base=args.base, entry=args.entry)
    return image, load_isa(args.isa or image.isa)


def replacement_text(p: PatchRecord, isa: ISA, decoder: Decoder) -> str:
    parts, off = [], 0
    while off < len(p.replacement):
        ins = decoder.decode(p.replacement, p.address + off, off)
        parts.append(format_instruction(ins, isa))
        off += len(ins.raw)
    return "; ".join(parts)


def _row(p: PatchRecord, isa: ISA, decoder: Decoder) -> dict:
    original = format_instruction(decoder.decode(p.original, p.address), isa)
    return {
        "address": p.address,
        "length": len(p.original),
        "instruction": original,
        "original": p.original.hex(),
        "replacement": p.replacement.hex(),
        "replacement_text": replacement_text(p, isa, decoder),
        "kind": p.kind,
    }


def run(args: argparse.Namespace) -> int:
    image, isa = load_for_patching(args)
    policy = "user-sensitive" if args.only else "all-sensitive"
    output = Path(args.output) if args.output else default_patched(args.image)
    check_output(args.image, output, args.force)
    spaces = tuple(Space.parse(s) for s in args.space)
    result = patch_image(image, isa, policy, roots=tuple(args.root), spaces=spaces)
    write_output(output, result.image.to_bytes())
    decoder = Decoder(isa)
    data = {
        "input": args.image,
        "output": str(output),
        "isa": isa.name,
        "policy": policy,
        "sites": len(result.sites),
        "patched": [_row(p, isa, decoder) for p in result.added],
        "already_patched": [_row(p, isa, decoder) for p in result.kept],
        "skipped": [{"address": s.physical, "instruction": format_instruction(s.instruction, isa),
                     "classes": sorted(s.classes)} for s in result.skipped],
        "table": len(result.image.patches),
    }
    if args.json:
        print_json(data)
        return 0
    print(f"{args.image}: {len(result.sites)} sensitive-unprivileged sites for {isa.name}, policy {policy}")
    for label, rows in (("patched", data["patched"]), ("already", data["already_patched"])):
        for r in rows:
            print(f"  {label:<8} {'0x%x' % r['address']:<8}  {r['instruction']:<24} -> {r['replacement_text']:<24} {r['kind']}")
    for s in data["skipped"]:
        print(f"  {'skipped':<8} {'0x%x' % s['address']:<8}  {s['instruction']:<24} (not user-sensitive)")
    print(f"wrote {output}: {len(result.added)} new patches, {data['table']} in its patch table")
    return 0
