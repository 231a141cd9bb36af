"""The RISC-V machine: an RV32IMA + Zicsr + Zifencei hart with M, S and U modes and Sv32.

Physical memory
    Storage is the RAM: storage index 0 is physical ``RAM_BASE`` (0x8000_0000, QEMU virt's
    DRAM), and the RAM is as large as the storage (1 MiB unless told otherwise, rounded up
    to whole pages; a run's ``--ram``, see :mod:`hybridvmm.isas.riscv.platform`).  Physical
    addresses below it go to the devices of :mod:`hybridvmm.isas.riscv.devices` (test
    finisher, CLINT, PLIC, UART, virtio); any other physical address is an access fault.
    Instructions execute from RAM only.  ``read``/``write`` and
    ``hook_address`` take *storage* addresses (physical − RAM_BASE), as on every machine;
    ``read_physical``/``write_physical``/``storage_index`` take physical ones.

Build and state::

    from hybridvmm.isas import build_machine
    m = build_machine("rv32", image=load_program("rv32ui-p-add"))   # RAM sized for the ELF
    m.x             the 32 registers (x0 reads 0; mutate in place, never rebind)
    m.pc, m.priv    0 = U, 1 = S, 3 = M (``m.mode``: "user" / "supervisor" / "machine")
    m.csr           the CSR file (``m.csr.mstatus``, ``m.get_csr("mepc")``, ``m.set_csr(...)``)
    m.reservation   the LR/SC reservation (the physical address lr translated, or None)
    m.clint, m.plic, m.uart, m.virtio, m.htif    the devices (``m.virtio``: the eight
                    transports, a disk on the first; ``m.htif`` only for an ELF with ``tohost``)
    m.events        timed device events sharing the core countdown (:mod:`.events`)
    m.exit_code, m.exit_message   what the guest reported through HTIF or the test finisher

Execution is the core's: ``run``, ``step``, hooks, snapshots, ``trap_handler`` (see
:mod:`hybridvmm.machine.core`).  A trap is a :class:`~hybridvmm.machine.traps.Trap` whose
``cause`` is the mcause value (interrupts have the top bit set) and whose tval is
``fault_address`` when set, else ``code`` (the instruction bits of an illegal instruction).

Translation contexts
    A code-cache context is keyed by (priv, effective data privilege, satp when
    translation applies, SUM/MXR when data is translated).  Fetches translate when
    ``satp.MODE`` = Sv32 and priv < M; data accesses when that holds for the effective
    privilege (``mstatus.MPP`` while ``MPRV`` = 1 in M-mode).  Untranslated contexts are
    linear (``pbase``); translated ones record a physical address per translation.  Writes
    to ``satp`` and ``sfence.vma`` drop the translations and TLB entries made through page
    tables (:meth:`RiscvMachine.flush_virtual`); RISC-V requires ``sfence.vma`` after
    changing page tables, so stores to them need not.  The code cache is coherent with
    stores in every context, so ``fence.i`` has nothing to drop.  A miss translates the
    instruction and its straight-line successors in the same page (up to ``AHEAD``; none
    while a translate hook watches, so that it sees each address as it is reached).

Protection
    16 PMP entries (QEMU 7.2's count; ``pmp_entries=0`` for none): as on QEMU, S- and
    U-mode accesses need an entry that grants them, so firmware programs PMP before it
    drops below M (the riscv-tests do).  Sv32 sets A and D in the PTE itself
    (``hardware_ad=True``, QEMU 7.2 and Svadu) or raises page faults for software to set
    them (``hardware_ad=False``, spike and Svade).

Time
    ``mcycle``, ``minstret`` and ``mtime`` count retired instructions (an ``ecall`` or a
    fault does not retire), so a timer interrupt arrives at an exact instruction.  A ``wfi``
    that waits for the timer makes ``mtime`` jump to ``mtimecmp`` (:meth:`RiscvMachine.idle`):
    time is retired instructions plus the time spent waiting.

Traps
    Exact: xEPC = the faulting instruction (the ``ecall``/``ebreak`` itself; for an
    interrupt the next one), xCAUSE, xTVAL (the address for memory and misaligned-target
    faults and ``ebreak``, the instruction bits for illegal instructions, else 0),
    xPP/xPIE/xIE; exceptions in S/U whose ``medeleg`` bit is set, and interrupts whose
    ``mideleg`` bit is set, go to S-mode.  Trap entry clears the LR/SC reservation.
    Pending interrupts are taken by priority (MEI, MSI, MTI, SEI, SSI, STI) when enabled:
    M-level ones in M with ``MIE`` or below M; delegated ones in S with ``SIE`` or in U.

For a monitor or the classifier
    The semantics run against whatever hart they are given: a VM's hart is
    ``RiscvMachine(isa, storage=host.storage.window(base, size), share_registers_with=host)``;
    a probe prepares a state with ``set_state(x=..., pc=..., priv=..., csr={...})``, writes
    one instruction with ``write_physical``, sets ``trap_handler`` to record the trap instead
    of taking it, and calls ``step()``.  ``semantics={name: Semantic(...)}`` overrides
    instructions (a mutated machine).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Hashable

from hybridvmm.errors import DecodeError, UserError
from hybridvmm.image import Image
from hybridvmm.isa import ISA, Instruction, load_isa
from hybridvmm.isas.riscv.constants import (
    EXCEPTION_NAMES,
    ILLEGAL,
    INTERRUPT_NAMES,
    INTERRUPT_PRIORITY,
    MACHINE,
    MIE,
    MISALIGNED_FETCH,
    MODE_NAMES,
    MPIE,
    MPP,
    MPP_SHIFT,
    MPRV,
    MTI,
    MXR,
    PAGE_SIZE,
    RAM_BASE,
    SIE,
    SPIE,
    SPP,
    SUM,
    SUPERVISOR,
    TIMER_INTERRUPTS,
    USER,
    Xlen,
)
from hybridvmm.isas.riscv.csrs import TM, CsrFile
from hybridvmm.isas.riscv.devices import FOREVER, Bus, Clint, Htif, TestFinisher, Uart
from hybridvmm.isas.riscv.events import Events
from hybridvmm.isas.riscv.platform import configured as configure_platform, current as current_platform, describe
from hybridvmm.isas.riscv.plic import Plic
from hybridvmm.isas.riscv.virtio import transports
from hybridvmm.isas.riscv.mmu import MMIO_EXIT, SV32, SV39, Env, Geometry, Regime, Translation
from hybridvmm.isas.riscv.pmp import Pmp
from hybridvmm.isas.riscv.semantics import Semantic, semantic_for, semantics_for
from hybridvmm.machine.codecache import Context
from hybridvmm.machine.core import Machine
from hybridvmm.machine.storage import Storage
from hybridvmm.machine.traps import Trap, TrapSignal

if TYPE_CHECKING:
    from hybridvmm.isas.riscv.shadow import GuestLink
    from hybridvmm.machine.drive import Drive

DEFAULT_RAM = 1 << 20
REGISTERS = 32


DUMP_CSRS = ("mstatus", "misa", "medeleg", "mideleg", "mie", "mip", "mtvec", "mscratch", "mepc", "mcause", "mtval",
             "mcounteren", "stvec", "sscratch", "sepc", "scause", "stval", "satp", "scounteren",
             "pmpcfg0", "pmpcfg1", *(f"pmpaddr{i}" for i in range(8)))
"""The CSRs a register dump shows, where the hart has them (pmpcfg1 exists on RV32 only):
trap entry and return, delegation, interrupts, counters' enables, paging and the first
eight PMP entries.  The counters themselves are left out: they change with every
instruction."""


class RiscvMachine(Machine):
    """One RISC-V hart with its platform (see the module docstring)."""

    MODES = MODE_NAMES
    MODE_LABELS = {"machine": "M-mode", "supervisor": "S-mode", "user": "U-mode"}
    """How reports name the modes (the privileged spec's words)."""
    physical_base = RAM_BASE
    """The physical address of storage byte 0."""
    default_storage = DEFAULT_RAM
    platform = staticmethod(configure_platform)
    """``with RiscvMachine.platform(ram=..., drive=...):`` every hart built inside gets that
    RAM and its own copy of that disk (:mod:`hybridvmm.isas.riscv.platform`)."""
    memory_map = staticmethod(describe)
    """The devices and their addresses, as text lines (``info``, ``run --help``)."""

    def __init__(
        self,
        isa: ISA | str = "rv32",
        storage_size: int = DEFAULT_RAM,
        *,
        storage: Storage | None = None,
        share_registers_with: "RiscvMachine | None" = None,
        semantics: dict[str, Semantic] | None = None,
        hardware_ad: bool = True,
        pmp_entries: int = 16,
    ):
        isa = load_isa(isa) if isinstance(isa, str) else isa
        if "rv32" not in isa.lineage:
            raise UserError(f"{isa.name} is not a RISC-V ISA")
        if storage is None:
            storage = Storage(max(PAGE_SIZE, (storage_size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)))
        elif storage.size % PAGE_SIZE:
            raise UserError(f"RISC-V RAM must be whole pages (got 0x{storage.size:x} bytes)")
        super().__init__(isa, storage)
        self.xlen = Xlen(isa.word_bits)
        self.interrupt_bit = 1 << (self.xlen.bits - 1)
        self.cause_names = dict(EXCEPTION_NAMES)
        self.cause_names.update({self.interrupt_bit | c: n for c, n in INTERRUPT_NAMES.items()})
        self.cause_names[MMIO_EXIT] = "mmio-exit"
        self.hardware_ad = hardware_ad
        """Sv32 A/D bits: True sets them in the PTE during the walk (QEMU 7.2, Svadu);
        False raises a page fault instead, for software to set them (spike, Svade)."""
        self.x: list[int] = share_registers_with.x if share_registers_with is not None else [0] * REGISTERS
        self.idle_time = 0
        """Time that passed while ``wfi`` waited (``mtime`` = retired instructions + this)."""
        self.reservation: int | None = None
        """The physical address ``lr`` reserved (None: no reservation)."""
        self.tlbs: dict[Hashable, Translation] = {}
        """Translation-context key → its regimes and TLBs (what the hardware TLB holds)."""
        self.flush_listeners: list[Callable[[Hashable | None, int, int], None]] = []
        """Told ``(key, lo, hi)`` when the TLB entries of virtual ``[lo, hi)`` under context
        ``key`` are dropped, ``(key, 0, 0)`` when all of that context's are, ``(None, 0, 0)``
        when every translation is (a monitor keeps the host's compositions of this hart's
        mappings coherent this way)."""
        self.guest: "GuestLink | None" = None
        """When set, this hart runs that guest directly: its mappings are the guest's regime
        composed with the guest's window (:mod:`hybridvmm.isas.riscv.shadow`)."""
        self.pmp = Pmp(pmp_entries, self.xlen.bits)
        """Physical memory protection: QEMU's 16 entries by default, 0 for none."""
        self.device_words: set[int] = set()
        """Storage word indices backed by a device (HTIF): stores there run exactly."""
        self.events = Events(self)
        self.csr = CsrFile(self, self.xlen)
        self.clint = Clint(self)
        self.events.register(Clint.EVENT, self.clint.expired)
        self.plic = Plic(self)
        self.uart = Uart(self)
        self.finisher = TestFinisher(self)
        drive = current_platform().drive
        self.virtio = transports(self, drive.copy() if drive is not None else None)
        self.bus = Bus([self.finisher, self.clint, self.plic, self.uart, *self.virtio])
        self.htif: Htif | None = None
        self.symbols: dict[str, int] = {}
        """The loaded image's symbols (``tohost``, ``begin_signature`` …)."""
        self.reset_entry = RAM_BASE
        self.semantics = dict(semantics_for(self.xlen))
        if semantics:
            self.semantics.update(semantics)
        self._semantic: dict[str, Semantic] = {}
        """Instruction name → its entry of ``semantics`` (ordering suffixes resolved)."""
        missing = sorted(n for n in isa.instructions if semantic_for(self.semantics, n) is None)
        if missing:
            raise UserError(f"{isa.name}: no semantics for {', '.join(missing)}")
        self.reset(RAM_BASE)

    @property
    def drive(self) -> "Drive | None":
        """This hart's own copy of the disk (virtio0's), or None."""
        return self.virtio[0].drive

    @classmethod
    def storage_needed(cls, image: Image) -> int:
        """RAM bytes from RAM_BASE up to the image's highest address, or the configured
        platform's RAM (``--ram``) if that is more."""
        return max(0, image.high - RAM_BASE, current_platform().ram or 0)

    # --- physical memory ---------------------------------------------------------------
    def storage_index(self, paddr: int) -> int:
        """The storage address of physical ``paddr`` (ValueError outside RAM)."""
        o = paddr - RAM_BASE
        if not 0 <= o < self.storage.size:
            raise ValueError(f"physical address 0x{paddr:x} is not in RAM")
        return o

    def read_physical(self, paddr: int, length: int) -> bytes | None:
        """``length`` bytes of RAM at physical ``paddr`` (None if any is outside RAM)."""
        o = paddr - RAM_BASE
        if o < 0 or length < 0 or o + length > self.storage.size:
            return None
        return self.storage.read(o, length)

    def write_physical(self, paddr: int, data: bytes) -> None:
        """Write RAM at physical ``paddr`` (ValueError outside RAM); decoded code there is dropped."""
        o = paddr - RAM_BASE
        if o < 0 or o + len(data) > self.storage.size:
            raise ValueError(f"[0x{paddr:x}, 0x{paddr + len(data):x}) is not in RAM")
        self.storage.write(o, data)

    def physical_word(self, paddr: int) -> int | None:
        """The aligned 32-bit word at physical ``paddr`` if it is RAM."""
        return self.read_pte(paddr, 4)

    def read_pte(self, paddr: int, size: int) -> int | None:
        """The aligned ``size``-byte word at physical ``paddr`` if it is RAM (page-table walks)."""
        o = paddr - RAM_BASE
        if paddr & (size - 1) or not 0 <= o <= self.storage.size - size:
            return None
        return int.from_bytes(self.storage.read(o, size), "little")

    def write_pte(self, paddr: int, value: int, size: int) -> None:
        """Write a page-table entry (A/D updates); decoded code there is dropped."""
        self.storage.write(paddr - RAM_BASE, value.to_bytes(size, "little"))

    def load(self, image: Image, entry: int | None = None) -> None:
        """Copy an image's sections to their physical addresses in RAM, attach HTIF if it has
        a ``tohost`` symbol, and reset with pc at its entry."""
        for s in image.sections:
            o = s.address - RAM_BASE
            if o < 0 or o + len(s.data) > self.storage.size:
                raise UserError(
                    f"{image.source or 'image'}: section '{s.name}' [0x{s.address:x}, 0x{s.end:x}) is not in RAM "
                    f"[0x{RAM_BASE:x}, 0x{RAM_BASE + self.storage.size:x})"
                )
            self.storage.write(o, bytes(s.data))
        self.symbols = dict(image.symbols)
        if self.htif is not None:
            self.htif.close()
            self.htif = None
        tohost = self.symbols.get("tohost")
        if tohost is not None and self.read_physical(tohost, 8) is not None:
            fromhost = self.symbols.get("fromhost")
            if fromhost is not None and self.read_physical(fromhost, 8) is None:
                fromhost = None
            self.htif = Htif(self, tohost, fromhost)
        self.reset(image.entry if entry is None else entry)

    def guest_exit(self, code: int, message: str = "") -> None:
        """The guest ended the run with an outcome (0 = success)."""
        self.exit_code = code
        self.exit_message = message
        self.halted = True

    # --- state ----------------------------------------------------------------------------
    @property
    def user(self) -> bool:
        return self.priv == USER

    def reset(self, entry: int | None = None) -> None:
        """Power-on state: M-mode, registers and CSRs zero, timer off, pc = ``entry``."""
        self.x[:] = [0] * REGISTERS
        self.pc = RAM_BASE if entry is None else entry & self.xlen.mask
        self.reset_entry = self.pc
        self.priv = MACHINE
        self.halted = False
        self.exit_code = None
        self.exit_message = ""
        self.reservation = None
        self.idle_time = 0
        self.csr.reset()
        self.pmp.reset()
        self.events.reset()
        self.arm_countdown(0)
        self.clint.set_state({"msip": 0, "mtimecmp": (1 << 64) - 1})
        self.plic.reset()
        self.uart.reset()
        for transport in self.virtio:
            transport.reset()
        self.uart.input_changed()  # input already queued resumes its delivery
        self.flush_translations()

    @property
    def gprs(self) -> list[int]:
        return self.x

    @property
    def block_locals(self) -> tuple:
        """The registers, kept in locals by compiled blocks."""
        return (self.x,)

    def system_registers(self) -> dict[str, int]:
        """The CSRs of :data:`DUMP_CSRS` this hart has (``run --regs``, ``--json``)."""
        numbers = self.isa.csrs
        out = {}
        for name in DUMP_CSRS:
            if name in numbers:
                try:
                    out[name] = self.get_csr(numbers[name])
                except KeyError:  # named by the spec, absent at this XLEN
                    continue
        return out

    def get_csr(self, which: str | int) -> int:
        """A CSR's value by name or number, read as M-mode would (no side effects)."""
        return self._csr_entry(which).read()

    def set_csr(self, which: str | int, value: int) -> None:
        """Write a CSR as M-mode would (WARL legalisation and side effects included)."""
        entry = self._csr_entry(which)
        if entry.write is None:
            raise ValueError(f"CSR {entry.name} is read-only")
        entry.write(value & self.xlen.mask)

    def _csr_entry(self, which: str | int):
        table = self.csr.table
        if isinstance(which, int):
            entry = table.get(which)
        else:
            entry = next((c for c in table.values() if c.name == which), None)
        if entry is None:
            raise KeyError(f"no CSR {which!r}")
        return entry

    def set_state(self, *, x: Any = None, pc: int | None = None, priv: int | None = None,
                  csr: dict[str, int] | None = None) -> None:
        """Set registers (a sequence, or ``{number: value}``), pc, privilege and CSRs by name."""
        if x is not None:
            items = x.items() if isinstance(x, dict) else enumerate(x)
            for i, v in items:
                if i:
                    self.x[i] = v & self.xlen.mask
        if pc is not None:
            self.pc = pc & self.xlen.mask
        if priv is not None:
            if priv not in self.MODES:
                raise ValueError(f"no privilege level {priv}")
            self.priv = priv
        for name, value in (csr or {}).items():
            self.set_csr(name, value)
        self._remap()

    def cpu_state(self) -> dict[str, Any]:
        c = self.csr
        stored = {name: getattr(c, name) for name in ("mstatus", "medeleg", "mideleg", "mie", "mip", "mtvec",
                                                      "stvec", "mscratch", "sscratch", "mepc", "sepc", "mcause",
                                                      "scause", "mtval", "stval", "satp", "mcounteren",
                                                      "scounteren", "mcountinhibit", "menvcfg", "senvcfg")}
        return {
            "x": list(self.x), "pc": self.pc, "priv": self.priv, "csr": stored,
            "counter_offset": list(c.counter_offset), "counter_frozen": list(c.counter_frozen),
            "reservation": self.reservation, "clint": self.clint.state(), "uart": self.uart.state(),
            "plic": self.plic.state(), "virtio": self.virtio[0].state(), "events": self.events.state(),
            "pmp": self.pmp.state(),
            "countdown": self.countdown, "exit_code": self.exit_code, "exit_message": self.exit_message,
        }

    def set_cpu_state(self, state: dict[str, Any]) -> None:
        c = self.csr
        self.x[:] = list(state["x"])
        self.pc, self.priv = state["pc"], state["priv"]
        for name, value in state["csr"].items():
            setattr(c, name, value)
        c.counter_offset = list(state["counter_offset"])
        c.counter_frozen = list(state["counter_frozen"])
        self.reservation = state["reservation"]
        self.clint.set_state(state["clint"])
        self.uart.set_state(state["uart"])
        self.plic.set_state(state["plic"])
        self.virtio[0].set_state(state["virtio"])
        self.events.set_state(state["events"])
        self.pmp.set_state(state["pmp"])
        self.arm_countdown(state["countdown"])
        self.exit_code, self.exit_message = state["exit_code"], state["exit_message"]
        self.flush_translations()

    def psw_summary(self) -> dict[str, Any]:
        c = self.csr
        return {"pc": self.pc, "mode": self.mode, "mstatus": c.mstatus, "mcause": c.mcause, "mepc": c.mepc,
                "mtval": c.mtval, "scause": c.scause, "sepc": c.sepc, "satp": c.satp}

    # --- traps and interrupts -----------------------------------------------------------
    def trap_value(self, trap: Trap) -> int:
        """What trap entry writes to xTVAL for ``trap``: the faulting address, the
        instruction bits of an illegal instruction, else 0."""
        if trap.fault_address is not None:
            return trap.fault_address & self.xlen.mask
        return 0 if trap.cause & self.interrupt_bit else trap.code & self.xlen.mask

    def _delegated(self, trap: Trap) -> bool:
        """Is ``trap``, taken now, delegated to S-mode?"""
        c = self.csr
        interrupt = bool(trap.cause & self.interrupt_bit)
        code = trap.cause & ~self.interrupt_bit
        return self.priv <= SUPERVISOR and bool((c.mideleg if interrupt else c.medeleg) >> code & 1)

    def trap_target(self, trap: Trap) -> str:
        """The mode ``trap``, taken now, enters (``supervisor`` if delegated, else ``machine``)."""
        return self.MODES[SUPERVISOR if self._delegated(trap) else MACHINE]

    def _deliver(self, trap: Trap) -> None:
        """Trap entry: to S-mode if delegated there, else to M-mode."""
        c, mask = self.csr, self.xlen.mask
        cause = trap.cause
        interrupt = bool(cause & self.interrupt_bit)
        code = cause & ~self.interrupt_bit
        tval = self.trap_value(trap)
        priv = self.priv
        ms = c.mstatus
        self.reservation = None
        if self._delegated(trap):
            c.scause, c.sepc, c.stval = cause, trap.pc & mask & ~3, tval
            ms = (ms & ~(SPP | SPIE | SIE)) | (SPP if priv == SUPERVISOR else 0) | (SPIE if ms & SIE else 0)
            self.priv, tvec = SUPERVISOR, c.stvec
        else:
            c.mcause, c.mepc, c.mtval = cause, trap.pc & mask & ~3, tval
            ms = (ms & ~(MPP | MPIE | MIE)) | priv << MPP_SHIFT | (MPIE if ms & MIE else 0)
            self.priv, tvec = MACHINE, c.mtvec
        c.mstatus = ms
        base = tvec & ~3
        self.pc = base + 4 * code if interrupt and tvec & 1 else base
        self._remap()

    def trap_return(self, level: int) -> int:
        """``mret`` (level M) or ``sret`` (level S): restore the interrupt enable and the
        privilege saved at trap entry; returns the pc to resume at (xEPC)."""
        c = self.csr
        ms = c.mstatus
        if level == MACHINE:
            new = ms >> MPP_SHIFT & 3
            ms = (ms & ~(MPP | MIE)) | (MIE if ms & MPIE else 0) | MPIE
            pc = c.mepc
        else:
            new = SUPERVISOR if ms & SPP else USER
            ms = (ms & ~(SPP | SIE)) | (SIE if ms & SPIE else 0) | SPIE
            pc = c.sepc
        if new != MACHINE:
            ms &= ~MPRV
        c.mstatus = ms
        self.priv = new
        self._remap()
        return pc

    def flush_virtual(self, vaddr: int | None = None) -> None:
        """``sfence.vma``/``satp``: forget what was translated through page tables — all of
        it, or only the page (the whole superpage, if one mapped it) holding ``vaddr`` —
        code and TLB alike.  Untranslated contexts (M-mode code, bare mode) keep theirs."""
        if vaddr is None:
            for key in [k for k, t in self.tlbs.items() if t.paged]:
                del self.tlbs[key]
                self.code.drop_context(key)
                self._notify_flush(key, 0, 0)
        else:
            for key, translation in self.tlbs.items():
                if not translation.paged:
                    continue
                lo, hi = translation.page_range(vaddr)
                translation.drop(lo, hi)
                if translation.fetch is not None:
                    self.code.drop_virtual(key, lo, hi)
                self._notify_flush(key, lo, hi)
        self._remap()

    def flush_translations(self) -> None:
        """Forget every translation and TLB entry (PMP changed, or the state was replaced)."""
        self.tlbs.clear()
        super().flush_translations()
        self._notify_flush(None, 0, 0)

    def close(self) -> None:
        """Discard the hart (see :meth:`Machine.close`): its TLBs, CSR table, devices and
        listeners refer back to it, so they are let go too."""
        super().close()
        self.tlbs.clear()
        self.csr.table.clear()
        if self.htif is not None:
            self.htif.close()
        self.bus.devices = []
        self.console.receiver = None
        self.events.actions.clear()
        self.flush_listeners.clear()
        self.guest = None

    def _notify_flush(self, key: Hashable | None, lo: int, hi: int) -> None:
        for fn in self.flush_listeners:
            fn(key, lo, hi)

    def idle(self) -> None:
        """``wfi``: wait for an interrupt.  Nothing retires while a hart waits, but time
        passes: if no interrupt is pending and the machine timer is armed and enabled, time
        jumps to the timer event (``mtime`` reads ``mtimecmp`` once the ``wfi`` completes),
        so the interrupt is pending at the next boundary.  Deterministic, and the same on
        the bare machine and under a monitor: neither spins through an idle loop."""
        c = self.csr
        if c.mip & c.mie or not c.mie >> MTI & 1:
            return
        clint = self.clint
        now = clint.mtime() + 1          # what mtime reads once this wfi completes
        if now >= clint.mtimecmp or clint.mtimecmp - now >= FOREVER:
            return
        self.idle_time += clint.mtimecmp - now
        c.set_counter(TM, clint.mtimecmp)

    def status_changed(self) -> None:
        """mstatus was written: MPP legalised, the data mapping (MPRV, SUM, MXR) may differ."""
        c = self.csr
        if c.mstatus >> MPP_SHIFT & 3 == 2:                # no H-mode: MPP is WARL, 2 reads as U
            c.mstatus &= ~MPP
        self._remap()

    def _expired(self) -> None:
        if not self.events.expired():
            self.clint.expired()  # armed directly, not by a device: a monitor's real timer

    def _interrupt_due(self) -> Trap | None:
        c = self.csr
        pending = c.mip & c.mie
        if not pending:
            return None
        priv, ms, deleg = self.priv, c.mstatus, c.mideleg
        m_level = pending & ~deleg if priv < MACHINE or ms & MIE else 0
        s_level = pending & deleg if priv < SUPERVISOR or (priv == SUPERVISOR and ms & SIE) else 0
        ready = m_level or s_level
        if not ready:
            return None
        code = next(i for i in INTERRUPT_PRIORITY if ready >> i & 1)
        if code in TIMER_INTERRUPTS:
            self.stats.timer_interrupts += 1
        cause = self.interrupt_bit | code
        return Trap(cause, self.cause_names[cause], self.pc, self.pc, interrupt=True)

    # --- translation --------------------------------------------------------------------
    def _context_key(self) -> Hashable:
        if self.guest is not None:
            return self.guest.key()
        return self.translation_key()

    def translation_key(self) -> tuple:
        """The key of the current translation context: (priv, effective data privilege, satp
        when translation applies, SUM/MXR when data is translated, fetch paged, data paged)."""
        c, priv = self.csr, self.priv
        ms = c.mstatus
        data_priv = ms >> MPP_SHIFT & 3 if priv == MACHINE and ms & MPRV else priv
        on = self.paging_geometry(c.satp) is not None
        fetch_paged = bool(on and priv < MACHINE)
        data_paged = bool(on and data_priv < MACHINE)
        return (priv, data_priv, c.satp if fetch_paged or data_paged else 0,
                ms & (SUM | MXR) if data_paged else 0, fetch_paged, data_paged)

    def paging_geometry(self, satp: int) -> Geometry | None:
        """The page-table format ``satp`` selects (None: bare, no translation)."""
        fmt = self.csr.satp_format
        if fmt.mode(satp) != fmt.paged_mode:
            return None
        return SV32 if self.xlen.bits == 32 else SV39

    def translation(self, key: tuple) -> Translation:
        """The regimes and TLBs of translation context ``key`` (made on first use)."""
        t = self.tlbs.get(key)
        if t is None:
            t = self.tlbs[key] = Translation(*self.regimes(key))
        return t

    def regimes(self, key: tuple) -> tuple[Regime | None, Regime | None]:
        """Fresh regimes (fetch, data) of translation context ``key``, remembered nowhere
        (a debugger's look through the guest's mapping must not fill its TLBs)."""
        priv, data_priv, satp, sum_mxr, fetch_paged, data_paged = key
        if not (fetch_paged or data_paged):
            return None, None
        geometry = self.paging_geometry(satp)
        root = self.csr.satp_format.root(satp)
        fetch = Regime(self, root, geometry, priv, False, False) if fetch_paged else None
        data = Regime(self, root, geometry, data_priv, bool(sum_mxr & SUM), bool(sum_mxr & MXR)) if data_paged else None
        return fetch, data

    def _new_context(self, key: Hashable) -> Context:
        if self.guest is not None and key == self.guest.key():
            return self.guest.compose(self, key)
        priv, data_priv = key[0], key[1]  # type: ignore[index]
        env = Env(self, self.translation(key), priv, data_priv)  # type: ignore[arg-type]
        return Context(key, None if key[4] else self.storage.offset - RAM_BASE, env)  # type: ignore[index]

    AHEAD = 15
    """Straight-line instructions translated together with the one missed: the riscv-tests
    run most instructions once, and a miss in the hot loop costs more than translating."""

    def _translate(self, ctx: Context, vaddr: int) -> None:
        ins = self._translate_one(ctx, vaddr)
        if self.hooks.translate or ins.flow != "none":
            return  # a translate hook sees each address when it is reached, not before
        insns = ctx.insns
        end = (vaddr | 0xFFF) - 3  # the same page: the same mapping and fetch permission
        for _ in range(self.AHEAD):
            vaddr += 4
            if vaddr > end or vaddr in insns:
                return
            try:
                ins = self._translate_one(ctx, vaddr)
            except TrapSignal:  # not an instruction after all: it faults when (if) it is reached
                return
            if ins.flow != "none":
                return

    def _translate_one(self, ctx: Context, vaddr: int) -> Instruction:
        env: Env = ctx.env
        if vaddr & 3:
            raise TrapSignal(MISALIGNED_FETCH, vaddr, vaddr, fault_address=vaddr)
        root = env.storage.offset + env.fetch_index(vaddr)
        mem, at = self.storage.data, root
        if self.code_view is not None:
            alt = self.code_view(root)
            if alt is not None:
                mem, at = alt, 0
        word = int.from_bytes(mem[at:at + 4], "little")
        ins = _PLACED.get((self.isa.name, vaddr, word))
        if ins is None:
            ins = self._decode(word, vaddr)
        sem = self._semantic.get(ins.spec.name)
        if sem is None:
            sem = self._semantic[ins.spec.name] = semantic_for(self.semantics, ins.spec.name)
        exact = sem.factory(self, ins, env)
        entry = sem.entry(self, ins, exact) if sem.entry is not None else None
        self._install(ctx, vaddr, ins, exact, sem.system, paddr=root, entry=entry)
        return ins

    def _decode(self, word: int, vaddr: int) -> Instruction:
        """The instruction ``word`` sitting at ``vaddr``.  Every RISC-V instruction is one
        32-bit word, so decodings are cached by word (construct costs ~15 µs a parse), and
        the instruction at an address by (address, word), shared by every machine: the
        riscv-tests translate most instructions once per machine, the same code at the same
        addresses in many machines."""
        key = (self.isa.name, word)
        hit = _DECODED.get(key)
        raw = word.to_bytes(4, "little")
        if hit is None:
            try:
                ins = self.decoder.decode(raw, vaddr)
            except DecodeError:
                raise TrapSignal(ILLEGAL, vaddr, vaddr, word) from None
            if len(_DECODED) >= _DECODED_LIMIT:
                _DECODED.clear()
            pcrel = ins.target is not None
            _DECODED[key] = (ins.spec, ins.operands, ins.flow, (ins.target - vaddr) if pcrel else None)
        else:
            spec, operands, flow, offset = hit
            target = None if offset is None else (vaddr + offset) & self.xlen.mask
            ins = Instruction(spec, vaddr, raw, operands, flow, target)
        if len(_PLACED) >= _DECODED_LIMIT:
            _PLACED.clear()
        _PLACED[(self.isa.name, vaddr, word)] = ins
        return ins


_DECODED: dict[tuple[str, int], tuple] = {}
"""(ISA name, instruction word) → (spec, operands, flow, target offset): decodings shared by
every machine (they do not depend on the address but for the target)."""
_PLACED: dict[tuple[str, int, int], Instruction] = {}
"""(ISA name, address, word) → the decoded instruction there, shared (never mutated)."""
_DECODED_LIMIT = 1 << 16
