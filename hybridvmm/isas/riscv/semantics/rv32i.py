"""RV32I (and, XLEN-parameterised, RV64I's shared part): one expression per instruction,
the format templates that specialise them.

Memory instructions have two templates each, chosen per context at translation time: a
*bare* one (physical addressing: ``o = (rs1 + imm - RAM_BASE) & M`` is the storage index,
RAM when ``o <= L``) and a *paged* one (a TLB lookup ``vpn → page index``).  Both serve
aligned RAM accesses from a word/halfword/byte view and hand everything else to the
environment's slow path (``env.load``/``env.store``).
"""

from __future__ import annotations

from hybridvmm.isas.riscv.semantics import ALL_XLENS, define, define_per_mapping, substitute

# --- register-register and register-immediate --------------------------------------------------
OP = {
    "add": "(a + b) & M",
    "sub": "(a - b) & M",
    "sll": "(a << (b & SH)) & M",
    "slt": "(1 if (a ^ S) < (b ^ S) else 0)",
    "sltu": "(1 if a < b else 0)",
    "xor": "a ^ b",
    "srl": "a >> (b & SH)",
    "sra": "(((a ^ S) - S) >> (b & SH)) & M",
    "or": "a | b",
    "and": "a & b",
}
OP_IMM = {
    "addi": "(a + i) & M",
    "slti": "(1 if (a ^ S) < IS else 0)",
    "sltiu": "(1 if a < I else 0)",
    "xori": "a ^ I",
    "ori": "a | I",
    "andi": "a & I",
}
SHIFT_IMM = {
    "slli": "(a << i) & M",
    "srli": "a >> i",
    "srai": "(((a ^ S) - S) >> i) & M",
}
UPPER = {
    "lui": "(u << 12) & M",
    "auipc": "(pc + (u << 12)) & M",
}
BRANCH = {
    "beq": "a == b",
    "bne": "a != b",
    "blt": "(a ^ S) < (b ^ S)",
    "bge": "(a ^ S) >= (b ^ S)",
    "bltu": "a < b",
    "bgeu": "a >= b",
}
LOAD = {  # name: (bytes, value from the unsigned v)
    "lb": (1, "((v ^ 0x80) - 0x80) & M"),
    "lh": (2, "((v ^ 0x8000) - 0x8000) & M"),
    "lw": (4, "v"),
    "lbu": (1, "v"),
    "lhu": (2, "v"),
}
STORE = {"sb": 1, "sh": 2, "sw": 4}
NOP = ("fence", "fence.tso")

VIEW = {1: ("b8", "o"), 2: ("h16", "o >> 1"), 4: ("w32", "o >> 2"), 8: ("d64", "o >> 3")}
ALIGN = {1: "", 2: "o & 1 or ", 4: "o & 3 or ", 8: "o & 7 or "}
A_ALIGN = {1: "", 2: " or a & 1", 4: " or a & 3", 8: " or a & 7"}
PIECE = {1: " & 0xFF", 2: " & 0xFFFF", 4: "", 8: ""}
"""What a store keeps of rs2 for each size on RV32 (RV64's ``sw`` keeps the low word:
:mod:`hybridvmm.isas.riscv.semantics.rv64`)."""

R_TEMPLATE = """
def factory(m, ins, env):
    r, ops, nxt = m.x, ins.operands, ins.next_address
    rd, rs1, rs2 = ops["rd"], ops["rs1"], ops["rs2"]
    if rd == 0:
        def NAME():
            return nxt
        return NAME

    def NAME():
        r[rd] = EXPR
        return nxt
    return NAME
"""

I_TEMPLATE = """
def factory(m, ins, env):
    r, ops, nxt = m.x, ins.operands, ins.next_address
    rd, rs1, i = ops["rd"], ops["rs1"], ops[FIELD]
    I = i & M
    IS = I ^ S
    if rd == 0:
        def NAME():
            return nxt
        return NAME

    def NAME():
        r[rd] = EXPR
        return nxt
    return NAME
"""

U_TEMPLATE = """
def factory(m, ins, env):
    r, nxt, pc, rd, u = m.x, ins.next_address, ins.address, ins.operands["rd"], ins.operands["imm_u"]
    value = EXPR
    if rd == 0:
        def NAME():
            return nxt
        return NAME

    def NAME():
        r[rd] = value
        return nxt
    return NAME
"""

B_TEMPLATE = """
def factory(m, ins, env):
    r, ops, t, n, pc = m.x, ins.operands, ins.target, ins.next_address, ins.address
    rs1, rs2 = ops["rs1"], ops["rs2"]
    if t & 3:
        def NAME():
            if EXPR:
                raise misaligned_target(pc, "NAME", t)
            return n
        return NAME

    def NAME():
        if EXPR:
            return t
        return n
    return NAME
"""

LOAD_BARE = """
def factory(m, ins, env):
    r, ops, nxt, pc = m.x, ins.operands, ins.next_address, ins.address
    rd, rs1 = ops["rd"], ops["rs1"]
    k, RB, L, view, load = ops["imm_i"] - env.RB, env.RB, env.LSIZE, env.VIEW, env.load

    def NAME():
        o = (r[rs1] + k) & M
        if ALIGNo > L:
            v = load((o + RB) & M, SIZE, pc)
        else:
            v = view[INDEX]
        WRITE
        return nxt
    return NAME
"""

