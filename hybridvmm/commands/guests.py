"""``guests``: list the bundled guests (each usable as ``guest:NAME`` wherever an image is accepted)."""

from __future__ import annotations

import argparse

from hybridvmm.cli_support import add_json_flag, print_json

ORDER = 5


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "guests",
        help="list the bundled guests (use them as guest:NAME with run, disasm, info, ...)",
        description="List the bundled guests, one per line with a short description. "
        "Any of them can be given as guest:NAME wherever an image is accepted, "
        "e.g. 'run guest:minios --isa pgm-hybrid'.",
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from hybridvmm.guests import GUESTS

    if args.json:
        print_json([
            {"name": g.name, "description": g.description, "kind": g.kind, "default_isa": g.isa,
             "variants": list(g.variants), "sources": list(g.sources)}
            for g in GUESTS.values()
        ])
        return 0
    regular = [g for g in GUESTS.values() if g.kind != "hostile"]
    hostile = [g for g in GUESTS.values() if g.kind == "hostile"]
    width = max(len(g.name) for g in regular)
    for g in regular:
        print(f"{g.name:<{width}}  {g.description}")
    if hostile:
        print("\nhostile guests: each attempts one thing a monitor must contain")
        width = max(len(g.name) for g in hostile)
        for g in hostile:
            print(f"{g.name:<{width}}  {g.description}")
    return 0
