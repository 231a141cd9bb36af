"""RISC-V's virtualization model: guest M, S and U all deprivileged, over a composed mapping.

A VM's guest code — machine, supervisor and user alike — runs directly on the host hart in
real U-mode (the modes that run directly are the monitor mode's choice: all of them in
``pure``, only virtual U in ``hybrid``).  So every CSR access, ``mret``/``sret``/``wfi``/
``sfence.vma``, ``ecall``/``ebreak`` and every fault leaves the host, and the dispatcher
re-executes the instruction on the VM's *virtual hart* — a
:class:`~hybridvmm.isas.riscv.machine.RiscvMachine` over the VM's window that shares the
host's registers — with the same semantics against the guest's own CSRs, privilege, PMP
and devices: exact ``mcause``/``mepc``/``mtval``/``stval``, delegation, TVM/TSR/TW, and
MPRV (a guest in M with MPRV set is interpreted, never run directly).

Memory is the composed mapping of :mod:`hybridvmm.isas.riscv.shadow`: the guest's regime
for its virtual privilege, then its window; devices are never mapped, so MMIO exits and is
performed on the VM's own CLINT, UART, HTIF or test finisher.  A host PMP entry covers the
windows (and nothing else) for U-mode.

Counters.  With ``counters="trap"`` (the default) the monitor clears the host's
``mcounteren``/``scounteren`` whenever a guest runs, so every counter read traps and is
served from the virtual hart: ``cycle``/``time`` are the guest's retired instructions (plus
time waited in ``wfi``), ``instret`` is exact.  ``counters="passthrough"`` leaves the
guest's enables on the host, as a monitor that forgot them would: a guest that reads
``time`` in U then reads the *host's* counter — Theorem 1's condition on RISC-V, shown by
running (``guest:rvcounters``).

A world switch saves the registers (the only state the VMs share with the host); each
VM's CSRs, devices, timer and reservation live in its virtual hart.  The virtual timer is
the virtual hart's CLINT: the host's real timer is armed for the VM's next timer event or
the end of its slice, whichever comes first, so the guest's interrupt arrives at the same
guest instruction as on the bare machine.
"""

from __future__ import annotations

from typing import Hashable

from hybridvmm.errors import UserError
from hybridvmm.isa import ISA, Instruction
from hybridvmm.isas.riscv.constants import (
    BREAKPOINT,
    ECALL_U,
    ILLEGAL,
    MACHINE,
    MPRV,
    MTI,
    PAGE_SIZE,
    RAM_BASE,
    USER,
)
from hybridvmm.isas.riscv.machine import RiscvMachine
from hybridvmm.isas.riscv.mmu import FETCH, MMIO_EXIT, Regime
from hybridvmm.isas.riscv.pmp import A_SHIFT, R as PMP_R, TOR, W as PMP_W, X as PMP_X
from hybridvmm.isas.riscv.semantics import base_name
from hybridvmm.isas.riscv.shadow import GuestLink, window_granted
from hybridvmm.machine.storage import Storage
from hybridvmm.machine.traps import Trap

COUNTER_POLICIES = ("trap", "passthrough")
"""What the monitor does with the host's counter enables while a guest runs."""

ALWAYS_TRAP = frozenset({"ecall", "ebreak", "mret", "sret", "wfi", "sfence.vma"})
"""Instructions that trap in U-mode whatever their operands."""
CSR_OPS = frozenset({"csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci"})
EXIT_NAMES = {"mret": "xret", "sret": "xret", "wfi": "wfi", "sfence.vma": "sfence.vma"}


def _counter(number: int) -> int | None:
    """The counter bit (0-31) a user-level counter CSR reads, or None."""
    if 0xC00 <= number < 0xC20 or 0xC80 <= number < 0xCA0:
        return number & 31
    return None


