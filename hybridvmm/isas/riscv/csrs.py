"""The RISC-V control and status registers of an RV32IMA + S + U hart, and who may touch them.

A :class:`CsrFile` owns the stored CSR state and a table ``number → Csr(name, read, write,
gate)``.  Access rules are spike's ``validate_csr`` plus the counter and TVM gates:

* the CSR must exist (else illegal instruction: unknown numbers, the hypervisor range,
  debug-mode CSRs, ``mnstatus`` …);
* number bits 9:8 are the lowest privilege that may access it;
* number bits 11:10 = 3 mark it read-only: any *write* is illegal (``csrrs/csrrc`` with
  ``rs1 = x0`` and the ``i`` forms with ``uimm = 0`` do not write);
* ``cycle/time/instret/hpmcounterN`` (and their ``h`` halves) below M need the
  ``mcounteren`` bit, and in U-mode the ``scounteren`` bit too;
* ``satp`` in S-mode is illegal while ``mstatus.TVM`` = 1.

Views: ``sstatus`` is ``mstatus`` through :data:`SSTATUS_VIEW`; ``sie``/``sip`` are
``mie``/``mip`` through ``mideleg``.  WARL fields keep only legal values: ``mtvec``/``stvec``
ignore a write with a reserved MODE (as QEMU does), ``mepc``/``sepc`` drop bits 1:0
(IALIGN = 32), ``mhpmcounterN``/``mhpmeventN`` are hard-wired zero; PMP is :mod:`hybridvmm.isas.riscv.pmp`.

Counters.  Time is deterministic: ``mcycle``, ``minstret`` and the CLINT's ``mtime`` all
count retired instructions (``machine.stats.instructions``), each with its own offset so
that it can be written; ``mcountinhibit`` freezes ``mcycle``/``minstret``.  A CSR write takes
effect after the writing instruction completes, so ``csrw minstret, X`` is read back as X
by the next instruction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from hybridvmm.isas.riscv.constants import (
    MACHINE,
    MEI,
    MSI,
    MSTATUS_WRITABLE,
    MTI,
    SATP32,
    SATP64,
    SEI,
    SSI,
    SSTATUS_VIEW,
    STI,
    SUPERVISOR,
    TVM,
    UXL_SXL_64,
    Xlen,
    misa_value,
)

if TYPE_CHECKING:
    from hybridvmm.isas.riscv.machine import RiscvMachine

M64 = (1 << 64) - 1

MEDELEG_WRITABLE = 0xB3FF
"""Delegable exceptions: 0-9, 12, 13, 15 (not ecall from M, nor the reserved causes)."""
MIDELEG_WRITABLE = (1 << SSI) | (1 << STI) | (1 << SEI)
MIE_WRITABLE = (1 << SSI) | (1 << MSI) | (1 << STI) | (1 << MTI) | (1 << SEI) | (1 << MEI)
MIP_WRITABLE = (1 << SSI) | (1 << STI) | (1 << SEI)
"""mip bits software may write (MSIP, MTIP, MEIP come from the CLINT and the interrupt lines)."""
SIP_WRITABLE = 1 << SSI
COUNTINHIBIT_WRITABLE = 0b101
"""mcountinhibit: CY and IR (TM is read-only zero)."""
MENVCFG_WRITABLE = 1
"""menvcfg/senvcfg: only FIOM; the fields of absent extensions are zero."""

CY, TM, IR = 0, 1, 2
"""Counter numbers (bit positions in the counteren/countinhibit registers)."""


@dataclass(frozen=True)
class Csr:
    """One CSR: how to read it, how to write it (None: read-only), and an extra access gate
    (``gate(priv) -> bool``, None: no gate beyond the number's privilege bits)."""

    name: str
    read: Callable[[], int]
    write: Callable[[int], None] | None = None
    gate: Callable[[int], bool] | None = None


STORED = ("mstatus", "medeleg", "mideleg", "mie", "mip", "mtvec", "stvec", "mscratch", "sscratch",
          "mepc", "sepc", "mcause", "scause", "mtval", "stval", "satp", "mcounteren", "scounteren",
          "mcountinhibit", "menvcfg", "senvcfg")
"""The CSRs kept as plain integers (their state is exactly these attributes)."""


class CsrFile:
    """The CSR state of one hart and the access rules (see the module docstring)."""

    def __init__(self, machine: "RiscvMachine", xlen: Xlen):
        self.m = machine
        self.xlen = xlen
        self.mask = xlen.mask
        self.misa = misa_value(xlen)
        self.satp_format = SATP32 if xlen.bits == 32 else SATP64
        self.fixed_status = 0 if xlen.bits == 32 else UXL_SXL_64
        """mstatus bits that always read 1 (RV64's UXL/SXL = 2)."""
        self.counter_offset = [0, 0, 0]
        """Per counter (CY, TM, IR): value = offset + retired instructions (mod 2^64)."""
        self.counter_frozen: list[int | None] = [None, None, None]
        """The value of an inhibited counter (None while it counts)."""
        self.reset()
        self.table: dict[int, Csr] = {}
        self._build()

    # --- state ---------------------------------------------------------------------------------
    def reset(self) -> None:
        for name in STORED:
            setattr(self, name, 0)
        self.mstatus = self.fixed_status
        self.counter_offset = [-self._retired()] * 3
        self.counter_frozen = [None, None, None]

    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in STORED}
        out["counters"] = [self.counter(i) for i in (CY, TM, IR)]
        return out

    def set_state(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name == "counters":
                for i, v in enumerate(value):
                    self.set_counter(i, v, completing=False)
            elif name in STORED:
                setattr(self, name, value & self.mask)
            else:
                raise TypeError(f"unknown CSR state field: {name}")

    # --- counters ------------------------------------------------------------------------------------
    def _retired(self) -> int:
        return self.m.stats.instructions

    def counter(self, which: int) -> int:
        """The 64-bit value of counter ``which`` (CY, TM or IR) now."""
        frozen = self.counter_frozen[which]
        if frozen is not None:
            return frozen
        return (self.counter_offset[which] + self._retired()) & M64

    def set_counter(self, which: int, value: int, *, completing: bool | None = None) -> None:
        """Make counter ``which`` read ``value`` from the next instruction on.  ``completing``:
        an instruction is executing now and will retire after this (default: the machine's
        ``exact`` flag says so)."""
        value &= M64
        if self.counter_frozen[which] is not None:
            self.counter_frozen[which] = value
            return
        if completing is None:
            completing = self.m.exact
        self.counter_offset[which] = value - self._retired() - (1 if completing else 0)
        if which == TM:
            self.m.clint.time_changed()

    def _write_inhibit(self, value: int) -> None:
        value &= COUNTINHIBIT_WRITABLE
        for which in (CY, IR):
            inhibit = bool(value >> which & 1)
            frozen = self.counter_frozen[which]
            if inhibit and frozen is None:
                # frozen from the next instruction on: this one still counts
                self.counter_frozen[which] = (self.counter(which) + (1 if self.m.exact else 0)) & M64
            elif not inhibit and frozen is not None:
                self.counter_frozen[which] = None
                self.set_counter(which, frozen)
        self.mcountinhibit = value

    # --- access ---------------------------------------------------------------------------------
    def lookup(self, number: int, priv: int, write: bool) -> Csr | None:
        """The CSR if ``priv`` may access it this way, else None (an illegal instruction)."""
        csr = self.table.get(number)
        if csr is None or priv < (number >> 8) & 3:
            return None
        if write and (csr.write is None or number >> 10 == 3):
            return None
        if csr.gate is not None and not csr.gate(priv):
            return None
        return csr

    # --- the table ----------------------------------------------------------------------------
    def _build(self) -> None:
        m, mask = self.m, self.mask
        high = self.xlen.bits == 32
        t = self.table

        def add(number: int, name: str, read, write=None, gate=None) -> None:
            t[number] = Csr(name, read, write, gate)

        def plain(number: int, name: str, writable: int = mask, after: Callable[[], None] | None = None) -> None:
            def read() -> int:
                return getattr(self, name)

            def write(v: int) -> None:
                setattr(self, name, v & writable)
                if after is not None:
                    after()
            add(number, name, read, write)

        zero = lambda: 0  # noqa: E731
        ignore = lambda v: None  # noqa: E731

        # machine information (read-only)
        for number, name, value in ((0xF11, "mvendorid", 0), (0xF12, "marchid", 0), (0xF13, "mimpid", 0),
                                    (0xF14, "mhartid", 0), (0xF15, "mconfigptr", 0)):
            add(number, name, (lambda v=value: v))

        # status, as one register with a supervisor view
        fixed = self.fixed_status
        sstatus_view = SSTATUS_VIEW | (fixed & (3 << 32))       # RV64: UXL shows in sstatus

        def write_mstatus(v: int) -> None:
            self.mstatus = v & MSTATUS_WRITABLE | fixed
            m.status_changed()

        def write_sstatus(v: int) -> None:
            self.mstatus = (self.mstatus & ~SSTATUS_VIEW) | (v & SSTATUS_VIEW)
            m.status_changed()

        add(0x300, "mstatus", lambda: self.mstatus, write_mstatus)
        add(0x100, "sstatus", lambda: self.mstatus & sstatus_view, write_sstatus)
        if high:
            add(0x310, "mstatush", zero, ignore)
        add(0x301, "misa", lambda: self.misa, ignore)

        # traps
        plain(0x302, "medeleg", MEDELEG_WRITABLE)
        plain(0x303, "mideleg", MIDELEG_WRITABLE)
        plain(0x304, "mie", MIE_WRITABLE)
        add(0x344, "mip", lambda: self.mip, lambda v: self._set_mip((self.mip & ~MIP_WRITABLE) | (v & MIP_WRITABLE)))
        add(0x104, "sie", lambda: self.mie & self.mideleg,
            lambda v: setattr(self, "mie", (self.mie & ~self.mideleg) | (v & self.mideleg & MIE_WRITABLE)))
        add(0x144, "sip", lambda: self.mip & self.mideleg,
            lambda v: self._set_mip((self.mip & ~(self.mideleg & SIP_WRITABLE)) | (v & self.mideleg & SIP_WRITABLE)))

        def tvec(name: str):
            def write(v: int) -> None:
                if v & 3 < 2:                      # MODE 2 and 3 are reserved: the write is ignored
                    setattr(self, name, v & mask)
            return write

        add(0x305, "mtvec", lambda: self.mtvec, tvec("mtvec"))
        add(0x105, "stvec", lambda: self.stvec, tvec("stvec"))
        plain(0x340, "mscratch")
        plain(0x140, "sscratch")
        plain(0x341, "mepc", mask & ~3)
        plain(0x141, "sepc", mask & ~3)
        plain(0x342, "mcause")
        plain(0x142, "scause")
        plain(0x343, "mtval")
        plain(0x143, "stval")

        # address translation
        satp_format = self.satp_format

        def write_satp(v: int) -> None:
            mode = satp_format.mode(v)
            if mode not in (0, satp_format.paged_mode):
                return                        # WARL: a mode not implemented leaves satp as it was
            self.satp = v & satp_format.writable
            m.flush_virtual()

        add(0x180, "satp", lambda: self.satp, write_satp,
            lambda priv: not (priv == SUPERVISOR and self.mstatus & TVM))

        # environment configuration (only FIOM exists without Zicbo*/Svpbmt/Sstc)
        plain(0x30A, "menvcfg", MENVCFG_WRITABLE)
        if high:
            add(0x31A, "menvcfgh", zero, ignore)
        plain(0x10A, "senvcfg", MENVCFG_WRITABLE)

        # counters
        plain(0x306, "mcounteren", 0xFFFFFFFF)
        plain(0x106, "scounteren", 0xFFFFFFFF)
        add(0x320, "mcountinhibit", lambda: self.mcountinhibit, self._write_inhibit)

        def counter_gate(bit: int):
            def gate(priv: int) -> bool:
                if priv == MACHINE:
                    return True
                if not self.mcounteren >> bit & 1:
                    return False
                return priv == SUPERVISOR or bool(self.scounteren >> bit & 1)
            return gate

        def low(which: int):
            return lambda: self.counter(which) & mask

        def high_half(which: int):
            return lambda: self.counter(which) >> 32 & 0xFFFFFFFF

        def write_low(which: int):
            def write(v: int) -> None:
                if high:
                    self.set_counter(which, (self.counter(which) & ~0xFFFFFFFF) | (v & 0xFFFFFFFF))
                else:
                    self.set_counter(which, v)
            return write

        def write_high(which: int):
            def write(v: int) -> None:
                self.set_counter(which, (self.counter(which) & 0xFFFFFFFF) | (v & 0xFFFFFFFF) << 32)
            return write

        for which, name in ((CY, "cycle"), (TM, "time"), (IR, "instret")):
            add(0xC00 + which, name, low(which), None, counter_gate(which))
            if high:
                add(0xC80 + which, name + "h", high_half(which), None, counter_gate(which))
        for which, name in ((CY, "mcycle"), (IR, "minstret")):
            add(0xB00 + which, name, low(which), write_low(which))
            if high:
                add(0xB80 + which, name + "h", high_half(which), write_high(which))
        for n in range(3, 32):
            add(0xC00 + n, f"hpmcounter{n}", zero, None, counter_gate(n))
            add(0xB00 + n, f"mhpmcounter{n}", zero, ignore)
            add(0x320 + n, f"mhpmevent{n}", zero, ignore)
            if high:
                add(0xC80 + n, f"hpmcounter{n}h", zero, None, counter_gate(n))
                add(0xB80 + n, f"mhpmcounter{n}h", zero, ignore)

        # physical memory protection (see :mod:`hybridvmm.isas.riscv.pmp`)
        pmp = m.pmp

        def write_pmp(fn, i):
            def write(v: int) -> None:
                fn(i, v)
                m.flush_translations()          # every context's PMP verdicts change
            return write

        for n in range(16):
            if not high and n % 2:
                continue
            add(0x3A0 + n, f"pmpcfg{n}", (lambda n=n: pmp.read_cfg(n)), write_pmp(pmp.write_cfg, n))
        for n in range(64):
            add(0x3B0 + n, f"pmpaddr{n}", (lambda n=n: pmp.read_addr(n)), write_pmp(pmp.write_addr, n))

        # triggers (Sdtrig): tselect exists and selects no trigger, so debuggers and the
        # riscv-tests find "no triggers" instead of an illegal instruction
        add(0x7A0, "tselect", zero, ignore)
        add(0x7A1, "tdata1", zero, ignore)
        add(0x7A2, "tdata2", zero, ignore)
        add(0x7A3, "tdata3", zero, ignore)
        add(0x7A4, "tinfo", lambda: 1)
        add(0x7A5, "tcontrol", zero, ignore)

    def _set_mip(self, value: int) -> None:
        self.mip = value

    def name(self, number: int) -> str:
        csr = self.table.get(number)
        return csr.name if csr is not None else f"0x{number:03x}"


__all__ = ["Csr", "CsrFile", "CY", "IR", "TM"]
