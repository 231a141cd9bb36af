"""RISC-V as gdb knows it: ``org.gnu.gdb.riscv.cpu`` (x0–x31, pc), ``org.gnu.gdb.riscv.csr``
(the CSRs gdb names, numbered 65 + CSR number as gdb numbers them) and
``org.gnu.gdb.riscv.virtual`` (``priv``, the privilege level, as QEMU exposes it; gdb shows
it as ``prv:3 [Machine]``).  Memory goes through the guest's current data mapping, as
QEMU's stub does: Sv32/Sv39 walks made with :meth:`Regime.peek` (no A/D update, no TLB
entry), physical where translation is off.
"""

from __future__ import annotations

from hybridvmm.gdbstub.cpu import Access, CpuView
from hybridvmm.gdbstub.tdesc import Register
from hybridvmm.isa import Instruction
from hybridvmm.isas.riscv.constants import RAM_BASE
from hybridvmm.isas.riscv.mmu import FETCH, LOAD, Regime
from hybridvmm.machine.core import Machine

ABI_NAMES = ("zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "fp", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
             "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6")
POINTERS = {"ra": "code_ptr", "sp": "data_ptr", "gp": "data_ptr", "tp": "data_ptr", "fp": "data_ptr"}
CPU, CSR, VIRTUAL = "org.gnu.gdb.riscv.cpu", "org.gnu.gdb.riscv.csr", "org.gnu.gdb.riscv.virtual"
FIRST_CSR = 65
"""gdb's register number of CSR 0 (after x0–x31, pc and f0–f31)."""
PRIV = FIRST_CSR + 4096
"""gdb's number of the virtual ``priv`` register (OpenOCD uses the same)."""
PC = 32

CSR_NAMES = (
    "sstatus", "sie", "stvec", "scounteren", "senvcfg", "sscratch", "sepc", "scause", "stval", "sip", "satp",
    "mstatus", "misa", "medeleg", "mideleg", "mie", "mtvec", "mcounteren", "menvcfg", "mstatush", "mcountinhibit",
    "mscratch", "mepc", "mcause", "mtval", "mip",
    *(f"pmpcfg{i}" for i in range(4)), *(f"pmpaddr{i}" for i in range(16)),
    "mcycle", "minstret", "mcycleh", "minstreth", "cycle", "time", "instret", "cycleh", "timeh", "instreth",
    "mvendorid", "marchid", "mimpid", "mhartid",
)
"""The CSRs served: those gdb knows by name that the hart implements (the rest of the
hart's 200-odd — hpm counters and events, the debug triggers — are zero or absent)."""

WIDTHS = {"b": 1, "h": 2, "w": 4, "d": 8}
LOADS = {"lb": 1, "lbu": 1, "lh": 2, "lhu": 2, "lw": 4, "lwu": 4, "ld": 8}
STORES = {"sb": 1, "sh": 2, "sw": 4, "sd": 8}
PRIV_LEVELS = (0, 1, 3)


def _registers(xlen: int, csrs: dict[str, int]) -> list[Register]:
    regs = [Register(name, xlen, n, CPU, POINTERS.get(name, "int")) for n, name in enumerate(ABI_NAMES)]
    regs.append(Register("pc", xlen, PC, CPU, "code_ptr"))
    for name in CSR_NAMES:
        number = csrs.get(name)
        if number is not None:
            regs.append(Register(name, xlen, FIRST_CSR + number, CSR, "int", "csr"))
    regs.append(Register("priv", xlen, PRIV, VIRTUAL, "int", "general"))
    return regs


class RiscvView(CpuView):
    """A RISC-V hart (bare, or a VM's virtual hart) as gdb sees it."""

    g_count = 33

    def __init__(self, machine: Machine, memory):
        super().__init__(machine, memory)
        self.xlen = machine.xlen.bits
        self.architecture = f"riscv:rv{self.xlen}"
        numbers = {c.name: n for n, c in machine.csr.table.items()}
        self.registers = _registers(self.xlen, numbers)

    # --- registers ------------------------------------------------------------------------------
    def read_register(self, reg: Register) -> int | None:
        m = self.m
        n = reg.regnum
        if n < 32:
            return m.x[n] if n else 0
        if n == PC:
            return m.pc
        if n == PRIV:
            return m.priv
        try:
            return m.get_csr(n - FIRST_CSR)
        except KeyError:
            return None

    def write_register(self, reg: Register, value: int) -> bool:
        m = self.m
        n = reg.regnum
        value &= m.xlen.mask
        if n < 32:
            if n:
                m.x[n] = value
            return True
        if n == PC:
            m.pc = value
            return True
        if n == PRIV:
            if value not in PRIV_LEVELS:
                return False
            m.priv = value
            m.refresh_mapping()
            return True
        try:
            m.set_csr(n - FIRST_CSR, value)
        except (KeyError, ValueError):
            return False
        return True

    def describe(self) -> str:
        return self.m.MODE_LABELS.get(self.m.mode, self.m.mode)

    # --- translation ----------------------------------------------------------------------------
    def _regimes(self) -> tuple[Regime | None, Regime | None]:
        """Fresh (side-effect free) regimes of the current context: (data, fetch)."""
        fetch, data = self.m.regimes(self.m.translation_key())
        return data, fetch

    def _physical(self, address: int) -> int | None:
        data, fetch = self._regimes()
        if data is None:
            return address
        pa = data.peek(address, LOAD)
        if pa is None and fetch is not None:
            pa = fetch.peek(address, FETCH)
        return pa

    def translate(self, address: int) -> tuple[int, int] | None:
        pa = self._physical(address)
        if pa is None:
            return None
        index = pa - RAM_BASE
        size = self.memory.size
        if not 0 <= index < size:
            return None
        return index, min(0x1000 - (address & 0xFFF), size - index)

    def breakpoint_roots(self, address: int) -> set[int]:
        m = self.m
        candidates = {address}  # every untranslated context (M-mode, satp bare)
        regimes = [t.fetch for t in list(m.tlbs.values()) if t.fetch is not None]
        _, fetch = self._regimes()
        if fetch is not None:
            regimes.append(fetch)
        for regime in regimes:
            pa = regime.peek(address, FETCH)
            if pa is not None:
                candidates.add(pa)
        offset, size = m.storage.offset, m.storage.size
        return {offset + pa - RAM_BASE for pa in candidates if 0 <= pa - RAM_BASE < size}

    # --- data accesses ----------------------------------------------------------------------------
    def accesses(self, machine: Machine, ins: Instruction) -> list[Access]:
        name = ins.spec.name
        ops = ins.operands
        mask = machine.xlen.mask
        size = LOADS.get(name)
        if size is not None:
            return [Access((machine.x[ops["rs1"]] + ops["imm_i"]) & mask, size, False)]
        size = STORES.get(name)
        if size is not None:
            return [Access((machine.x[ops["rs1"]] + ops["imm_s"]) & mask, size, True)]
        base, _, rest = name.partition(".")
        if base in ("lr", "sc") or base.startswith("amo"):
            size = WIDTHS.get(rest[:1], 4)
            address = machine.x[ops["rs1"]] & mask
            if base == "lr":
                return [Access(address, size, False)]
            if base == "sc":
                return [Access(address, size, True)]
            return [Access(address, size, False), Access(address, size, True)]
        return []
