"""The A extension: LR/SC with a one-word reservation, and the nine AMOs as one expression each.

``m.reservation`` holds the *physical* address ``lr.w`` translated (None: none), as spike
keeps it: ``sc.w`` translates its address as a store (so it can fault like one, even when
it then fails) and succeeds only if that is the reserved physical word, so a remap between
them — a ``satp`` switch, a PTE change and ``sfence.vma``, an MPRV change — cannot make it
write another word and report success.  ``sc.w`` clears the reservation either way; trap
entry clears it too.  AMOs, ``lr.w`` and ``sc.w`` need a naturally aligned address (else an
address-misaligned fault, not performed as ordinary misaligned accesses are) in RAM (else an
access fault).
"""

from __future__ import annotations

from hybridvmm.isas.riscv.semantics import HANDWRITTEN, Semantic, define

AMO = {  # a = the word in memory, b = rs2; the expression is what is stored, rd gets a
    "amoswap.w": "b",
    "amoadd.w": "(a + b) & M",
    "amoxor.w": "a ^ b",
    "amoand.w": "a & b",
    "amoor.w": "a | b",
    "amomin.w": "a if (a ^ S) < (b ^ S) else b",
    "amomax.w": "a if (a ^ S) > (b ^ S) else b",
    "amominu.w": "a if a < b else b",
    "amomaxu.w": "a if a > b else b",
}

AMO_TEMPLATE = """
def factory(m, ins, env):
    r, ops, nxt, pc = m.x, ins.operands, ins.next_address, ins.address
    rd, rs1, rs2 = ops["rd"], ops["rs1"], ops["rs2"]
    amo, peek, poke = env.amo, env.peek32, env.poke32

    def NAME():
        o = amo(r[rs1], pc)
        a = peek(o)
        b = r[rs2]
        poke(o, EXPR)
        if rd:
            r[rd] = a
        return nxt
    return NAME
"""

define(AMO, AMO_TEMPLATE)


def lr_factory(size: int):
    """``lr.w`` (``size`` 4: the word sign-extended to XLEN) or ``lr.d`` (8)."""
    def factory(m, ins, env):
        r, ops, nxt, pc = m.x, ins.operands, ins.next_address, ins.address
        rd, rs1 = ops["rd"], ops["rs1"]
        amo, peek, RB, mask = env.amo, env.peek32, env.RB, m.xlen.mask

        def lr() -> int:
            o = amo(r[rs1], pc, False, size)
            v = peek(o, size)
            m.reservation = RB + o
            if rd:
                r[rd] = ((v ^ 0x80000000) - 0x80000000) & mask if size == 4 else v
            return nxt
        lr.__name__ = ins.name
        return lr
    return factory


def sc_factory(size: int):
    """``sc.w``/``sc.d``: store if the reservation is the physical word this translates to."""
    def factory(m, ins, env):
        r, ops, nxt, pc = m.x, ins.operands, ins.next_address, ins.address
        rd, rs1, rs2 = ops["rd"], ops["rs1"], ops["rs2"]
        amo, poke, RB = env.amo, env.poke32, env.RB
        piece = (1 << 8 * size) - 1

        def sc() -> int:
            o = amo(r[rs1], pc, True, size)
            if m.reservation == RB + o:
                poke(o, r[rs2] & piece, size)
                result = 0
            else:
                result = 1
            m.reservation = None
            if rd:
                r[rd] = result
            return nxt
        sc.__name__ = ins.name
        return sc
    return factory


HANDWRITTEN["lr.w"] = Semantic(lr_factory(4))
HANDWRITTEN["sc.w"] = Semantic(sc_factory(4))
