"""Address translation (bare and Sv32) and the storage environment baked into handlers.

A :class:`Sv32` is one translation regime (root table, effective privilege, SUM, MXR): its
:meth:`Sv32.walk` is the privileged spec's algorithm, with the right exception for every
failure — a PTE that cannot be read is an *access* fault of the original access type, an
invalid, reserved (W without R), non-permitted, misaligned-superpage or (with
``hardware_ad`` off) A/D-clear leaf is a *page* fault.  With ``hardware_ad`` on (the
default, as QEMU 7.2 and Svadu do) the walker sets A, and D for a store, in the PTE.

An :class:`Env` is what the handlers of one code-cache context bake in: how data
addresses map for that context (bare, or one Sv32 regime with per-access-type TLBs
``vpn → storage index of the page``), views of storage for aligned accesses, the code
marks, and the slow paths (``load``/``store``/``amo``) that handle everything else:
misaligned accesses (performed byte by byte, as QEMU does), TLB misses, MMIO (only with
the exact state: from the hot loop they raise :class:`SyncSignal` first), faults, and
stores over marked words (decoded code, device words such as HTIF's ``tohost``).

Storage indices are relative to the machine's storage (index 0 = physical ``RAM_BASE``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    SATP_PPN,
    STORE_ACCESS,
    STORE_PAGE,
    SUPERVISOR,
    USER,
)
from hybridvmm.isas.riscv.pmp import R as PMP_R, W as PMP_W, X as PMP_X
from hybridvmm.machine.storage import WORD_VIEW
from hybridvmm.machine.traps import SyncSignal, TrapSignal

if TYPE_CHECKING:
    from hybridvmm.isas.riscv.machine import RiscvMachine

FETCH, LOAD, STORE = 0, 1, 2
ACCESS_FAULT = {FETCH: FETCH_ACCESS, LOAD: LOAD_ACCESS, STORE: STORE_ACCESS}
PAGE_FAULT = {FETCH: FETCH_PAGE, LOAD: LOAD_PAGE, STORE: STORE_PAGE}


class Sv32:
    """One Sv32 translation regime."""

    __slots__ = ("m", "root", "priv", "sum", "mxr", "megapages")

    def __init__(self, machine: "RiscvMachine", satp: int, priv: int, sum_: bool, mxr: bool):
        self.m = machine
        self.root = (satp & SATP_PPN) << 12
        self.priv = priv
        self.sum = sum_
        self.mxr = mxr
        self.megapages: set[int] = set()
        """VPN[1]s translated through a megapage leaf (a shootdown of one of its pages drops all of it)."""

    def walk(self, va: int, access: int, pc: int) -> int:
        """The physical address of ``va`` for ``access`` (FETCH, LOAD, STORE), or TrapSignal."""
        m = self.m
        a, level = self.root, 1
        while True:
            pte_pa = a + ((va >> (12 + 10 * level)) & 0x3FF) * 4
            pte = m.physical_word(pte_pa)
            if pte is None or not m.pmp.check(pte_pa, 4, PMP_R, SUPERVISOR):
                raise TrapSignal(ACCESS_FAULT[access], pc, pc, 0, None, va)
            if not pte & PTE_V or (pte & PTE_W and not pte & PTE_R):
                raise TrapSignal(PAGE_FAULT[access], pc, pc, 0, None, va)
            if pte & (PTE_R | PTE_X):
                break
            level -= 1
            if level < 0:
                raise TrapSignal(PAGE_FAULT[access], pc, pc, 0, None, va)
            a = (pte >> 10) << 12
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
        ppn = pte >> 10
        if not ok or (level == 1 and ppn & 0x3FF):
            raise TrapSignal(PAGE_FAULT[access], pc, pc, 0, None, va)
        need = PTE_A | (PTE_D if access == STORE else 0)
        if pte & need != need:
            if not m.hardware_ad:
                raise TrapSignal(PAGE_FAULT[access], pc, pc, 0, None, va)
            if not m.pmp.check(pte_pa, 4, PMP_W, SUPERVISOR):
                raise TrapSignal(ACCESS_FAULT[access], pc, pc, 0, None, va)
            m.write_physical_word(pte_pa, pte | need)
        if level == 1:
            self.megapages.add(va >> 22)
            return (ppn >> 10) << 22 | (va & 0x3FFFFF)
        return ppn << 12 | (va & 0xFFF)


class Env:
    """Data accesses under one context (see the module docstring)."""

    def __init__(self, machine: "RiscvMachine", fetch: Sv32 | None, data: Sv32 | None, fetch_priv: int, data_priv: int):
        st = machine.storage
        self.m = machine
        self.fetch = fetch
        self.data = data
        self.paged = data is not None
        self.mask = mask = machine.xlen.mask
        self.RB = rb = RAM_BASE
        size = ram = st.size
        pb = st.offset
        self.ram = ram
        pmp = machine.pmp
        ram_rw = pmp.grants(RAM_BASE, RAM_BASE + ram, PMP_R, data_priv) and pmp.grants(RAM_BASE, RAM_BASE + ram, PMP_W, data_priv)
        self.fetch_granted = pmp.grants(RAM_BASE, RAM_BASE + ram, PMP_X, fetch_priv)
        """PMP lets every instruction fetch from RAM through (else each translation is checked)."""
        self.fetch_priv = fetch_priv
        fast = WORD_VIEW and pb % 4 == 0 and ram_rw
        view = memoryview(st.data)[pb:pb + size]
        self.b8 = st.data if pb == 0 else view
        self.h16 = view.cast("H") if fast else None
        self.w32 = view.cast("I") if fast else None
        self.mk = st.marks if pb == 0 else memoryview(st.marks)[pb >> 2:(pb + size) >> 2]
        # Aligned fast paths hit RAM when the storage index o <= L<size>; -1 disables them.
        self.L1, self.L2, self.L4 = (size - 1, size - 2, size - 4) if fast else (-1, -1, -1)
        self.tlb_r: dict[int, int] = {}
        self.tlb_w: dict[int, int] = {}
        self.tlb_x: dict[int, int] = {}
        """Fetch translations (vpn → page index), for the code cache's misses."""
        self.tr = self.tlb_r.get
        self.tw = self.tlb_w.get
        data_regime, bus, device_words = data, machine.bus, machine.device_words
        raw, marks, invalidate = st.data, st.marks, st.invalidate_physical
        tlb_r, tlb_w = self.tlb_r, self.tlb_w

        def translate(a: int, access: int, pc: int) -> int:
            return a if data_regime is None else data_regime.walk(a, access, pc)

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
                return int.from_bytes(raw[pb + o:pb + o + size], "little")
            if not machine.exact:
                raise SyncSignal
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
                    if not 0 <= o < ram:
                        if not machine.exact:
                            raise SyncSignal
                        break
                for k, pa in enumerate(targets):
                    put(pa, v >> 8 * k & 0xFF, 1, (a + k) & mask, pc)
                return
            pa = translate(a, STORE, pc)
            if data_regime is not None and fast and 0 <= pa - rb < ram:
                tlb_w[a >> 12] = (pa - rb) & ~0xFFF
            put(pa, v, size, a, pc)

        def put(pa: int, v: int, size: int, a: int, pc: int) -> None:
            if not pmp.check(pa, size, PMP_W, data_priv):
                raise TrapSignal(STORE_ACCESS, pc, pc, 0, None, a)
            o = pa - rb
            if 0 <= o <= ram - size:
                w = o >> 2
                if device_words and not machine.exact and (w in device_words or (o + size - 1) >> 2 in device_words):
                    raise SyncSignal
                p = pb + o
                raw[p:p + size] = (v & ((1 << 8 * size) - 1)).to_bytes(size, "little")
                if marks[p >> 2] or marks[(p + size - 1) >> 2]:
                    invalidate(p, p + size)
                return
            if not machine.exact:
                raise SyncSignal
            if not bus.write(pa, size, v & ((1 << 8 * size) - 1)):
                raise TrapSignal(STORE_ACCESS, pc, pc, 0, None, a)

        def amo(a: int, pc: int, store_fault: bool = True) -> int:
            """The storage index of an aligned word in RAM for an AMO, LR or SC (misaligned:
            an address-misaligned fault; outside RAM: an access fault)."""
            access = STORE if store_fault else LOAD
            if a & 3:
                raise TrapSignal(MISALIGNED_STORE if store_fault else MISALIGNED_LOAD, pc, pc, 0, None, a)
            pa = translate(a, access, pc)
            o = pa - rb
            if not 0 <= o <= ram - 4 or not pmp.check(pa, 4, PMP_R, data_priv) or (
                    store_fault and not pmp.check(pa, 4, PMP_W, data_priv)):
                raise TrapSignal(ACCESS_FAULT[access], pc, pc, 0, None, a)
            if store_fault and device_words and not machine.exact and o >> 2 in device_words:
                raise SyncSignal
            return o

        def peek32(o: int) -> int:
            return int.from_bytes(raw[pb + o:pb + o + 4], "little")

        def poke32(o: int, v: int) -> None:
            p = pb + o
            raw[p:p + 4] = v.to_bytes(4, "little")
            if marks[p >> 2]:
                invalidate(p, p + 4)

        self.translate = translate
        self.load, self.store, self.amo, self.peek32, self.poke32 = load, store, amo, peek32, poke32