LOAD_PAGED = """
def factory(m, ins, env):
    r, ops, nxt, pc = m.x, ins.operands, ins.next_address, ins.address
    rd, rs1 = ops["rd"], ops["rs1"]
    i, tr, view, load = ops["imm_i"], env.tr, env.VIEW, env.load

    def NAME():
        a = (r[rs1] + i) & M
        p = tr(a >> 12)
        if p is NoneALIGN:
            v = load(a, SIZE, pc)
        else:
            o = p | (a & 4095)
            v = view[INDEX]
        WRITE
        return nxt
    return NAME
"""

STORE_BARE = """
def factory(m, ins, env):
    r, ops, nxt, pc = m.x, ins.operands, ins.next_address, ins.address
    rs1, rs2 = ops["rs1"], ops["rs2"]
    k, RB, L, view, mk, store = ops["imm_s"] - env.RB, env.RB, env.LSIZE, env.VIEW, env.mk, env.store

    def NAME():
        o = (r[rs1] + k) & M
        if ALIGNo > L or mk[o >> 2]:
            store((o + RB) & M, r[rs2], SIZE, pc)
        else:
            view[INDEX] = r[rs2]PIECE
        return nxt
    return NAME
"""

STORE_PAGED = """
def factory(m, ins, env):
    r, ops, nxt, pc = m.x, ins.operands, ins.next_address, ins.address
    rs1, rs2 = ops["rs1"], ops["rs2"]
    i, tw, view, mk, store = ops["imm_s"], env.tw, env.VIEW, env.mk, env.store

    def NAME():
        a = (r[rs1] + i) & M
        p = tw(a >> 12)
        if p is NoneALIGN:
            store(a, r[rs2], SIZE, pc)
        else:
            o = p | (a & 4095)
            if mk[o >> 2]:
                store(a, r[rs2], SIZE, pc)
            else:
                view[INDEX] = r[rs2]PIECE
        return nxt
    return NAME
"""

JAL_TEMPLATE = """
def factory(m, ins, env):
    r, rd, t, link, pc = m.x, ins.operands["rd"], ins.target, ins.next_address, ins.address
    if t & 3:
        def NAME():
            raise misaligned_target(pc, "jal", t)
        return NAME
    if rd == 0:
        def NAME():
            return t
        return NAME

    def NAME():
        r[rd] = link
        return t
    return NAME
"""

JALR_TEMPLATE = """
def factory(m, ins, env):
    r, ops, link, pc = m.x, ins.operands, ins.next_address, ins.address
    rd, rs1, i = ops["rd"], ops["rs1"], ops["imm_i"]
    EVEN = M ^ 1
    if rd == 0:
        def NAME():
            t = (r[rs1] + i) & EVEN
            if t & 2:
                raise misaligned_target(pc, "jalr", t)
            return t
        return NAME

    def NAME():
        t = (r[rs1] + i) & EVEN
        if t & 2:
            raise misaligned_target(pc, "jalr", t)
        r[rd] = link
        return t
    return NAME
"""

NOP_TEMPLATE = """
def factory(m, ins, env):
    nxt = ins.next_address

    def NAME():
        return nxt
    return NAME
"""

REGS = {"a": "r[rs1]", "b": "r[rs2]"}

define({n: substitute(e, REGS) for n, e in OP.items()}, R_TEMPLATE)
define({n: substitute(e, {"a": "r[rs1]"}) for n, e in OP_IMM.items()}, I_TEMPLATE.replace("FIELD", '"imm_i"'))
define({n: substitute(e, {"a": "r[rs1]"}) for n, e in SHIFT_IMM.items()}, I_TEMPLATE.replace("FIELD", '"shamt"'))
define(UPPER, U_TEMPLATE)
define({n: substitute(e, REGS) for n, e in BRANCH.items()}, B_TEMPLATE)
define({name: "" for name in NOP}, NOP_TEMPLATE)
define({"jal": ""}, JAL_TEMPLATE)
define({"jalr": ""}, JALR_TEMPLATE)


def _memory(template: str, size: int, write: str = "", paged: bool = False, piece: str | None = None) -> str:
    """A load or store template specialised for ``size`` bytes (``piece``: what a store
    keeps of rs2, default the RV32 choice)."""
    view, index = VIEW[size]
    return (template.replace("LSIZE", f"L{size}").replace("VIEW", view).replace("INDEX", index)
            .replace("SIZE", str(size)).replace("ALIGN", A_ALIGN[size] if paged else ALIGN[size])
            .replace("PIECE", PIECE[size] if piece is None else piece).replace("WRITE", write))


def define_load(name: str, size: int, value: str, xlens: tuple[int, ...] = ALL_XLENS) -> None:
    """``name`` loads ``size`` bytes into rd as ``value`` (an expression of the unsigned ``v``)."""
    # rd = x0 still performs the access (it may fault or touch a device), and discards the value
    write = f"if rd:\n            r[rd] = {value}"
    define_per_mapping(name, _memory(LOAD_BARE, size, write), _memory(LOAD_PAGED, size, write, True), xlens)


def define_store(name: str, size: int, piece: str | None = None, xlens: tuple[int, ...] = ALL_XLENS) -> None:
    """``name`` stores ``size`` bytes of rs2 (``piece``: what it keeps of rs2, see :data:`PIECE`)."""
    define_per_mapping(name, _memory(STORE_BARE, size, piece=piece), _memory(STORE_PAGED, size, paged=True, piece=piece),
                       xlens)


for _name, (_size, _value) in LOAD.items():
    define_load(_name, _size, _value)
for _name, _size in STORE.items():
    define_store(_name, _size)
