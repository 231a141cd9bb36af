"""Branches, jumps and the two trapping instructions: one line each.

A conditional branch is ``return target if TAKEN else nxt``, the form the block compiler
turns into a side exit.  The flags are tested where they lie: N is ``F[0] >= NBIT``, Z is
``not F[0] & M32``, C is ``F[1][2] >> 32`` and V is ``(a ^ s) & (b ^ s) & NBIT`` of
``a, b, s = F[1]``.
"""

from __future__ import annotations

from hybridvmm.isas.pgm.semantics import define

BRANCH = {  # name: when it is taken
    "beq": "not F[0] & M32",
    "bne": "F[0] & M32",
    "bmi": "F[0] >= NBIT",
    "bpl": "F[0] < NBIT",
    "bltu": "not F[1][2] >> 32",
    "bgeu": "F[1][2] >> 32",
    "bgtu": "F[1][2] >> 32 and F[0] & M32",
    "bleu": "not (F[1][2] >> 32 and F[0] & M32)",
}
SIGNED = {  # the same, with a, b, s = F[1] (N != V: less)
    "blt": "(F[0] >= NBIT) != bool((a ^ s) & (b ^ s) & NBIT)",
    "bge": "(F[0] >= NBIT) == bool((a ^ s) & (b ^ s) & NBIT)",
    "bgt": "F[0] & M32 and (F[0] >= NBIT) == bool((a ^ s) & (b ^ s) & NBIT)",
    "ble": "not (F[0] & M32 and (F[0] >= NBIT) == bool((a ^ s) & (b ^ s) & NBIT))",
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

for _name, _taken in BRANCH.items():
    define(_name, "B16", BODY=f"return target if {_taken} else nxt")
for _name, _taken in SIGNED.items():
    define(_name, "B16", BODY=f"a, b, s = F[1]; return target if {_taken} else nxt")
for _name, (_fmt, _body) in JUMP.items():
    define(_name, _fmt, BODY=_body)
