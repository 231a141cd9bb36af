"""``info IMAGE``: what an image holds — ISA, entry, sections, symbols and patch table — and
the devices of the machine that runs it, where its model has a platform (RISC-V)."""

from __future__ import annotations

import argparse

from hybridvmm.cli_support import add_image_arguments, add_json_flag, open_image, print_json
from hybridvmm.image import FLAG_CODE, FLAG_DATA, FLAG_WRITE, Image
from hybridvmm.isas import machine_class

ORDER = 40


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="show an image's ISA, entry, sections, symbols and patch table, and the machine's devices")
    add_image_arguments(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def flag_names(flags: int) -> list[str]:
    """Section flags as words (code, data, write)."""
    return [name for bit, name in ((FLAG_CODE, "code"), (FLAG_DATA, "data"), (FLAG_WRITE, "write")) if flags & bit]


def describe(image: Image) -> dict:
    """The image as data (what ``info --json`` prints)."""
    return {
        "isa": image.isa,
        "entry": image.entry,
        "sections": [
            {"name": s.name, "start": s.address, "end": s.end, "size": len(s.data), "flags": flag_names(s.flags)}
            for s in image.sections
        ],
        "symbols": [{"name": n, "address": a} for n, a in sorted(image.symbols.items(), key=lambda kv: (kv[1], kv[0]))],
        "patches": [
            {"address": p.address, "kind": p.kind, "original": p.original.hex(), "replacement": p.replacement.hex()}
            for p in sorted(image.patches, key=lambda p: p.address)
        ],
    }


def machine_lines(isa: str) -> list[str]:
    """The devices of the machine that runs ``isa`` (none for a model without a platform)."""
    memory_map = getattr(machine_class(isa), "memory_map", None)
    return list(memory_map()) if memory_map is not None else []


def run(args: argparse.Namespace) -> int:
    image = open_image(args, keep_isa=True)  # the file's own ISA: --isa is only checked against it
    data = describe(image)
    devices = machine_lines(image.isa)
    if devices:
        data["machine"] = devices
    if args.json:
        print_json(data)
        return 0
    print(f"isa      {image.isa}")
    print(f"entry    0x{image.entry:08x}")
    print(f"sections {len(image.sections)}")
    for s in data["sections"]:
        print(f"  {s['name']:<10} 0x{s['start']:08x}-0x{s['end']:08x}  {s['size']:8d} bytes  {','.join(s['flags']) or '-'}")
    print(f"symbols  {len(data['symbols'])}")
    for sym in data["symbols"]:
        print(f"  0x{sym['address']:08x}  {sym['name']}")
    print(f"patches  {len(data['patches'])}")
    for p in data["patches"]:
        print(f"  0x{p['address']:08x}  {p['kind']:<14} {p['original']:<12} -> {p['replacement']}")
    if devices:
        print(f"machine  {len(devices)} regions (QEMU virt's addresses)")
        for line in devices:
            print(f"  {line}")
    return 0
