"""Address translation: page-table regimes, per-context TLBs, and the storage environment handlers bake in.

A :class:`Regime` is one page-table translation regime (a root table, the effective
privilege, SUM, MXR) of one :class:`Geometry` — Sv32 and Sv39 are the same walk with other
parameters (levels, VPN bits, PTE size, virtual-address width), as QEMU's
``get_physical_address`` switches on them.  :meth:`Regime.walk` is the privileged spec's
algorithm, with the right exception for every failure: a PTE that cannot be read is an
*access* fault of the original access type; an invalid, reserved (W without R, or Sv39's
reserved high bits, or D/A/U in a pointer to the next level), non-permitted, misaligned-superpage or (with ``hardware_ad`` off)
A/D-clear leaf, and a non-canonical Sv39 address, are *page* faults.  With ``hardware_ad``
on (the default, as QEMU 7.2 and Svadu do) the walker sets A, and D for a store, in the PTE.
The page tables are read through the hart that owns them (``tables``): its physical memory,
its PMP and its A/D policy.  Under a monitor that is the guest's virtual hart, so the walk
is exactly the bare machine's.

A :class:`Translation` is what a bare machine's TLB holds for one translation context (one
context key): the fetch and data regimes and the TLBs ``vpn → storage index of the page``
for loads, stores and fetches.  It lives as long as the bare machine's TLB entries do —
until ``satp`` is written, ``sfence.vma`` drops it (or one page of it), or PMP changes.

An :class:`Env` is what the handlers of one code-cache context bake in: views of storage
for aligned accesses, the code marks, the translation, and the slow paths
(``load``/``store``/``amo``) that handle everything else: misaligned accesses (performed byte
by byte, as QEMU does), TLB misses, MMIO (only with the exact state: from the hot loop they
raise :class:`SyncSignal` first), faults, and stores over marked words (decoded code,
device words such as HTIF's ``tohost``).

A *composed* Env (``exits=True``) is the one a host builds to run a guest directly: its
storage is the guest's window, its translation the guest's own (shared with the guest's
virtual hart, so both see one TLB, as the bare machine would), its PMP the guest's at the
guest's privileges.  It maps no device: every access outside the window's RAM, and every
store to a device word, raises :data:`MMIO_EXIT` for the monitor, which performs the
access on the VM's own devices.

Storage indices are relative to the Env's storage (index 0 = physical ``RAM_BASE``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from hybridvmm.isas.riscv.constants import (
    FETCH_ACCESS,
    FETCH_PAGE,
    LOAD_ACCESS,
    LOAD_PAGE,
    MISALIGNED_LOAD,
    MISALIGNED_STORE,
    PTE_A,
    PTE_D,
    PTE_R,
    PTE_U,
    PTE_V,
    PTE_W,
    PTE_X,
    RAM_BASE,
    STORE_ACCESS,
    STORE_PAGE,
    SUPERVISOR,
    USER,
)
from hybridvmm.isas.riscv.pmp import R as PMP_R, W as PMP_W, X as PMP_X, Pmp
from hybridvmm.machine.storage import WORD_VIEW, Storage
from hybridvmm.machine.traps import SyncSignal, TrapSignal

if TYPE_CHECKING:
    from hybridvmm.isas.riscv.machine import RiscvMachine

FETCH, LOAD, STORE = 0, 1, 2
ACCESS_FAULT = {FETCH: FETCH_ACCESS, LOAD: LOAD_ACCESS, STORE: STORE_ACCESS}
PAGE_FAULT = {FETCH: FETCH_PAGE, LOAD: LOAD_PAGE, STORE: STORE_PAGE}

MMIO_EXIT = 24
"""The cause a composed Env raises for an access the monitor must perform (a device, or
memory outside the guest's RAM): in mcause's range for custom use, so it can never be
mistaken for a trap the guest could see."""


@dataclass(frozen=True)
class Geometry:
    """The shape of a page-table format."""

    name: str
    levels: int
    vpn_bits: int
    pte_bytes: int
    va_bits: int
    reserved_high: int = 0
    """PTE bits that must be zero in a valid PTE (Sv39: 63..54 without Svnapot/Svpbmt)."""

    def leaf_span(self, level: int) -> int:
        """Bytes a leaf at ``level`` maps (level 0: a 4 KiB page)."""
        return 1 << (12 + self.vpn_bits * level)


SV32 = Geometry("Sv32", 2, 10, 4, 32)
SV39 = Geometry("Sv39", 3, 9, 8, 39, reserved_high=0x3FF << 54)


class Regime:
    """One page-table translation regime (see the module docstring)."""

    __slots__ = ("tables", "root", "geometry", "priv", "sum", "mxr", "superpages")

    def __init__(self, tables: "RiscvMachine", root: int, geometry: Geometry, priv: int, sum_: bool, mxr: bool):
        self.tables = tables
        self.root = root
        self.geometry = geometry
        self.priv = priv
        self.sum = sum_
        self.mxr = mxr
        self.superpages: dict[int, set[int]] = {}
        """Level → the ``va >> span`` of every superpage leaf this regime translated through
        (a shootdown of one of its pages drops the whole superpage)."""

    def walk(self, va: int, access: int, pc: int) -> int:
        """The physical address of ``va`` for ``access`` (FETCH, LOAD, STORE), or TrapSignal."""
        pa, pte_pa, pte, level = self._find(va, access, pc)
        need = PTE_A | (PTE_D if access == STORE else 0)
        if pte & need != need:
            m = self.tables
            if not m.hardware_ad:
                raise TrapSignal(PAGE_FAULT[access], pc, pc, 0, None, va)
            if not m.pmp.check(pte_pa, self.geometry.pte_bytes, PMP_W, SUPERVISOR):
                raise TrapSignal(ACCESS_FAULT[access], pc, pc, 0, None, va)
            m.write_pte(pte_pa, pte | need, self.geometry.pte_bytes)
        if level:
            self.superpages.setdefault(level, set()).add(va >> (12 + self.geometry.vpn_bits * level))
        return pa

    def peek(self, va: int, access: int = FETCH) -> int | None:
        """The physical address ``va`` translates to for ``access`` without any side effect
        (no A/D update, nothing recorded): None where the access would fault, or where it
        would need A/D set that ``hardware_ad`` would not set.  For scanners and debuggers."""
        try:
            pa, pte_pa, pte, _ = self._find(va, access, 0)
        except TrapSignal:
            return None
        need = PTE_A | (PTE_D if access == STORE else 0)
        if pte & need != need:
            m = self.tables
            if not m.hardware_ad or not m.pmp.check(pte_pa, self.geometry.pte_bytes, PMP_W, SUPERVISOR):
                return None
        return pa

    def _find(self, va: int, access: int, pc: int) -> tuple[int, int, int, int]:
        """(physical address, PTE address, PTE, leaf level) of ``va``, every check but A/D done."""
        g, m = self.geometry, self.tables
        bits, size = g.vpn_bits, g.pte_bytes
        if g.va_bits < m.xlen.bits:
            top = va >> (g.va_bits - 1)
            if top != 0 and top != (1 << (m.xlen.bits - g.va_bits + 1)) - 1:
                raise TrapSignal(PAGE_FAULT[access], pc, pc, 0, None, va)
        index_mask = (1 << bits) - 1
        a, level = self.root, g.levels - 1
        while True:
            pte_pa = a + ((va >> (12 + bits * level)) & index_mask) * size
            pte = m.read_pte(pte_pa, size)
            if pte is None or not m.pmp.check(pte_pa, size, PMP_R, SUPERVISOR):
                raise TrapSignal(ACCESS_FAULT[access], pc, pc, 0, None, va)
            if not pte & PTE_V or (pte & PTE_W and not pte & PTE_R) or pte & g.reserved_high:
                raise TrapSignal(PAGE_FAULT[access], pc, pc, 0, None, va)
            if pte & (PTE_R | PTE_X):
                break
            if pte & (PTE_D | PTE_A | PTE_U):     # reserved in a pointer to the next level
                raise TrapSignal(PAGE_FAULT[access], pc, pc, 0, None, va)
            level -= 1
            if level < 0:
                raise TrapSignal(PAGE_FAULT[access], pc, pc, 0, None, va)
            a = ((pte >> 10) & ~(g.reserved_high >> 10)) << 12
        if access == FETCH:
            ok = pte & PTE_X
        elif access == LOAD:
            ok = pte & PTE_R or (self.mxr and pte & PTE_X)
        else:
            ok = pte & PTE_W
        if self.priv == USER:
            ok = ok and pte & PTE_U
        elif pte & PTE_U and (access == FETCH or not self.sum):
            ok = False
        ppn = (pte >> 10) & ~(g.reserved_high >> 10)
        low = (1 << (bits * level)) - 1
        if not ok or ppn & low:
            raise TrapSignal(PAGE_FAULT[access], pc, pc, 0, None, va)
        span = 12 + bits * level
        return (ppn >> (bits * level)) << span | (va & ((1 << span) - 1)), pte_pa, pte, level

    def span_of(self, va: int) -> int:
        """Bytes of the leaf this regime translated ``va`` through (a page, or a superpage)."""
        g = self.geometry
        for level in range(g.levels - 1, 0, -1):
            if va >> (12 + g.vpn_bits * level) in self.superpages.get(level, ()):
                return g.leaf_span(level)
        return 1 << 12


class Translation:
    """One translation context's regimes and TLBs (see the module docstring)."""

    __slots__ = ("fetch", "data", "tlb_r", "tlb_w", "tlb_x")

    def __init__(self, fetch: Regime | None, data: Regime | None):
        self.fetch = fetch
        self.data = data
        self.tlb_r: dict[int, int] = {}
        self.tlb_w: dict[int, int] = {}
        self.tlb_x: dict[int, int] = {}
        """vpn → storage index of the page, per access type."""

    @property
    def paged(self) -> bool:
        return self.fetch is not None or self.data is not None

    def page_range(self, va: int) -> tuple[int, int]:
        """The virtual range a shootdown of ``va`` drops: its page, or its whole superpage."""
        span = max((r.span_of(va) for r in (self.fetch, self.data) if r is not None), default=1 << 12)
        lo = va & ~(span - 1)
        return lo, lo + span

    def drop(self, lo: int, hi: int) -> None:
        """Forget the TLB entries of virtual ``[lo, hi)``."""
        first, last = lo >> 12, (hi - 1) >> 12
        for tlb in (self.tlb_r, self.tlb_w, self.tlb_x):
            if last - first < len(tlb):
                for vpn in range(first, last + 1):
                    tlb.pop(vpn, None)
            else:
                for vpn in [v for v in tlb if first <= v <= last]:
                    del tlb[vpn]


class Env:
    """Data accesses under one context (see the module docstring).

    ``machine`` executes the handlers (its ``exact`` flag says whether MMIO may be performed
    now); ``storage``, ``pmp``, the device words and the bus are the guest's — the machine's
    own unless it runs a guest directly (``exits``)."""

    def __init__(self, machine: "RiscvMachine", translation: Translation, fetch_priv: int, data_priv: int, *,
                 storage: Storage | None = None, pmp: Pmp | None = None, device_words: set[int] | None = None,
                 exits: bool = False, on_fill: Callable[[int], Any] | None = None):
        st = machine.storage if storage is None else storage
        pmp = machine.pmp if pmp is None else pmp
        device_words = machine.device_words if device_words is None else device_words
        self.m = machine
        self.storage = st
        self.pmp = pmp
        self.translation = translation
        self.fetch = translation.fetch
        self.data = translation.data
        self.exits = exits
        self.on_fill = on_fill
        """Told the storage page of every TLB fill this context's accesses make."""
        self.paged = translation.data is not None
        self.mask = mask = machine.xlen.mask
        self.RB = rb = RAM_BASE
        size = ram = st.size
        pb = st.offset
        self.ram = ram
        ram_rw = pmp.grants(RAM_BASE, RAM_BASE + ram, PMP_R, data_priv) and pmp.grants(RAM_BASE, RAM_BASE + ram, PMP_W, data_priv)
        self.fetch_granted = pmp.grants(RAM_BASE, RAM_BASE + ram, PMP_X, fetch_priv)
        """PMP lets every instruction fetch from RAM through (else each translation is checked)."""
        self.fetch_priv = fetch_priv
        fast = WORD_VIEW and pb % 4 == 0 and ram_rw
        view = memoryview(st.data)[pb:pb + size]
        self.b8 = st.data if pb == 0 else view
        self.h16 = view.cast("H") if fast else None
        self.w32 = view.cast("I") if fast else None
        self.d64 = view.cast("Q") if fast else None
        self.mk = st.marks if pb == 0 else memoryview(st.marks)[pb >> 2:(pb + size) >> 2]
        # Aligned fast paths hit RAM when the storage index o <= L<size>; -1 disables them.
        self.L1, self.L2, self.L4, self.L8 = (size - 1, size - 2, size - 4, size - 8) if fast else (-1, -1, -1, -1)
        tlb_r, tlb_w = translation.tlb_r, translation.tlb_w
        self.tlb_x = translation.tlb_x
        self.tr = tlb_r.get
        self.tw = tlb_w.get
        data_regime = translation.data
        bus = None if exits else machine.bus
        raw, marks = st.data, st.marks
        invalidate = machine.store_invalidator(st)

        fill = on_fill if on_fill is not None else (lambda page: None)

        def translate(a: int, access: int, pc: int) -> int:
            return a if data_regime is None else data_regime.walk(a, access, pc)

        def outside(a: int, pc: int) -> None:
            """An access outside RAM: the monitor's (exit) or the bus's (exactly)."""
            if exits:
                raise TrapSignal(MMIO_EXIT, pc, pc, 0, None, a)
            if not machine.exact:
                raise SyncSignal(pc)

        def load(a: int, size: int, pc: int) -> int:
            """An access the fast path did not serve: the unsigned value read."""
            if a & (size - 1):
                return sum(load((a + k) & mask, 1, pc) << 8 * k for k in range(size))
            pa = translate(a, LOAD, pc)
            o = pa - rb
            if not pmp.check(pa, size, PMP_R, data_priv):
                raise TrapSignal(LOAD_ACCESS, pc, pc, 0, None, a)
            if 0 <= o <= ram - size:
                if data_regime is not None and fast:
                    tlb_r[a >> 12] = o & ~0xFFF
                    fill(o >> 12)
                return int.from_bytes(raw[pb + o:pb + o + size], "little")
            outside(a, pc)
            v = bus.read(pa, size)
            if v is None:
                raise TrapSignal(LOAD_ACCESS, pc, pc, 0, None, a)
            return v

        def store(a: int, v: int, size: int, pc: int) -> None:
            """A store the fast path did not perform (misaligned, TLB miss, marked, MMIO)."""
            if a & (size - 1):
                targets = [translate((a + k) & mask, STORE, pc) for k in range(size)]
                for k, pa in enumerate(targets):
                    if not pmp.check(pa, 1, PMP_W, data_priv):
                        raise TrapSignal(STORE_ACCESS, pc, pc, 0, None, (a + k) & mask)
                    o = pa - rb
                    if not 0 <= o < ram or (exits and device_words and o >> 2 in device_words):
                        outside(a, pc)
                        break
                for k, pa in enumerate(targets):
                    put(pa, v >> 8 * k & 0xFF, 1, (a + k) & mask, pc)
                return
            pa = translate(a, STORE, pc)
            if data_regime is not None and fast and 0 <= pa - rb < ram:
                tlb_w[a >> 12] = (pa - rb) & ~0xFFF
                fill((pa - rb) >> 12)
            put(pa, v, size, a, pc)

        def put(pa: int, v: int, size: int, a: int, pc: int) -> None:
            if not pmp.check(pa, size, PMP_W, data_priv):
                raise TrapSignal(STORE_ACCESS, pc, pc, 0, None, a)
            o = pa - rb
            if 0 <= o <= ram - size:
                w = o >> 2
                if device_words and (exits or not machine.exact) and (w in device_words or (o + size - 1) >> 2 in device_words):
                    outside(a, pc)
                p = pb + o
                raw[p:p + size] = (v & ((1 << 8 * size) - 1)).to_bytes(size, "little")
                if marks[p >> 2] or marks[(p + size - 1) >> 2]:
                    invalidate(p, p + size)
                return
            outside(a, pc)
            if not bus.write(pa, size, v & ((1 << 8 * size) - 1)):
                raise TrapSignal(STORE_ACCESS, pc, pc, 0, None, a)

        def amo(a: int, pc: int, store_fault: bool = True, size: int = 4) -> int:
            """The storage index of an aligned word in RAM for an AMO, LR or SC (misaligned:
            an address-misaligned fault; outside RAM: an access fault)."""
            access = STORE if store_fault else LOAD
            if a & (size - 1):
                raise TrapSignal(MISALIGNED_STORE if store_fault else MISALIGNED_LOAD, pc, pc, 0, None, a)
            tlb = tlb_w if store_fault else tlb_r
            page = tlb.get(a >> 12) if data_regime is not None and fast else None
            if page is not None:
                o = page | (a & 0xFFF)
            else:
                pa = translate(a, access, pc)
                o = pa - rb
                if not 0 <= o <= ram - size:
                    if exits:
                        raise TrapSignal(MMIO_EXIT, pc, pc, 0, None, a)
                    raise TrapSignal(ACCESS_FAULT[access], pc, pc, 0, None, a)
                if not pmp.check(pa, size, PMP_R, data_priv) or (store_fault and not pmp.check(pa, size, PMP_W, data_priv)):
                    raise TrapSignal(ACCESS_FAULT[access], pc, pc, 0, None, a)
                if data_regime is not None and fast:
                    tlb[a >> 12] = o & ~0xFFF
                    fill(o >> 12)
            if store_fault and device_words and (exits or not machine.exact) and (
                    o >> 2 in device_words or (o + size - 1) >> 2 in device_words):
                outside(a, pc)
            return o

        def peek(o: int, size: int = 4) -> int:
            return int.from_bytes(raw[pb + o:pb + o + size], "little")

        def poke(o: int, v: int, size: int = 4) -> None:
            p = pb + o
            raw[p:p + size] = v.to_bytes(size, "little")
            if marks[p >> 2] or marks[(p + size - 1) >> 2]:
                invalidate(p, p + size)

        self.translate = translate
        self.load, self.store, self.amo, self.peek32, self.poke32 = load, store, amo, peek, poke

    def fetch_index(self, vaddr: int) -> int:
        """The storage index of the instruction word at ``vaddr`` (TrapSignal if it cannot be
        fetched: a page fault, or an access fault outside RAM or refused by PMP)."""
        if self.fetch is None:
            o = vaddr - RAM_BASE
        else:
            page = self.tlb_x.get(vaddr >> 12)
            if page is None:
                o = self.fetch.walk(vaddr, FETCH, vaddr) - RAM_BASE
                if 0 <= o < self.ram:
                    self.tlb_x[vaddr >> 12] = o & ~0xFFF
                    if self.on_fill is not None:
                        self.on_fill(o >> 12)
            else:
                o = page | (vaddr & 0xFFF)
        if not 0 <= o <= self.ram - 4 or (
                not self.fetch_granted and not self.pmp.check(RAM_BASE + o, 4, PMP_X, self.fetch_priv)):
            raise TrapSignal(FETCH_ACCESS, vaddr, vaddr, fault_address=vaddr)
        return o
