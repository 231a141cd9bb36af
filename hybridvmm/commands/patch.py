"""``patch IMAGE``: replace sensitive-unprivileged instructions with traps, as data."""

from __future__ import annotations

import argparse

from hybridvmm.asm.disassembler import format_instruction
from hybridvmm.cli_support import (add_force_flag, add_image_arguments, add_json_flag, check_output, input_files, open_image,
                                   print_json, report_stream, write_output)
from hybridvmm.commands.patch_paths import default_patched
from hybridvmm.image import Image, PatchRecord
from hybridvmm.isa import ISA, Decoder, load_isa
from hybridvmm.patch import patch_image
from hybridvmm.scan import Space

ORDER = 71


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "patch",
        help="scan an image and replace its sensitive-unprivileged instructions with monitor traps",
        description="Scan IMAGE for the ISA variant and replace each sensitive-unprivileged instruction "
        "with the ISA's trap instruction (pgm: vmtrap 0), padded with no-ops so nothing else moves; the "
        "original bytes go into the image's patch table ('info' shows it, 'unpatch' restores them). "
        "Idempotent. Writes IMAGE's stem + .patched.img unless -o is given ('-' for stdout, the report "
        "then going to stderr); an existing file is replaced only with --force, and the input never. "
        "The output keeps the input's ISA name.",
    )
    add_image_arguments(p, isa_help="ISA variant whose classes decide the sites (default: the image's)")
    p.add_argument("-o", "--output", metavar="OUT", help="patched image to write (default: STEM.patched.img: an image, whatever the input)")
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
    add_force_flag(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def load_for_patching(args: argparse.Namespace) -> tuple[Image, ISA]:
    """The image with its own ISA name kept, and the variant (of its family) to patch for."""
    image = open_image(args, keep_isa=True)
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
    policy = "user-sensitive" if args.only else "all-sensitive"
    output = args.output if args.output else str(default_patched(args.image))
    check_output(output, inputs=input_files(args.image))
    image, isa = load_for_patching(args)
    spaces = tuple(Space.parse(s) for s in args.space)
    result = patch_image(image, isa, policy, roots=tuple(args.root), spaces=spaces)
    write_output(output, result.image.to_bytes())
    decoder = Decoder(isa)
    site = lambda s: {"address": s.physical, "instruction": format_instruction(s.instruction, isa),  # noqa: E731
                      "classes": sorted(s.classes), "user_sensitive": s.user_sensitive}
    data = {
        "image": args.image,
        "output_file": output,
        "isa": isa.name,
        "policy": policy,
        "sites": [site(s) for s in result.sites],
        "site_count": len(result.sites),
        "patched": [_row(p, isa, decoder) for p in result.added],
        "already_patched": [_row(p, isa, decoder) for p in result.kept],
        "skipped": [site(s) for s in result.skipped],
        "patch_count": len(result.image.patches),
    }
    out = report_stream(output)
    if args.json:
        print_json(data, file=out)
        return 0
    print(f"{args.image}: {len(result.sites)} sensitive-unprivileged sites for {isa.name}, policy {policy}", file=out)
    for label, rows in (("patched", data["patched"]), ("already", data["already_patched"])):
        for r in rows:
            print(f"  {label:<8} {'0x%x' % r['address']:<8}  {r['instruction']:<24} -> {r['replacement_text']:<24} {r['kind']}",
                  file=out)
    for s in data["skipped"]:
        print(f"  {'skipped':<8} {'0x%x' % s['address']:<8}  {s['instruction']:<24} (not user-sensitive)", file=out)
    print(f"wrote {output}: {len(result.added)} new patches, {data['patch_count']} in its patch table", file=out)
    return 0
