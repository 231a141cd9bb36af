"""pgm as the stub serves it: a target description of its own, since gdb has no pgm.

Registers (all 32 bits; ``p``/``P`` numbers in brackets)::

    org.hybridvmm.pgm.core     r0–r13 [0–13], fp = r14 [14], sp = r15 [15], pc [16],
                               flags [17] (NZCV: N = 8, Z = 4, C = 2, V = 1)
    org.hybridvmm.pgm.system   base [18], bound [19] (R), timer [20] (instructions left),
                               ie [21] (0/1), priv [22] (0 = supervisor, 1 = user),
                               timer_pending [23]

``g`` carries the core feature (18 words).  Memory is virtual, through R as the guest's
loads see it: address ``a`` is storage ``base + a`` while ``a`` is below the effective
bound; outside R nothing is readable (a supervisor's R is usually all of storage).

What gdb can show: nothing.  gdb-multiarch knows no pgm architecture: it warns ``unknown
architecture "pgm"``, ignores the description, reads the ``g`` reply as its default
architecture's registers, fails ("Truncated register 16 in remote 'g' packet") and drops
the connection (the run then ends cleanly).  It could neither disassemble pgm nor unwind
its stack anyway.  What a client can do is everything the protocol does: read and write
these registers and memory, set breakpoints (``Z0``/``Z1``) and watchpoints (``Z2``–``Z4``)
at virtual addresses, step one instruction (``vCont;s``), continue, interrupt, list the VMs
as threads and ask ``qRcmd`` — :class:`hybridvmm.gdbstub.client.RspClient` does, and the
tests use it.
"""

from __future__ import annotations

from hybridvmm.gdbstub.cpu import Access, CpuView
from hybridvmm.gdbstub.tdesc import Register
from hybridvmm.isa import Instruction
from hybridvmm.machine.core import Machine

CORE, SYSTEM = "org.hybridvmm.pgm.core", "org.hybridvmm.pgm.system"
M32 = 0xFFFFFFFF
PC, FLAGS, BASE, BOUND, TIMER, IE, PRIV, TIMER_PENDING = range(16, 24)

REGISTERS = [
    *(Register(f"r{n}", 32, n, CORE) for n in range(14)),
    Register("fp", 32, 14, CORE, "data_ptr"),
    Register("sp", 32, 15, CORE, "data_ptr"),
    Register("pc", 32, PC, CORE, "code_ptr"),
    Register("flags", 32, FLAGS, CORE, "pgm_flags"),
    Register("base", 32, BASE, SYSTEM),
    Register("bound", 32, BOUND, SYSTEM),
    Register("timer", 32, TIMER, SYSTEM),
    Register("ie", 32, IE, SYSTEM),
    Register("priv", 32, PRIV, SYSTEM),
    Register("timer_pending", 32, TIMER_PENDING, SYSTEM),
]
FLAGS_TYPE = """    <flags id="pgm_flags" size="4">
      <field name="V" start="0" end="0"/>
      <field name="C" start="1" end="1"/>
      <field name="Z" start="2" end="2"/>
      <field name="N" start="3" end="3"/>
    </flags>"""

PUSHES = frozenset({"push", "pushf", "call", "callr", "callrel"})
POPS = frozenset({"pop", "popf", "ret"})
MEMORY = {"ld": (4, False), "st": (4, True), "ldb": (1, False), "stb": (1, True)}


class PgmView(CpuView):
    """A pgm machine (bare, or a VM's virtual CPU) as the stub serves it."""

    architecture = "pgm"
    registers = REGISTERS
    g_count = 18
    flush_for_breakpoints = True
    types_xml = FLAGS_TYPE

    def read_register(self, reg: Register) -> int | None:
        m = self.m
        n = reg.regnum
        if n < 16:
            return m.regs[n]
        return {PC: lambda: m.pc, FLAGS: lambda: m.flags, BASE: lambda: m.base, BOUND: lambda: m.bound,
                TIMER: lambda: m.timer, IE: lambda: int(m.ie), PRIV: lambda: m.priv,
                TIMER_PENDING: lambda: int(m.timer_pending)}[n]()

    def write_register(self, reg: Register, value: int) -> bool:
        m = self.m
        n = reg.regnum
        value &= M32
        if n < 16:
            m.regs[n] = value
        elif n == PC:
            m.pc = value
        elif n == FLAGS:
            m.flags = value & 0xF
        elif n in (BASE, BOUND):
            m.set_r(value if n == BASE else m.base, value if n == BOUND else m.bound)
        elif n == TIMER:
            m.timer = value
        elif n == IE:
            m.ie = bool(value)
        elif n == PRIV:
            if value not in (0, 1):
                return False
            m.user = bool(value)
            m.refresh_mapping()
        elif n == TIMER_PENDING:
            m.timer_pending = bool(value)
        else:
            return False
        return True

    def describe(self) -> str:
        m = self.m
        return f"{m.mode}, R = (0x{m.base:x}, 0x{m.bound:x})"

    # --- memory through R --------------------------------------------------------------------------
    def _limit(self) -> int:
        m = self.m
        return max(0, min(m.bound, m.storage.size - m.base))

    def translate(self, address: int) -> tuple[int, int] | None:
        limit = self._limit()
        if not 0 <= address < limit:
            return None
        return self.m.base + address, limit - address

    def breakpoint_roots(self, address: int) -> set[int]:
        where = self.translate(address)
        return set() if where is None else {self.m.storage.offset + where[0]}

    def accesses(self, machine: Machine, ins: Instruction) -> list[Access]:
        name = ins.spec.name
        regs = machine.regs
        if name in MEMORY:
            size, write = MEMORY[name]
            ops = ins.operands
            return [Access((regs[ops["rb"]] + ops["simm"]) & M32, size, write)]
        if name in PUSHES:
            return [Access((regs[15] - 4) & M32, 4, True)]
        if name in POPS:
            return [Access(regs[15], 4, False)]
        return []
