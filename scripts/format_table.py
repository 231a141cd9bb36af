"""Print the pgm encoding table in Markdown, as it appears in ``isa_specs/FORMAT.md``.

``python scripts/format_table.py`` prints it; ``--check`` exits 1 when FORMAT.md's copy
(between the ``<!-- pgm-table -->`` markers) is out of date with the spec.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hybridvmm.isa import load_isa  # noqa: E402

BEGIN, END = "<!-- pgm-table:begin -->", "<!-- pgm-table:end -->"


def pgm_table() -> str:
    """One row per pgm instruction: syntax, length, first parcel, declared class per variant."""
    variants = {v: load_isa(v) for v in ("pgm-virt", "pgm-hybrid", "pgm-x86")}
    base = load_isa("pgm")
    rows = [
        "| instruction | bytes | first parcel (match/mask) | flow | pgm-virt | pgm-hybrid | pgm-x86 | meaning |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for ins in base.instructions.values():
        cells = []
        for isa in variants.values():
            v = isa.instructions[ins.name]
            if not v.classes:
                cells.append("innocuous")
            else:
                tag = "P" if v.privileged else ("S, user: executes" if v.user_mode == "execute" else "S")
                cells.append(tag + (", US" if v.user_sensitive else ""))
        parcel_mask, parcel_match = ins.mask & 0xFFFF, ins.match & 0xFFFF
        rows.append(
            f"| `{ins.asm}` | {ins.length} | `{parcel_match:04x}/{parcel_mask:04x}` | {ins.static_flow} | "
            + " | ".join(cells)
            + f" | {ins.doc} |"
        )
    return "\n".join(rows)


def main() -> int:
    table = pgm_table()
    if "--check" in sys.argv:
        text = (Path(__file__).resolve().parent.parent / "isa_specs" / "FORMAT.md").read_text()
        current = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
        if current != table:
            print("isa_specs/FORMAT.md: the pgm table is out of date; regenerate it with scripts/format_table.py")
            return 1
        return 0
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