class PagedSpace:
    """Where a RISC-V guest's code lies for the lazy scanner: its fetch mapping, read through
    the guest's page tables without side effects (no A/D updates)."""

    def __init__(self, vcpu: RiscvMachine):
        priv, _, satp, _, fetch_paged, _ = vcpu.translation_key()
        self.size = vcpu.storage.size
        self.bits = vcpu.xlen.bits
        self.regime: Regime | None = None
        if fetch_paged:
            geometry = vcpu.paging_geometry(satp)
            self.regime = Regime(vcpu, vcpu.csr.satp_format.root(satp), geometry, priv, False, False)
            self.key: Hashable = ("paged", priv == USER, satp)
            self.name = f"{geometry.name} space of satp 0x{satp:x}, {'U' if priv == USER else 'S'}-mode fetches"
        else:
            self.key = ("bare",)
            self.name = "physical addresses (no translation)"

    def translate(self, vaddr: int) -> int | None:
        pa = vaddr if self.regime is None else self.regime.peek(vaddr, FETCH)
        if pa is None:
            return None
        o = pa - RAM_BASE
        return o if 0 <= o < self.size else None

    def regions(self) -> list[tuple[int, int]]:
        if self.regime is None:
            return [(RAM_BASE, RAM_BASE + self.size)]
        return [(0, 1 << self.bits)]

    def page_size(self) -> int:
        return PAGE_SIZE


