"""A VM's patches: written into its storage for real, invisible to the guest.

As in Smith & Nair's Fig. 8.11 and VirtualBox's PATM, a patched site's bytes really become
the ISA's trap instruction (a memory dump or ``--trace`` shows them), and the table keeps
the original.  The guest never sees the difference:

* **loads** of patched bytes return the originals: this object is the machines' *load
  overlay* (``patched`` word counts, ``original_word``/``original_byte``), consulted only
  by mappings that cover a patched word, so VMs and regions without patches pay nothing;
* **decoding** sees the originals everywhere except at a patch's first byte, where the
  trap is: the host fetches the trap there (the way into the monitor) and the original
  instruction anywhere else — so a jump into the middle of a patched instruction, or an
  instruction overlapping one, behaves as on the bare machine; the interpreter always
  decodes the originals;
* **stores** into a patch drop it: the stored bytes stay, the rest of the patch gets its
  original bytes back, and the code is scanned (and patched) again before it next runs.

Overlapping instructions: several patches may overlap (a site hidden inside another
instruction, and that instruction itself) as long as each start holds its own trap;
they are written in address order, so every start traps and everything else decodes from
the originals.  Addresses here are root (host-physical) unless a name says otherwise.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from typing import Callable, Iterable

from hybridvmm.errors import UserError
from hybridvmm.image import PatchRecord
from hybridvmm.machine.storage import Storage


class PatchSet:
    """The patch table of one VM over its storage window (see the module docstring)."""

    def __init__(self, window: Storage, max_length: int, trap_length: int, *, refusal: str | None = None):
        """``refusal``: why no patch may be applied here (None: patches may be), for a
        machine model that does not honour the code overlay."""
        self.window = window
        self.refusal = refusal
        self.root = window.root
        self.offset = window.offset
        self.max_length = max_length
        self.trap_length = trap_length
        self.records: dict[int, PatchRecord] = {}
        """Root address of a patch → its record (``record.address`` is window-relative)."""
        self.patched = bytearray((self.root.size >> 2) + 2)
        """Per root word: how many patches cover it (non-zero = loads must look here)."""
        self.original: dict[int, int] = {}
        """Root byte address → the guest's own byte under a patch."""
        self._starts: list[int] = []
        self._quiet = False
        self.listeners: list[Callable[[], None]] = []
        """Called when patches appear, so machines can pick mappings with the load overlay."""
        self.removed: list[Callable[[PatchRecord, str], None]] = []
        """Called with each patch a store removed (for statistics and tracing)."""
        self.root.watch(self)

    # --- queries ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.records)

    @property
    def writing(self) -> bool:
        """True while this set writes its own bytes (other watchers ignore those writes)."""
        return self._quiet

    def is_start(self, p: int) -> bool:
        return p in self.records

    def touches(self, lo: int, hi: int) -> bool:
        """Does any patch lie in root ``[lo, hi)``?"""
        starts = self._starts
        k = bisect_left(starts, lo - self.max_length + 1)
        return k < len(starts) and starts[k] < hi

    def at(self, window_address: int) -> PatchRecord | None:
        """The patch starting at a window address, if any."""
        return self.records.get(self.offset + window_address)

    def original_byte(self, p: int) -> int:
        b = self.original.get(p)
        return self.root.data[p] if b is None else b

    def original_word(self, p: int) -> int:
        return int.from_bytes(self.original_bytes(p, 4), "little")

    def original_bytes(self, p: int, n: int) -> bytes:
        """Root ``[p, p + n)`` as the guest stored it."""
        data = bytearray(self.root.data[p:p + n])
        original = self.original
        if original:
            for i in range(len(data)):
                b = original.get(p + i)
                if b is not None:
                    data[i] = b
        return bytes(data)

    def _covered(self, p: int, n: int) -> bool:
        patched = self.patched
        return any(patched[w] for w in range(p >> 2, min((p + n - 1) >> 2, len(patched) - 1) + 1))

    def original_code(self, p: int) -> bytes | None:
        """What the interpreter decodes at root ``p``: the originals, where patches lie."""
        if not self.records or not 0 <= p < self.root.size or not self._covered(p, self.max_length):
            return None
        return self.original_bytes(p, min(self.max_length, self.root.size - p))

    def host_code(self, p: int) -> bytes | None:
        """What the host decodes at root ``p``: the trap at a patch's start, else the originals."""
        if p in self.records:
            return None
        return self.original_code(p)

    def guest_view(self) -> bytes:
        """The whole window as the guest sees it (originals under every patch)."""
        data = bytearray(self.window.snapshot())
        for p, b in self.original.items():
            data[p - self.offset] = b
        return bytes(data)

    # --- changes ------------------------------------------------------------------------------
    def apply(self, window_address: int, replacement: bytes, kind: str) -> PatchRecord:
        """Write ``replacement`` over the instruction at ``window_address`` and record it."""
        self._check_allowed(window_address)
        p = self.offset + window_address
        n = len(replacement)
        near = self._starts[bisect_left(self._starts, p - self.trap_length + 1):bisect_left(self._starts, p + self.trap_length)]
        if near:
            raise ValueError(f"patch at 0x{window_address:x} would overwrite the trap of the patch at 0x{near[0] - self.offset:x}")
        record = PatchRecord(window_address, self.original_bytes(p, n), bytes(replacement), kind)
        self._install(p, record)
        self._write(p, self._expected(p, n))
        return record

    def adopt(self, records: Iterable[PatchRecord]) -> None:
        """Take over patches already present in storage (a statically patched image)."""
        for r in records:
            self._check_allowed(r.address)
            self._install(self.offset + r.address, r)

    def _check_allowed(self, window_address: int) -> None:
        if self.refusal is not None:
            raise UserError(f"cannot patch 0x{window_address:x}: {self.refusal}")

    def _install(self, p: int, record: PatchRecord) -> None:
        n = len(record.original)
        for i, b in enumerate(record.original):
            self.original.setdefault(p + i, b)
        for w in range(p >> 2, ((p + n - 1) >> 2) + 1):
            self.patched[w] += 1
        self.records[p] = record
        insort(self._starts, p)
        self.root.mark_physical(p, p + n, 1)
        for fn in list(self.listeners):
            fn()

    def _expected(self, lo: int, n: int) -> bytes:
        """Storage over root ``[lo, lo + n)`` with every patch there applied in address order."""
        data = bytearray(self.original_bytes(lo, n))
        for q in self._starts[bisect_left(self._starts, lo - self.max_length + 1):]:
            if q >= lo + n:
                break
            rep = self.records[q].replacement
            for i, b in enumerate(rep):
                if lo <= q + i < lo + n:
                    data[q + i - lo] = b
        return bytes(data)

    def _write(self, p: int, data: bytes) -> None:
        """Write patch bytes without taking the write for a guest store into them."""
        self._quiet = True
        try:
            self.root.data[p:p + len(data)] = data
            self.root.invalidate_physical(p, p + len(data))
        finally:
            self._quiet = False

    def drop_physical(self, start: int, end: int) -> None:
        """Root ``[start, end)`` was written (a guest store): drop the patches it hit."""
        if self._quiet or not self.records or not self.touches(start, end):
            return
        hit = {q for q, r in self.records.items() if q < end and start < q + len(r.original)}
        if not hit:
            return
        # Patches overlapping the ones hit go too: their bytes were written as one.
        grow = True
        while grow:
            lo = min(hit)
            hi = max(q + len(self.records[q].original) for q in hit)
            more = {q for q, r in self.records.items() if q < hi and lo < q + len(r.original)} - hit
            hit |= more
            grow = bool(more)
        restore = bytearray(self.root.data[lo:hi])
        for q in sorted(hit):
            r = self.records.pop(q)
            self._starts.remove(q)
            n = len(r.original)
            for i in range(n):
                a = q + i
                b = self.original.pop(a, None)
                if b is not None and not start <= a < end:
                    restore[a - lo] = b
            for w in range(q >> 2, ((q + n - 1) >> 2) + 1):
                self.patched[w] -= 1
            self.root.mark_physical(q, q + n, -1)
            for fn in list(self.removed):
                fn(r, "store")
        self._write(lo, bytes(restore))

    def close(self) -> None:
        """Stop watching storage and release the marks (the VM is discarded)."""
        for q, r in self.records.items():
            self.root.mark_physical(q, q + len(r.original), -1)
        self.records.clear()
        self._starts.clear()
        self.root.unwatch(self)

    def table(self) -> list[PatchRecord]:
        """Every patch, by address (window-relative), as an image's patch table holds them."""
        return [self.records[q] for q in self._starts]
