"""``isa list`` and ``isa show NAME``: the bundled ISA descriptions and what they declare."""

from __future__ import annotations

import argparse

from hybridvmm.cli_support import add_json_flag, print_json
from hybridvmm.isa import ISA, available_isas, load_isa

ORDER = 10


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("isa", help="list ISAs or show one's instructions, encodings and declared classes")
    isa_sub = p.add_subparsers(dest="isa_command", metavar="ACTION")
    isa_sub.required = True
    pl = isa_sub.add_parser("list", help="list the bundled ISAs")
    add_json_flag(pl)
    pl.set_defaults(func=run_list)
    ps = isa_sub.add_parser("show", help="instructions, encodings and declared classes of an ISA (a name or a .toml path)")
    ps.add_argument("name", metavar="NAME")
    add_json_flag(ps)
    ps.set_defaults(func=run_show)


def run_list(args: argparse.Namespace) -> int:
    isas = [load_isa(name) for name in available_isas()]
    if args.json:
        print_json([{"name": i.name, "extends": i.extends, "description": i.description, "instruction_count": len(i.instructions)} for i in isas])
        return 0
    width = max(len(i.name) for i in isas)
    for i in isas:
        base = f" (extends {i.extends})" if i.extends else ""
        print(f"{i.name:<{width}}  {len(i.instructions):3d} instructions  {i.description}{base}")
    return 0


def _encoding(ins, isa: ISA) -> str:
    digits = ins.length * 2
    return f"{ins.match:0{digits}x}/{ins.mask:0{digits}x}"


def describe(isa: ISA) -> dict:
    """The ISA as data (what ``isa show --json`` prints)."""
    return {
        "name": isa.name,
        "extends": isa.extends,
        "description": isa.description,
        "word_bits": isa.word_bits,
        "parcel_bytes": isa.parcel_bytes,
        "endian": isa.endian,
        "lengths": list(isa.lengths),
        "registers": {name: list(rf.names) for name, rf in isa.registers.items()},
        "instructions": [
            {
                "name": i.name,
                "asm": i.asm,
                "length": i.length,
                "pattern": i.pattern,
                "match": i.match,
                "mask": i.mask,
                "format": i.format.name,
                "flow": [{"when": " && ".join(f"{a} {op} {v}" for a, op, v in r.conditions), "flow": r.flow} for r in i.flow_rules],
                "class": sorted(i.classes),
                "user_mode": i.user_mode,
                "doc": i.doc,
            }
            for i in isa.instructions.values()
        ],
        "aliases": [{"asm": a.asm, "expands": a.expands} for a in isa.aliases.values()],
    }


def run_show(args: argparse.Namespace) -> int:
    isa = load_isa(args.name)
    if args.json:
        print_json(describe(isa))
        return 0
    print(f"{isa.name}: {isa.description}")
    if isa.extends:
        print(f"  extends {isa.extends}")
    print(f"  {isa.word_bits}-bit words, {isa.endian}-endian, {isa.parcel_bytes}-byte parcels, "
          f"instruction lengths {', '.join(map(str, isa.lengths))} bytes")
    for name, rf in isa.registers.items():
        print(f"  registers {name}: {' '.join(rf.names)}")
    if isa.csrs:
        print(f"  {len(isa.csrs)} CSR names")
    print()
    rows = [("instruction", "len", "match/mask", "flow", "declared class", "user mode")]
    for i in isa.instructions.values():
        flow = i.static_flow if len(i.flow_rules) == 1 else "/".join(dict.fromkeys(r.flow for r in i.flow_rules))
        rows.append((i.asm, str(i.length), _encoding(i, isa), flow, ",".join(sorted(i.classes)) or "innocuous", i.user_mode or ("trap" if i.privileged else "-")))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for r in rows:
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    if isa.aliases:
        print("\n  aliases (assembler only):")
        for a in isa.aliases.values():
            print(f"    {a.asm:<24} = {a.expands}")
    return 0
