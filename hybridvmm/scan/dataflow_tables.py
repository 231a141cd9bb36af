"""Per-ISA data-flow facts for the constant-propagation resolver — data, not code.

The scanner core never names an ISA; the one thing it cannot read from a spec is what an
instruction computes, which constant propagation needs for "load an address, then jump
through the register".  These tables say it in a tiny expression language over the
instruction's *field names*; the resolver gives each name its meaning from the field's
kind in the spec (a ``reg`` field reads the register it names, ``imm``/``abs`` fields are
their value, a ``pcrel`` field is its absolute target) plus ``pc`` (the instruction's
address) and ``next`` (the address after it).

Per ISA (looked up by name, then along ``extends``; a spec may instead carry the same
table as ``[system] dataflow = {...}``):

- ``effects``: instruction name → statements ``"dst = expr"``; ``dst`` is a ``reg`` field
  or ``pc`` (the target of an indirect jump/call).  An instruction listed here writes
  exactly those registers (plus ``clobbers``); one not listed is assumed to write every
  register its ``reg`` fields name.
  Besides the operators ``+ - * & | ^ << >> ~``, ``load32(addr)`` is the word at an
  address and ``store32(addr, value)`` (a statement of its own) a word stored.
- ``clobbers``: instruction name → registers it writes implicitly (a stack pointer).
- ``zero_register``: a register that always reads 0 and ignores writes, if any.
"""

from __future__ import annotations

TABLES: dict[str, dict] = {
    "pgm": {
        "effects": {
            "movl": ["ra = imm32"],
            "movi": ["ra = simm"],
            "mov": ["ra = rb"],
            "add": ["ra = ra + rb"],
            "sub": ["ra = ra - rb"],
            "and": ["ra = ra & rb"],
            "or": ["ra = ra | rb"],
            "xor": ["ra = ra ^ rb"],
            "addi": ["ra = rb + simm"],
            "andi": ["ra = rb & simm"],
            "ori": ["ra = rb | simm"],
            "xori": ["ra = rb ^ simm"],
            "shli": ["ra = rb << (simm & 31)"],
            "shri": ["ra = rb >> (simm & 31)"],
            "nop": [],
            "cmp": [],
            "cmpi": [],
            "tst": [],
            "ld": ["ra = load32(rb + simm)"],
            "st": ["store32(rb + simm, ra)"],
            "stb": [],
            "push": [],
            "out": [],
            "ei": [],
            "di": [],
            "settimer": [],
            "setr": [],
            "jmpr": ["pc = ra"],
            "callr": ["pc = ra"],
        },
        "clobbers": {"push": ["sp"], "pop": ["sp"], "pushf": ["sp"], "popf": ["sp"]},
    },
    "rv32": {
        "zero_register": "zero",
        "effects": {
            "lui": ["rd = imm_u << 12"],
            "auipc": ["rd = pc + (imm_u << 12)"],
            "addi": ["rd = rs1 + imm_i"],
            "ori": ["rd = rs1 | imm_i"],
            "xori": ["rd = rs1 ^ imm_i"],
            "andi": ["rd = rs1 & imm_i"],
            "slli": ["rd = rs1 << shamt"],
            "srli": ["rd = rs1 >> shamt"],
            "add": ["rd = rs1 + rs2"],
            "sub": ["rd = rs1 - rs2"],
            "or": ["rd = rs1 | rs2"],
            "xor": ["rd = rs1 ^ rs2"],
            "and": ["rd = rs1 & rs2"],
            "lw": ["rd = load32(rs1 + imm_i)"],
            "sb": [],
            "sh": [],
            "sw": ["store32(rs1 + imm_s, rs2)"],
            "fence": [],
            "fence.i": [],
            "jal": ["rd = next"],
            "jalr": ["pc = (rs1 + imm_i) & ~1", "rd = next"],
        },
    },
}
