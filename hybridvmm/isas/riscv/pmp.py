"""Physical memory protection: ``pmpcfgN``/``pmpaddrN`` and the check every physical access makes.

``Pmp(entries)`` implements that many entries (QEMU 7.2's 16 by default; 0 makes every PMP
register read-only zero and checks nothing).  Granularity is 4 bytes; modes OFF, TOR, NA4
and NAPOT; the lowest-numbered entry that matches any byte of an access decides, and an
access only partly inside it fails.  M-mode is restricted only by locked (L) entries.  S- and
U-mode accesses that no entry matches fail whenever an entry is implemented — as on QEMU,
a guest started without firmware must program PMP before it drops to S or U (the
riscv-tests do: ``pmpaddr0 = 0x7fffffff``, ``pmpcfg0 = NAPOT | RWX``).

The check is per physical access, but the machine asks :meth:`grants` once per context
(and per page on a TLB fill) whether a whole range passes, so that accesses PMP cannot
refuse keep the fast paths.
"""

from __future__ import annotations

from hybridvmm.isas.riscv.constants import MACHINE

R, W, X = 1, 2, 4
A_SHIFT = 3
OFF, TOR, NA4, NAPOT = 0, 1, 2, 3
L = 0x80
ADDRESS_BITS = 34
"""Sv32 physical addresses are 34 bits (pmpaddr holds bits 33:2); Sv39's are 56 (bits 55:2)."""


class Pmp:
    """The PMP entries of one hart."""

    def __init__(self, entries: int = 16, xlen: int = 32):
        self.entries = entries
        self.per_register = xlen // 8
        """Configurations per pmpcfg register: 4 on RV32, 8 on RV64 (which has only the
        even-numbered pmpcfg registers: pmpcfg2 holds entries 8-15)."""
        self.addr_mask = (1 << 32) - 1 if xlen == 32 else (1 << 54) - 1
        self.cfg = [0] * entries
        self.addr = [0] * entries
        self.regions: list[tuple[int, int, int]] = []
        """(lo, hi, cfg) of every active entry, in priority order."""

    def reset(self) -> None:
        self.cfg = [0] * self.entries
        self.addr = [0] * self.entries
        self._rebuild()

    def state(self) -> dict:
        return {"cfg": list(self.cfg), "addr": list(self.addr)}

    def set_state(self, state: dict) -> None:
        self.cfg, self.addr = list(state["cfg"]), list(state["addr"])
        self._rebuild()

    # --- the registers (8-bit configurations, 4 per pmpcfg register on RV32, 8 on RV64) ----------
    def read_cfg(self, reg: int) -> int:
        n = self.per_register
        return sum(self.cfg[4 * reg + k] << 8 * k for k in range(n) if 4 * reg + k < self.entries)

    def write_cfg(self, reg: int, value: int) -> None:
        for k in range(self.per_register):
            i = 4 * reg + k
            if i >= self.entries or self.cfg[i] & L:
                continue
            b = value >> 8 * k & 0x9F                # bits 6:5 are reserved
            if b & W and not b & R:                   # R=0 W=1 is reserved: keep it unwritable
                b &= ~W
            self.cfg[i] = b
        self._rebuild()

    def read_addr(self, i: int) -> int:
        return self.addr[i] if i < self.entries else 0

    def write_addr(self, i: int, value: int) -> None:
        if i >= self.entries or self.cfg[i] & L:
            return
        nxt = self.cfg[i + 1] if i + 1 < self.entries else 0
        if nxt & L and nxt >> A_SHIFT & 3 == TOR:
            return
        self.addr[i] = value & self.addr_mask
        self._rebuild()

    def _rebuild(self) -> None:
        regions = []
        for i, cfg in enumerate(self.cfg):
            mode = cfg >> A_SHIFT & 3
            a = self.addr[i]
            if mode == OFF:
                continue
            if mode == TOR:
                lo, hi = (self.addr[i - 1] << 2 if i else 0), a << 2
            elif mode == NA4:
                lo, hi = a << 2, (a << 2) + 4
            else:
                ones = (~a & (a + 1)).bit_length() - 1          # trailing ones of a
                size = 1 << (ones + 3)
                lo = (a << 2) & ~(size - 1)
                hi = lo + size
            if lo < hi:
                regions.append((lo, hi, cfg))
        self.regions = regions

    # --- checks -------------------------------------------------------------------------------
    def check(self, pa: int, size: int, perm: int, priv: int) -> bool:
        """May ``priv`` make a ``perm`` (R, W or X) access of ``size`` bytes at physical ``pa``?"""
        if not self.entries:
            return True
        end = pa + size
        for lo, hi, cfg in self.regions:
            if end <= lo or pa >= hi:
                continue
            if pa < lo or end > hi:
                return False
            if priv == MACHINE and not cfg & L:
                return True
            return bool(cfg & perm)
        return priv == MACHINE

    def grants(self, lo: int, hi: int, perm: int, priv: int) -> bool:
        """Does every byte of physical ``[lo, hi)`` pass :meth:`check`?  (Between region
        boundaries the deciding entry is the same, so one byte per piece is checked.)"""
        if not self.entries:
            return True
        points = {lo} | {p for r in self.regions for p in r[:2] if lo < p < hi}
        return all(self.check(p, 1, perm, priv) for p in points)
