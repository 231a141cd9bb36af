"""Byte-addressed guest storage shared by a machine, its code caches and any windows on it.

One :class:`Storage` owns a ``bytearray`` plus, on little-endian hosts, a
``memoryview.cast('I')`` word view for aligned word accesses (the hot path never builds
ints from bytes).  A parallel array of *code marks* counts, per storage word, the cached
decoded instructions overlapping it, so a store tests one array element to learn whether it
hit decoded code; only then are the translations dropped (self-modifying code, patching).

A *window* is a Storage onto a slice of another (a VM's allocation inside the real
storage): it shares the bytes, the word view, the code marks and the watchers, and adds
its offset.  Every address given to a Storage method is relative to that Storage;
``offset`` converts it to a root (physical) address.
"""

from __future__ import annotations

import struct
import sys
import weakref
from array import array
from typing import Protocol

WORD_VIEW = sys.byteorder == "little" and array("I").itemsize == 4
"""Whether aligned 32-bit little-endian words can be read through a native word view."""


class CodeWatcher(Protocol):
    """Something that caches decoded code and must forget it when storage changes."""

    def drop_physical(self, start: int, end: int) -> None:
        """Forget every cached instruction overlapping root addresses ``[start, end)``."""


class Storage:
    """Guest storage: bytes, an aligned word view, code marks and invalidation."""

    def __init__(self, size: int):
        if size <= 0:
            raise ValueError("storage size must be positive")
        size = (size + 3) & ~3
        self.data = bytearray(size)
        self.words = memoryview(self.data).cast("I") if WORD_VIEW else None
        self.marks = array("H", bytes(2 * ((size >> 2) + 2)))
        self.offset = 0
        self.size = size
        self.root: Storage = self
        self._watchers: weakref.WeakSet = weakref.WeakSet()
        """Code caches to notify of writes (weak: a discarded machine needs no unwatching)."""

    # --- windows -------------------------------------------------------------------
    def window(self, offset: int, size: int) -> "Storage":
        """A Storage for ``[offset, offset + size)`` of this one, sharing everything."""
        if offset < 0 or size <= 0 or offset + size > self.size:
            raise ValueError(f"window [0x{offset:x}, 0x{offset + size:x}) outside storage of 0x{self.size:x} bytes")
        w = object.__new__(Storage)
        w.data, w.words, w.marks = self.data, self.words, self.marks
        w.offset = self.offset + offset
        w.size = size
        w.root = self.root
        w._watchers = self.root._watchers
        return w

    # --- watchers ------------------------------------------------------------------
    def watch(self, watcher: CodeWatcher) -> None:
        self._watchers.add(watcher)

    def unwatch(self, watcher: CodeWatcher) -> None:
        self._watchers.discard(watcher)

    def invalidate_physical(self, start: int, end: int) -> None:
        """Root addresses ``[start, end)`` changed: every watcher drops code there."""
        for w in list(self._watchers):
            w.drop_physical(start, end)

    def invalidate(self, start: int, end: int) -> None:
        """Storage-relative ``[start, end)`` changed (only needed after writing ``data`` directly)."""
        self.invalidate_physical(self.offset + start, self.offset + end)

    def touches_code(self, start: int, end: int) -> bool:
        """Whether any watched range (cached code, or what another watcher marked) overlaps
        storage-relative ``[start, end)``."""
        if end <= start:
            return False
        p = self.offset + start
        return any(self.marks[p >> 2:((self.offset + end - 1) >> 2) + 1])

    def mark(self, start: int, end: int, delta: int) -> None:
        """Count storage-relative ``[start, end)`` in (``delta`` = 1) or out (-1) of the
        watched ranges: stores there notify every watcher.  Marks are counts, so each
        watcher adds and removes its own (the code caches mark the code they translated;
        a monitor marks code it scanned but has not run, and the words it patched)."""
        self.mark_physical(self.offset + start, self.offset + end, delta)

    def mark_physical(self, start: int, end: int, delta: int) -> None:
        """:meth:`mark` in root addresses."""
        if end <= start:
            return
        marks = self.marks
        for w in range(start >> 2, ((end - 1) >> 2) + 1):
            marks[w] += delta

    # --- plain accesses (absolute, not relocated; the cold path) --------------------
    def check(self, address: int, length: int) -> None:
        if address < 0 or length < 0 or address + length > self.size:
            raise IndexError(f"storage access [0x{address:x}, 0x{address + length:x}) outside 0x{self.size:x} bytes")

    def read(self, address: int, length: int) -> bytes:
        self.check(address, length)
        p = self.offset + address
        return bytes(self.data[p:p + length])

    def write(self, address: int, data: bytes | bytearray | memoryview) -> None:
        """Write bytes and drop any decoded code they overwrite."""
        n = len(data)
        self.check(address, n)
        p = self.offset + address
        self.data[p:p + n] = data
        if n and self.touches_code(address, address + n):
            self.invalidate_physical(p, p + n)

    def read_word(self, address: int) -> int:
        self.check(address, 4)
        p = self.offset + address
        return int.from_bytes(self.data[p:p + 4], "little")

    def read_words(self, address: int, count: int) -> tuple[int, ...]:
        """``count`` little-endian words at ``address`` (a PSW, a vector)."""
        self.check(address, 4 * count)
        return struct.unpack_from(f"<{count}I", self.data, self.offset + address)

    def write_words(self, address: int, values: tuple[int, ...] | list[int]) -> None:
        """Write little-endian words at ``address``; decoded code there is dropped."""
        n = 4 * len(values)
        self.check(address, n)
        p = self.offset + address
        struct.pack_into(f"<{len(values)}I", self.data, p, *(v & 0xFFFFFFFF for v in values))
        if n and self.touches_code(address, address + n):
            self.invalidate_physical(p, p + n)

    def snapshot(self) -> bytes:
        return bytes(self.data[self.offset:self.offset + self.size])

    def restore(self, image: bytes) -> None:
        """Put back a :meth:`snapshot` (all decoded code in the range is dropped)."""
        if len(image) != self.size:
            raise ValueError("snapshot size does not match storage size")
        p = self.offset
        self.data[p:p + self.size] = image
        self.invalidate_physical(p, p + self.size)
