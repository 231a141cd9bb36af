"""Zicsr: the six CSR instructions, one factory; the CSR file decides who may do what.

``csrrw``/``csrrwi`` always write and read only when ``rd`` ≠ x0; ``csrrs``/``csrrc`` (and
the ``i`` forms) always read and write only when ``rs1`` ≠ x0 (``uimm`` ≠ 0).  An access the
current privilege may not make — see :mod:`hybridvmm.isas.riscv.csrs` — is an illegal
instruction (tval = the instruction bits), checked before anything changes.
"""

from __future__ import annotations

from hybridvmm.isas.riscv.semantics import HANDWRITTEN, Semantic, illegal

OPS = {"csrrw": ("w", False), "csrrs": ("s", False), "csrrc": ("c", False),
       "csrrwi": ("w", True), "csrrsi": ("s", True), "csrrci": ("c", True)}


def _csr(op: str, immediate: bool):
    def factory(m, ins, env):
        r, ops, nxt = m.x, ins.operands, ins.next_address
        number, rd = ops["csr"], ops["rd"]
        source = ops["zimm"] if immediate else ops["rs1"]
        writes = op == "w" or source != 0
        reads = op != "w" or rd != 0
        mask = m.xlen.mask

        def csr_op() -> int:
            csr = m.csr.lookup(number, m.priv, writes)
            if csr is None:
                raise illegal(ins)
            old = csr.read() if reads else 0
            if writes:
                value = source if immediate else r[source]
                new = value if op == "w" else old | value if op == "s" else old & ~value
                csr.write(new & mask)
            if rd:
                r[rd] = old
            return nxt
        csr_op.__name__ = ins.name
        return csr_op
    return factory


for _name, (_op, _imm) in OPS.items():
    HANDWRITTEN[_name] = Semantic(_csr(_op, _imm), system=True)
