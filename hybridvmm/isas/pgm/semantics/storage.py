"""Loads, stores and the stack (push, pop, call, ret): one line each, over four access templates.

Each template serves a word or byte access at a virtual address ``a`` through R in the
flavours a mapping may need, picked when the handler is made: *plain* (the native word view
``env.words``), *overlay* (a monitor's patches under R: a load serves the original bytes of a
patched word) and *slow* (no word view at this base: ``env.load32``/``store32``).  A fault
(misaligned, out of bounds) is raised before anything changes; a store into decoded code
drops it (``env.invalidate``).
"""

from __future__ import annotations

from hybridvmm.isas.pgm.semantics import define
from hybridvmm.machine.semantics import fill

LOAD_WORD = {  # name: (format, address a, what is done with the word WORD read there)
    "ld": ("RRI", "(r[rb] + k) & M32", "r[ra] = WORD; return nxt"),
    "pop": ("R1", "r[SP]", "v = WORD; r[SP] = (a + 4) & M32; r[ra] = v; return nxt"),
    "ret": ("N", "r[SP]", "v = WORD; r[SP] = (a + 4) & M32; return v"),
}
STORE_WORD = {  # name: (format, address a, the word stored there, what follows)
    "st": ("RRI", "(r[rb] + k) & M32", "r[ra]", "return nxt"),
    "push": ("R1", "(r[SP] - 4) & M32", "r[ra]", "r[SP] = a; return nxt"),  # push sp pushes the old sp
    "call": ("J32", "(r[SP] - 4) & M32", "nxt", "r[SP] = a; return target"),
    "callrel": ("B16", "(r[SP] - 4) & M32", "nxt", "r[SP] = a; return target"),
    "callr": ("R1", "(r[SP] - 4) & M32", "nxt", "r[SP] = a; return t"),
}
BEFORE = {"callr": "t = r[ra]"}
"""Statements before the access: callr reads its target before the push moves sp."""
LOAD_BYTE = {"ldb": ("RRI", "(r[rb] + k) & M32", "r[ra] = BYTE; return nxt")}
STORE_BYTE = {"stb": ("RRI", "(r[rb] + k) & M32", "r[ra] & 0xFF", "return nxt")}

PRELUDE = """
def factory(m, ins, env):
    r, ops, pc, nxt, target = m.regs, ins.operands, ins.address, ins.next_address, ins.target
    OPERANDS
    words, mem, pb, eb, eb4, fault = env.words, env.mem, env.pb, env.eb, env.eb - 4, env.fault
    marks, inval, overlay = env.marks, env.invalidate, env.overlay
"""

LOAD_WORD_TEMPLATE = PRELUDE + """
    if words is None:
        load32 = env.load32

        def NAME():
            a = ADDRESS
            SLOW
        return NAME
    if overlay is not None:
        patched, original_word = overlay.patched, overlay.original_word

        def NAME():
            a = ADDRESS
            if a & 3 or a > eb4:
                fault(a, 4, pc, "NAME")
            w = (pb + a) >> 2
            OVERLAY
        return NAME

    def NAME():
        a = ADDRESS
        if a & 3 or a > eb4:
            fault(a, 4, pc, "NAME")
        PLAIN
    return NAME
"""
WORD = {"SLOW": 'load32(a, pc, "NAME")', "OVERLAY": "original_word(w << 2) if patched[w] else words[w]",
        "PLAIN": "words[(pb + a) >> 2]"}

STORE_WORD_TEMPLATE = PRELUDE + """
    if words is None:
        store32 = env.store32

        def NAME():
            BEFORE
            a = ADDRESS
            store32(a, VALUE, pc, "NAME")
            AFTER
        return NAME

    def NAME():
        BEFORE
        a = ADDRESS
        if a & 3 or a > eb4:
            fault(a, 4, pc, "NAME")
        w = (pb + a) >> 2
        words[w] = VALUE
        if marks[w]:
            inval(w << 2, (w << 2) + 4)
        AFTER
    return NAME
"""

LOAD_BYTE_TEMPLATE = PRELUDE + """
    if overlay is not None:
        patched, original_byte = overlay.patched, overlay.original_byte

        def NAME():
            a = ADDRESS
            if a >= eb:
                fault(a, 1, pc, "NAME")
            p = pb + a
            OVERLAY
        return NAME

    def NAME():
        a = ADDRESS
        if a >= eb:
            fault(a, 1, pc, "NAME")
        PLAIN
    return NAME
"""
BYTE = {"OVERLAY": "original_byte(p) if patched[p >> 2] else mem[p]", "PLAIN": "mem[pb + a]"}

STORE_BYTE_TEMPLATE = PRELUDE + """
    def NAME():
        a = ADDRESS
        if a >= eb:
            fault(a, 1, pc, "NAME")
        p = pb + a
        mem[p] = VALUE
        if marks[p >> 2]:
            inval(p, p + 1)
        AFTER
    return NAME
"""

for _name, (_fmt, _address, _use) in LOAD_WORD.items():
    define(_name, _fmt, LOAD_WORD_TEMPLATE, ADDRESS=_address, **{flavour: fill(_use, WORD=word) for flavour, word in WORD.items()})
for _name, (_fmt, _address, _value, _after) in STORE_WORD.items():
    define(_name, _fmt, STORE_WORD_TEMPLATE, ADDRESS=_address, VALUE=_value, AFTER=_after, BEFORE=BEFORE.get(_name, ""))
for _name, (_fmt, _address, _use) in LOAD_BYTE.items():
    define(_name, _fmt, LOAD_BYTE_TEMPLATE, ADDRESS=_address, **{flavour: fill(_use, BYTE=byte) for flavour, byte in BYTE.items()})
for _name, (_fmt, _address, _value, _after) in STORE_BYTE.items():
    define(_name, _fmt, STORE_BYTE_TEMPLATE, ADDRESS=_address, VALUE=_value, AFTER=_after)