class RiscvVirt:
    """The monitor backend for RISC-V (see the module docstring)."""

    def __init__(self, isa: ISA, counters: str = "trap"):
        if counters not in COUNTER_POLICIES:
            raise UserError(f"unknown counter policy '{counters}' (policies: {', '.join(COUNTER_POLICIES)})")
        self.isa = isa
        self.counters = counters
        self._links: dict[int, GuestLink] = {}

    def exposed_forms(self) -> tuple[str, ...]:
        """Instruction forms this configuration leaves user-sensitive and unprivileged (for
        the theory's predictions): the counter reads (``csrr``, i.e. ``csrrs`` with x0, and
        the other read forms alike), when the counters pass through."""
        if self.counters == "trap":
            return ()
        return tuple(f"csrrs@{counter}" for counter in ("cycle", "time", "instret", "cycleh", "timeh", "instreth"))

    # --- machines ------------------------------------------------------------------------------
    def new_host(self, storage_size: int, windows: list[tuple[int, int]]) -> RiscvMachine:
        """The real hart: its RAM holds every window; one PMP entry (TOR, with entry 0 as
        its base) lets U-mode reach the windows and nothing else — not the monitor's area
        below them, not the devices."""
        host = RiscvMachine(self.isa, storage_size)
        host.code.max_contexts = 256  # a composition per guest context of every VM
        lo = min(offset for offset, _ in windows)
        hi = max(offset + size for offset, size in windows)
        host.pmp.write_addr(0, (RAM_BASE + lo) >> 2)
        host.pmp.write_addr(1, (RAM_BASE + hi + 3) >> 2)
        host.pmp.write_cfg(0, (TOR << A_SHIFT | PMP_R | PMP_W | PMP_X) << 8)
        host.flush_translations()
        host.csr.mie = 1 << MTI  # the monitor's real timer
        return host

    def new_vcpu(self, host: RiscvMachine, window: Storage, vm_id: int) -> RiscvMachine:
        """VM ``vm_id``'s virtual hart over ``window``: its own CSRs, PMP, devices and
        console, the host's registers."""
        vcpu = RiscvMachine(self.isa, storage=window, share_registers_with=host, hardware_ad=host.hardware_ad)
        if not window_granted(host, window.offset, window.size):
            raise RuntimeError(f"the host's PMP does not cover VM {vm_id}'s window")
        self._links[id(vcpu)] = GuestLink(vm_id, vcpu, host)
        return vcpu

    def close_vcpu(self, host: RiscvMachine, vcpu: RiscvMachine) -> None:
        link = self._links.pop(id(vcpu), None)
        if link is not None:
            link.close()
            if host.guest is link:
                host.guest = None

    def composition_stats(self, vcpu: RiscvMachine) -> dict[str, int]:
        """What the composed mapping cost the VM of ``vcpu`` (built, dropped, refills …)."""
        link = self._links.get(id(vcpu))
        return link.stats.as_dict() if link is not None else {}

    # --- entering and leaving ---------------------------------------------------------------------
    def enter(self, host: RiscvMachine, vcpu: RiscvMachine, countdown: int) -> None:
        """Real U-mode, the guest's regime composed with its window, the guest's reservation,
        the counter enables as the policy says, the real timer armed for ``countdown``."""
        host.guest = self._links[id(vcpu)]
        host.priv = USER
        host.halted = False
        host.pc = vcpu.pc
        host.reservation = vcpu.reservation
        c = host.csr
        if self.counters == "trap":
            c.mcounteren = c.scounteren = 0
        else:
            c.mcounteren, c.scounteren = vcpu.csr.mcounteren, vcpu.csr.scounteren
        c.mip = 0
        host.refresh_mapping()
        host.arm_countdown(countdown)

    def leave(self, host: RiscvMachine, vcpu: RiscvMachine) -> None:
        """The monitor has the CPU: the real timer stops; the reservation (the one piece of
        guest state the host held) goes back to the virtual hart."""
        vcpu.reservation = host.reservation
        host.csr.mip = 0
        host.arm_countdown(0)

    def save(self, host: RiscvMachine) -> list[int]:
        return list(host.x)

    def restore(self, host: RiscvMachine, world: list[int]) -> None:
        host.x[:] = world

    # --- what runs directly, and what traps ----------------------------------------------------------
    def may_run_directly(self, vcpu: RiscvMachine) -> bool:
        """Not while a guest M-mode sets MPRV: its loads and stores would need another
        privilege's translation than its fetches (it is interpreted until it clears it)."""
        return not (vcpu.priv == MACHINE and vcpu.csr.mstatus & MPRV)

    def code_space(self, vcpu: RiscvMachine) -> PagedSpace:
        return PagedSpace(vcpu)

    def traps_directly(self, host: RiscvMachine, vcpu: RiscvMachine, ins: Instruction) -> bool:
        """Every privileged instruction traps in U-mode; a CSR access does unless it is a read
        of a user counter that the host's enables (the policy's, for this guest) allow."""
        name = base_name(ins.spec.name)
        if name in ALWAYS_TRAP:
            return True
        if name not in CSR_OPS:
            return False
        number = ins.operands["csr"]
        source = ins.operands.get("zimm", ins.operands.get("rs1", 0))
        writes = name in ("csrrw", "csrrwi") or source != 0
        bit = _counter(number)
        if bit is None or writes or self.counters == "trap" or host.csr.table.get(number) is None:
            return True
        c = vcpu.csr
        return not (c.mcounteren >> bit & 1 and c.scounteren >> bit & 1)

    def handle_exit(self, vm, trap: Trap) -> None:
        """No family-specific handling: SBI is the guest's own firmware, run in virtual M
        (exact equivalence with the bare machine), not answered by the monitor."""
        return None

    def exit_cause(self, vm, trap: Trap) -> str:
        """``timer``, ``csr``, ``xret``, ``wfi``, ``sfence.vma``, ``ecall``, ``ebreak``,
        ``mmio``, ``illegal``, or ``fault`` (a page, access or misaligned fault the guest
        takes itself)."""
        if trap.interrupt:
            return "timer"
        cause = trap.cause
        if cause == MMIO_EXIT:
            return "mmio"
        if cause == ECALL_U:
            return "ecall"
        if cause == BREAKPOINT:
            return "ebreak"
        if cause == ILLEGAL:
            name = base_name(trap.instruction or "")
            if name in CSR_OPS:
                return "csr"
            return EXIT_NAMES.get(name, "illegal")
        return "fault"

    def host_escapes(self, host: RiscvMachine, window: Storage) -> bool:
        """Resource control: the second stage must be this window, reachable from U-mode,
        with the host in U-mode."""
        link = host.guest
        if link is None or host.priv != USER:
            return True
        st = link.vcpu.storage
        if (st.offset, st.size) != (window.offset, window.size):
            return True
        regions = host.pmp.regions  # replaced whenever PMP changes: check again only then
        if link.checked_pmp is not regions:
            link.granted = window_granted(host, window.offset, window.size)
            link.checked_pmp = regions
        return not link.granted
