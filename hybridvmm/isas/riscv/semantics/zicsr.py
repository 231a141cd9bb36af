"""Zicsr: the six CSR instructions, one factory; the CSR file decides who may do what.

``csrrw``/``csrrwi`` always write and read only when ``rd`` ≠ x0; ``csrrs``/``csrrc`` (and
the ``i`` forms) always read and write only when ``rs1`` ≠ x0 (``uimm`` ≠ 0).  An access the
current privilege may not make — see :mod:`hybridvmm.isas.riscv.csrs` — is an illegal
instruction (tval = the instruction bits), checked before anything changes.

Most CSR accesses need the exact machine state (a counter read, a write that changes the
mapping or what interrupts may be taken), so they leave the hot loop.  A read of any other
CSR, and a write of a *quiet* one (scratch, epc, cause, tval, tvec, delegation of
exceptions, the counter enables, envcfg), depends on nothing the hot loop leaves unsettled
and changes nothing it relies on: those instances run in the hot loop (``quiet_entry``),
which xv6's ``intr_get``/``r_sepc``-heavy kernel does hundreds of thousands of times.
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


QUIET = frozenset({"mscratch", "sscratch", "mepc", "sepc", "mcause", "scause", "mtval", "stval", "mtvec", "stvec",
                   "medeleg", "mcounteren", "scounteren", "menvcfg", "senvcfg"})
"""CSRs whose writes change nothing the hot loop relies on (no mapping, no interrupt enable
or pending bit, no timer)."""
COUNTER_BASES = (0xC00, 0xC80, 0xB00, 0xB80)
"""Counter CSRs (user and machine, low and high halves) read the exact instruction count."""


def _counter(number: int) -> bool:
    return any(base <= number < base + 0x20 for base in COUNTER_BASES)


def quiet_entry(m, ins, handler):
    """The handler itself as the hot-loop entry when this instance needs no exact state."""
    op, immediate = OPS[ins.name]
    number = ins.operands["csr"]
    source = ins.operands["zimm"] if immediate else ins.operands["rs1"]
    writes = op == "w" or source != 0
    csr = m.csr.table.get(number)
    if csr is None or _counter(number):
        return None
    if writes and csr.name not in QUIET:
        return None
    return handler


for _name, (_op, _imm) in OPS.items():
    HANDWRITTEN[_name] = Semantic(_csr(_op, _imm), system=True, entry=quiet_entry)
