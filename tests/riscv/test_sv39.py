"""Sv39 (and Sv32) walks as property tests against the privileged spec's algorithm.

``spec_translate`` is a straight transcription of the privileged specification's "Virtual
Address Translation Process" (section 4.3.2, with Sv39's canonical-address rule of 4.4.1 and
its reserved PTE bits 63:54), written here independently of :mod:`hybridvmm.isas.riscv.mmu`.
Hypothesis builds random page tables along the path of a random virtual address (pointers,
leaves at every level with aligned and misaligned superpage PPNs, invalid and reserved
PTEs, pointers out of RAM, a page-table page PMP refuses or makes read-only) and random R/W/X/U,
A/D, SUM/MXR, privilege, access type and ``hardware_ad``; :meth:`Regime.walk` must give the
same physical address or the same fault cause, leave the same PTEs (A/D), and
:meth:`Regime.peek` the same address without writing anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from hybridvmm.isas.riscv.constants import (
    FETCH_ACCESS, FETCH_PAGE, LOAD_ACCESS, LOAD_PAGE, PTE_A, PTE_D, PTE_G, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X,
    RAM_BASE, STORE_ACCESS, STORE_PAGE, SUPERVISOR, USER,
)
from hybridvmm.isas.riscv.machine import RiscvMachine
from hybridvmm.isas.riscv.mmu import FETCH, LOAD, STORE, SV32, SV39, Regime
from hybridvmm.isas.riscv.pmp import R as PMP_R, W as PMP_W, X as PMP_X
from hybridvmm.machine.traps import TrapSignal

PAGES = 8
NAPOT = 3 << 3
RAM_BYTES = PAGES * 0x1000
ACCESS_FAULT = {FETCH: FETCH_ACCESS, LOAD: LOAD_ACCESS, STORE: STORE_ACCESS}
PAGE_FAULT = {FETCH: FETCH_PAGE, LOAD: LOAD_PAGE, STORE: STORE_PAGE}


# --- the specification, transcribed ---------------------------------------------------------------
@dataclass(frozen=True)
class Scheme:
    """The parameters section 4.3.2 names: LEVELS, PTESIZE, the VPN fields, the PPN fields."""

    name: str
    xlen: int
    levels: int
    ptesize: int
    vpn_bits: int
    ppn_bits: tuple[int, ...]
    """Widths of PPN[0], PPN[1], … (Sv32: 10, 12; Sv39: 9, 9, 26)."""
    va_bits: int


SV32_SPEC = Scheme("Sv32", 32, 2, 4, 10, (10, 12), 32)
SV39_SPEC = Scheme("Sv39", 64, 3, 8, 9, (9, 9, 26), 39)


class Fault(Exception):
    def __init__(self, cause: int, step: int):
        self.cause = cause
        self.step = step
        """The step of section 4.3.2 that raised it (0: Sv39's canonical-address check)."""


@dataclass
class Memory:
    """Physical memory as the walk sees it: RAM, and what PMP allows of S-mode accesses."""

    ram: bytearray
    no_read: frozenset[int] = frozenset()
    no_write: frozenset[int] = frozenset()
    """Physical pages PMP refuses implicit S-mode reads / writes of."""

    def readable(self, pa: int, size: int) -> bool:
        return 0 <= pa - RAM_BASE <= len(self.ram) - size and pa >> 12 not in self.no_read

    def writable(self, pa: int, size: int) -> bool:
        return self.readable(pa, size) and pa >> 12 not in self.no_write

    def read(self, pa: int, size: int) -> int:
        return int.from_bytes(self.ram[pa - RAM_BASE:pa - RAM_BASE + size], "little")

    def write(self, pa: int, size: int, value: int) -> None:
        self.ram[pa - RAM_BASE:pa - RAM_BASE + size] = value.to_bytes(size, "little")


def spec_translate(s: Scheme, mem: Memory, satp_ppn: int, va: int, access: int, priv: int, sum_: bool, mxr: bool,
                   svadu: bool) -> int:
    """The physical address of ``va``, or :class:`Fault` with the cause the spec raises."""
    # 4.4.1: bits 63..39 of an Sv39 address must all equal bit 38
    if s.va_bits < s.xlen:
        high = va >> (s.va_bits - 1)
        if high not in (0, (1 << (s.xlen - s.va_bits + 1)) - 1):
            raise Fault(PAGE_FAULT[access], 0)
    vpn = [(va >> (12 + s.vpn_bits * k)) & ((1 << s.vpn_bits) - 1) for k in range(s.levels)]
    # 1. Let a be satp.ppn × PAGESIZE, and let i = LEVELS − 1.
    a, i = satp_ppn * 4096, s.levels - 1
    while True:
        # 2. Let pte be the value of the PTE at address a + va.vpn[i] × PTESIZE.  If accessing
        #    pte violates a PMA or PMP check, raise an access-fault exception.
        pte_addr = a + vpn[i] * s.ptesize
        if not mem.readable(pte_addr, s.ptesize):
            raise Fault(ACCESS_FAULT[access], 2)
        pte = mem.read(pte_addr, s.ptesize)
        v, r, w, x, u = (bool(pte & b) for b in (PTE_V, PTE_R, PTE_W, PTE_X, PTE_U))
        # 3. If pte.v = 0, or if pte.r = 0 and pte.w = 1, or if any bits or encodings reserved
        #    for future standard use are set within pte, raise a page-fault exception.  (Sv39:
        #    bits 63..54 are reserved without Svnapot/Svpbmt; for non-leaf PTEs the D, A and U
        #    bits are reserved, 4.3.1 and 4.4.1.)
        reserved = s.xlen == 64 and pte >> 54 != 0
        if not v or (not r and w) or reserved:
            raise Fault(PAGE_FAULT[access], 3)
        # 4. If pte.r = 1 or pte.x = 1, go to step 5.  Otherwise this PTE points to the next
        #    level: i = i − 1; if i < 0, raise a page fault; else a = pte.ppn × PAGESIZE.
        if r or x:
            break
        if pte & (PTE_D | PTE_A | PTE_U) and NON_LEAF_DAU_RESERVED:
            raise Fault(PAGE_FAULT[access], 3)
        i -= 1
        if i < 0:
            raise Fault(PAGE_FAULT[access], 4)
        a = (pte >> 10) % (1 << sum(s.ppn_bits)) * 4096
    # 5. A leaf: is the access allowed by r, w, x, u, the privilege, SUM and MXR?
    if access == FETCH:
        allowed = x
    elif access == LOAD:
        allowed = r or (mxr and x)
    else:
        allowed = w
    if priv == USER and not u:
        allowed = False
    if priv == SUPERVISOR and u and (access == FETCH or not sum_):
        allowed = False
    if not allowed:
        raise Fault(PAGE_FAULT[access], 5)
    ppn = [(pte >> 10 >> sum(s.ppn_bits[:k])) % (1 << s.ppn_bits[k]) for k in range(s.levels)]
    # 6. If i > 0 and pte.ppn[i − 1 : 0] ≠ 0, a misaligned superpage: page fault.
    if i > 0 and any(ppn[k] for k in range(i)):
        raise Fault(PAGE_FAULT[access], 6)
    # 7. If pte.a = 0, or a store and pte.d = 0: a page fault (Svade), or (Svadu) an access
    #    fault if a store to pte would violate PMA or PMP, else set A (and D for a store).
    if not pte & PTE_A or (access == STORE and not pte & PTE_D):
        if not svadu:
            raise Fault(PAGE_FAULT[access], 7)
        if not mem.writable(pte_addr, s.ptesize):
            raise Fault(ACCESS_FAULT[access], 7)
        mem.write(pte_addr, s.ptesize, pte | PTE_A | (PTE_D if access == STORE else 0))
    # 8. pa.pgoff = va.pgoff; for a superpage pa.ppn[i−1:0] = va.vpn[i−1:0];
    #    pa.ppn[LEVELS−1:i] = pte.ppn[LEVELS−1:i].
    pa = va & 0xFFF
    shift = 12
    for k in range(s.levels):
        pa |= (vpn[k] if k < i else ppn[k]) << shift
        shift += s.ppn_bits[k] if k >= i else s.vpn_bits
    return pa


NON_LEAF_DAU_RESERVED = True
"""Section 4.3.2 step 3 with 4.3.1: D, A and U are reserved in non-leaf PTEs, so a walk
through a pointer with any of them set is a page fault (spike and QEMU fault)."""


# --- random page tables ------------------------------------------------------------------------------
FLAG_BITS = PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_G | PTE_A | PTE_D


@dataclass
class Case:
    """One walk to compare: RAM is ``fill`` repeated, with ``ptes`` written over it."""

    fill: bytes
    ptes: list[tuple[int, int]]
    root: int
    va: int
    access: int
    priv: int
    sum: bool
    mxr: bool
    hardware_ad: bool
    no_read: frozenset[int]
    no_write: frozenset[int]

    def memory(self, s: Scheme) -> Memory:
        mem = Memory(bytearray(self.fill * (RAM_BYTES // len(self.fill))), self.no_read, self.no_write)
        for at, pte in self.ptes:
            mem.write(at, s.ptesize, pte)
        return mem

    def __repr__(self) -> str:
        ptes = ", ".join(f"0x{a:x}: 0x{p:x}" for a, p in self.ptes)
        return (f"Case(fill={self.fill.hex()}, ptes={{{ptes}}}, root=0x{self.root:x}, va=0x{self.va:x}, "
                f"access={('fetch', 'load', 'store')[self.access]}, priv={'U' if self.priv == USER else 'S'}, "
                f"sum={self.sum}, mxr={self.mxr}, hardware_ad={self.hardware_ad}, "
                f"no_read={sorted(hex(p << 12) for p in self.no_read)}, "
                f"no_write={sorted(hex(p << 12) for p in self.no_write)})")


def _non_leaf(pte: int) -> bool:
    return bool(pte & PTE_V) and not pte & (PTE_R | PTE_W | PTE_X)


@st.composite
def cases(draw, s: Scheme, non_leaf_dau: bool) -> Case:
    """A random walk: tables along va's path, garbage elsewhere.  With ``non_leaf_dau`` false
    no pointer PTE on the path has D, A or U set."""
    fill = draw(st.binary(min_size=8, max_size=8))
    if not non_leaf_dau and s.ptesize == 4:
        # the garbage the walk may read as a PTE is never a pointer with D/A/U set
        fill = b"".join(w if not _non_leaf(int.from_bytes(w, "little")) else
                        (int.from_bytes(w, "little") & ~(PTE_D | PTE_A | PTE_U)).to_bytes(4, "little")
                        for w in (fill[:4], fill[4:]))
    elif not non_leaf_dau:
        w = int.from_bytes(fill, "little")
        fill = (w & ~(PTE_D | PTE_A | PTE_U) if _non_leaf(w) else w).to_bytes(8, "little")
    pages = [RAM_BASE + k * 0x1000 for k in range(PAGES)]
    root = draw(st.sampled_from(pages))
    if s.va_bits < s.xlen:
        canonical = st.integers(0, (1 << s.va_bits) - 1).map(
            lambda v: v | (((1 << s.xlen) - 1) ^ ((1 << s.va_bits) - 1)) if v >> (s.va_bits - 1) else v)
        va = draw(st.one_of(canonical, canonical, canonical, st.integers(0, (1 << s.xlen) - 1)))
    else:
        va = draw(st.integers(0, (1 << s.xlen) - 1))
    access = draw(st.sampled_from([FETCH, LOAD, STORE]))
    priv = draw(st.sampled_from([SUPERVISOR, USER]))
    ptes: list[tuple[int, int]] = []
    path = [root]
    leaf_level = draw(st.integers(0, s.levels - 1))
    a = root
    ppn_width = sum(s.ppn_bits)
    for level in range(s.levels - 1, -1, -1):
        at = a + s.ptesize * ((va >> (12 + s.vpn_bits * level)) & ((1 << s.vpn_bits) - 1))
        if level > leaf_level:
            kind = draw(st.sampled_from(["pointer"] * 6 + ["junk", "outside"]))
        elif level == leaf_level:
            kind = draw(st.sampled_from(["leaf"] * 6 + ["junk", "pointer"]))
        else:
            kind = draw(st.sampled_from(["pointer", "leaf", "junk", "outside"]))
        if draw(st.booleans()):
            # a leaf that allows the access, or misses by one bit
            flags = PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D | (PTE_U if priv == USER else 0)
            flags ^= draw(st.sampled_from([0, 0, 0, PTE_R, PTE_W, PTE_X, PTE_U, PTE_A, PTE_D, PTE_G]))
        else:
            flags = draw(st.integers(0, 0xFF))
        rsw = draw(st.integers(0, 3)) << 8
        high = 0
        if s.xlen == 64 and draw(st.integers(0, 7)) == 0:
            high = draw(st.integers(1, 0x3FF)) << 54                  # reserved bits 63..54
        if kind == "pointer":
            nxt = draw(st.sampled_from(pages))
            keep = PTE_G | ((PTE_D | PTE_A | PTE_U) if non_leaf_dau else 0)
            pte = (nxt >> 12) << 10 | PTE_V | (flags & keep)
            a = nxt
            path.append(nxt)
        elif kind == "outside":
            pte = draw(st.sampled_from([0x1000, 0x1000_0000, RAM_BASE + RAM_BYTES])) >> 12 << 10 | PTE_V
        elif kind == "leaf":
            flags |= PTE_V
            if not flags & (PTE_R | PTE_X):
                flags |= draw(st.sampled_from([PTE_R, PTE_X, PTE_R | PTE_X]))
            span = s.vpn_bits * level
            aligned = draw(st.integers(0, (1 << (ppn_width - span)) - 1)) << span
            ppn = draw(st.one_of(st.just(aligned), st.just(aligned), st.integers(0, (1 << ppn_width) - 1)))
            pte = ppn << 10 | flags
        else:
            pte = draw(st.integers(0, (1 << (8 * s.ptesize)) - 1))
            if s.xlen == 64:
                pte &= (1 << 54) - 1
            if _non_leaf(pte) and not non_leaf_dau:
                pte &= ~(PTE_D | PTE_A | PTE_U)
        pte = (pte | rsw | high) & ((1 << (8 * s.ptesize)) - 1)
        ptes.append((at, pte))
        if kind != "pointer":
            break
    no_read = no_write = frozenset()
    guarded = draw(st.sampled_from([None] * PAGES + pages + path * 2))
    if guarded is not None:
        no_write = frozenset({guarded >> 12})
        if draw(st.booleans()):
            no_read = no_write
    return Case(fill, ptes, root, va, access, priv, draw(st.booleans()), draw(st.booleans()), draw(st.booleans()),
                no_read, no_write)


def hart(s: Scheme, mem: Memory, hardware_ad: bool) -> RiscvMachine:
    """A hart of ``s``'s XLEN whose RAM is ``mem`` and whose PMP is as ``mem`` says: entry 0
    (NAPOT, 4 KiB) over the guarded page with R only or nothing, entry 1 granting all."""
    m = RiscvMachine("rv32" if s.xlen == 32 else "rv64", RAM_BYTES, hardware_ad=hardware_ad)
    m.write_physical(RAM_BASE, bytes(mem.ram))
    guarded = mem.no_read | mem.no_write
    entry0 = 0
    if guarded:
        (page,) = guarded
        m.pmp.write_addr(0, (page << 12) >> 2 | 0x1FF)                  # NAPOT, 4 KiB
        entry0 = NAPOT | (0 if mem.no_read else PMP_R)
    m.pmp.write_addr(1, m.pmp.addr_mask)
    m.pmp.write_cfg(0, entry0 | (NAPOT | PMP_R | PMP_W | PMP_X) << 8)
    return m


def outcome(fn):
    try:
        return fn()
    except TrapSignal as t:
        return ("fault", t.cause, t.fault_address)
    except Fault as f:
        return ("fault", f.cause, f.step)


GEOMETRY = {"Sv32": SV32, "Sv39": SV39}


def check(s: Scheme, case: Case) -> None:
    mem = case.memory(s)
    root, va, access, priv, sum_, mxr, hardware_ad = (case.root, case.va, case.access, case.priv, case.sum, case.mxr,
                                                      case.hardware_ad)
    m = hart(s, mem, hardware_ad)
    ram = m.read_physical(RAM_BASE, RAM_BYTES)
    assert ram == bytes(mem.ram)
    regime = Regime(m, root, GEOMETRY[s.name], priv, sum_, mxr)
    expected_mem = Memory(bytearray(mem.ram), mem.no_read, mem.no_write)
    expected = outcome(lambda: spec_translate(s, expected_mem, root >> 12, va, access, priv, sum_, mxr, hardware_ad))
    peeked = regime.peek(va, access)
    assert m.read_physical(RAM_BASE, RAM_BYTES) == ram, "peek wrote memory"
    got = outcome(lambda: regime.walk(va, access, 0x1234))
    if isinstance(expected, tuple):
        assert got == ("fault", expected[1], va), f"{s.name} va=0x{va:x}: spec {expected}, walk {got}"
        assert m.read_physical(RAM_BASE, RAM_BYTES) == ram, "a faulting walk wrote memory"
        if expected[1:] != (ACCESS_FAULT[access], 7):  # test_peek_is_none_where_the_a_d_update_is_refused
            assert peeked is None
    else:
        assert got == expected, f"{s.name} va=0x{va:x}: spec 0x{expected:x}, walk {got}"
        assert m.read_physical(RAM_BASE, RAM_BYTES) == bytes(expected_mem.ram), "A/D differ"
        assert peeked == expected
    m.close()


FAST = settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)


@pytest.mark.parametrize("scheme", [SV32_SPEC, SV39_SPEC], ids=["Sv32", "Sv39"])
def test_walks_agree_with_the_spec(scheme):
    @FAST
    @given(cases(scheme, non_leaf_dau=False))
    def run(case):
        check(scheme, case)
    run()


def _chosen() -> list[tuple[str, Scheme, Case, object]]:
    """Walks every run meets whatever hypothesis draws: each leaf level, misaligned
    superpages, Sv39's canonical addresses and reserved bits, with the spec's answer."""
    r, t1, t0 = RAM_BASE, RAM_BASE + 0x1000, RAM_BASE + 0x2000
    ok = PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
    low = 0x1234_5678 & ((1 << 30) - 1)

    def case(s: Scheme, ptes: list, va: int, access: int = LOAD, priv: int = SUPERVISOR) -> Case:
        return Case(bytes(8), ptes, r, va, access, priv, False, False, True, frozenset(), frozenset())

    def ptr(table: int) -> int:
        return (table >> 12) << 10 | PTE_V

    def leaf(pa: int, flags: int = ok) -> int:
        return (pa >> 12) << 10 | flags

    sv39, sv32 = SV39_SPEC, SV32_SPEC
    return [
        ("Sv39 4 KiB page", sv39, case(sv39, [(r, ptr(t1)), (t1, ptr(t0)), (t0 + 8 * 5, leaf(0x8765_4000))],
                                       0x5000 + 0x123), 0x8765_4123),
        ("Sv39 2 MiB superpage", sv39, case(sv39, [(r, ptr(t1)), (t1 + 8 * 3, leaf(0x8060_0000))],
                                            0x60_0000 + 0x1_2345), 0x8061_2345),
        ("Sv39 1 GiB superpage", sv39, case(sv39, [(r + 8 * 2, leaf(0x1_0000_0000))], 0x8000_0000 + low),
         0x1_0000_0000 + low),
        ("Sv39 high half", sv39, case(sv39, [(r + 8 * 511, leaf(0x4000_0000))], (1 << 64) - (1 << 30) + low),
         0x4000_0000 + low),
        ("Sv39 misaligned 2 MiB superpage", sv39, case(sv39, [(r, ptr(t1)), (t1, leaf(0x8000_1000))], 0x10),
         ("fault", LOAD_PAGE, 6)),
        ("Sv39 misaligned 1 GiB superpage", sv39, case(sv39, [(r, leaf(0x8020_0000))], 0x10), ("fault", LOAD_PAGE, 6)),
        ("Sv39 non-canonical address", sv39, case(sv39, [(r + 8 * 256, leaf(0))], 1 << 38), ("fault", LOAD_PAGE, 0)),
        ("Sv39 reserved bit 63", sv39, case(sv39, [(r, ptr(t1) | 1 << 63), (t1, leaf(0))], 0x10),
         ("fault", LOAD_PAGE, 3)),
        ("Sv39 store to a page with D clear", sv39,
         case(sv39, [(r, leaf(0, ok & ~PTE_D))], 0x10, STORE), 0x10),
        ("Sv32 4 MiB superpage", sv32, case(sv32, [(r + 4 * 3, leaf(0x8040_0000))], 0xC0_0000 + 0x3_4567), 0x8043_4567),
        ("Sv32 misaligned 4 MiB superpage", sv32, case(sv32, [(r, leaf(0x8000_1000))], 0x10), ("fault", LOAD_PAGE, 6)),
        ("Sv32 4 KiB page", sv32, case(sv32, [(r + 4 * 0x3FF, ptr(t1)), (t1 + 4 * 0x3FF, leaf(0x8000_3000))],
                                       0xFFFF_F234), 0x8000_3234),
        ("Sv32 pointer at the last level", sv32, case(sv32, [(r, ptr(t1)), (t1, ptr(t0))], 0x10),
         ("fault", LOAD_PAGE, 4)),
    ]


@pytest.mark.parametrize("name,scheme,case,expected", _chosen(), ids=[c[0] for c in _chosen()])
def test_chosen_walks_agree_with_the_spec(name, scheme, case, expected):
    mem = case.memory(scheme)
    got = outcome(lambda: spec_translate(scheme, mem, case.root >> 12, case.va, case.access, case.priv, case.sum,
                                         case.mxr, case.hardware_ad))
    assert got == expected, f"{name}: the transcription says {got}"
    check(scheme, case)


@pytest.mark.parametrize("scheme", [SV32_SPEC, SV39_SPEC], ids=["Sv32", "Sv39"])
def test_walks_through_pointers_with_d_a_or_u_agree_with_the_spec(scheme):
    """As above, with D, A and U at random in pointer PTEs too (regression: the walk followed
    such a pointer instead of raising a page fault)."""
    @settings(FAST)
    @given(cases(scheme, non_leaf_dau=True))
    def run(case):
        check(scheme, case)
    run()


def test_peek_is_none_where_the_a_d_update_is_refused():
    """A store through a leaf with D clear, whose page table PMP makes read-only: the walk
    raises a store access fault (4.3.2 step 7), so peek, 'None where the access would fault',
    must give None."""
    s, root = SV39_SPEC, RAM_BASE
    case = Case(bytes(8), [(root, PTE_V | PTE_R | PTE_W | PTE_A)], root, 0x1000, STORE, SUPERVISOR, False, False, True,
                frozenset(), frozenset({root >> 12}))
    m = hart(s, case.memory(s), True)
    regime = Regime(m, root, SV39, SUPERVISOR, False, False)
    assert outcome(lambda: regime.walk(0x1000, STORE, 0)) == ("fault", STORE_ACCESS, 0x1000)
    assert regime.peek(0x1000, STORE) is None
