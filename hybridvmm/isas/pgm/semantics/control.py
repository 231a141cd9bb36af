"""Branches, jumps and the two trapping instructions: one line each.

A conditional branch is one conditional expression choosing between ``target`` and ``nxt``,
with the flags tested where they lie: N is ``F[0] >= NBIT``, Z is ``not F[0] & M32``, C is
``F[1][2] >> 32`` and V is ``(a ^ s) & (b ^ s) & NBIT`` of ``a, b, s = F[1]``.  The block
compiler reads ``target if X else nxt`` as a side exit (the block runs on past it) and
``nxt if X else target`` as the block's end.  Each branch keeps the orientation of its flag
test: written all as side exits, blocks run on through every branch, and the bundled guests
spent more compiling them than they saved (sort: 59 ms compiling instead of 30).
"""

from __future__ import annotations

from hybridvmm.isas.pgm.semantics import define

BRANCH = {  # name: where it goes
    "beq": "nxt if F[0] & M32 else target",
    "bne": "target if F[0] & M32 else nxt",
    "bmi": "target if F[0] >= NBIT else nxt",
    "bpl": "nxt if F[0] >= NBIT else target",
    "bltu": "nxt if F[1][2] >> 32 else target",
    "bgeu": "target if F[1][2] >> 32 else nxt",
    "bgtu": "target if F[1][2] >> 32 and F[0] & M32 else nxt",
    "bleu": "nxt if F[1][2] >> 32 and F[0] & M32 else target",
}
SIGNED = {  # the same, with a, b, s = F[1] (N != V: less)
    "blt": "target if (F[0] >= NBIT) != bool((a ^ s) & (b ^ s) & NBIT) else nxt",
    "bge": "nxt if (F[0] >= NBIT) != bool((a ^ s) & (b ^ s) & NBIT) else target",
    "bgt": "target if F[0] & M32 and (F[0] >= NBIT) == bool((a ^ s) & (b ^ s) & NBIT) else nxt",
    "ble": "nxt if F[0] & M32 and (F[0] >= NBIT) == bool((a ^ s) & (b ^ s) & NBIT) else target",
}
JUMP = {  # name: (format, its handler)
    "nop": ("N", "return nxt"),
    "br": ("B16", "return target"),
    "jmp": ("J32", "return target"),
    "jmpr": ("R1", "return r[ra]"),
    # svc completes (the saved pc is the next instruction); vmtrap is an illegal-instruction fault
    "svc": ("C8", 'raise TrapSignal(m.cause["svc"], nxt, pc, code, "svc", None, True)'),
    "vmtrap": ("C8", 'raise TrapSignal(m.cause["illegal"], pc, pc, code, "vmtrap")'),
}

for _name, _goes in BRANCH.items():
    define(_name, "B16", BODY=f"return {_goes}")
for _name, _goes in SIGNED.items():
    define(_name, "B16", BODY=f"a, b, s = F[1]; return {_goes}")
for _name, (_fmt, _body) in JUMP.items():
    define(_name, _fmt, BODY=_body)
