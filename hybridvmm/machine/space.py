"""Address spaces: where a guest's code lies in its window, as code running there sees it.

A monitor's lazy scanner and its patch sites work in the guest's *virtual* addresses but
read, mark and patch *window* addresses (storage of the VM).  An :class:`AddressSpace` is
the map between the two for one mapping of the guest: linear for a machine with
relocation (pgm's R = (base, bound): virtual ``v`` is window ``base + v``), paged for one
with page tables (RISC-V: through the guest's own tables, without side effects).  Its
``key`` names the mapping, so that one scan serves every return to it.
"""

from __future__ import annotations

from typing import Hashable, Protocol


class AddressSpace(Protocol):
    """One mapping of a guest's code."""

    key: Hashable
    """Equal for equal mappings (the scanner keeps one graph per key)."""

    def translate(self, vaddr: int) -> int | None:
        """The window address of virtual ``vaddr``, or None if code there cannot be fetched."""

    def regions(self) -> list[tuple[int, int]]:
        """Virtual ``[lo, hi)`` ranges that may hold code (what a scan may wander into)."""

    def page_size(self) -> int:
        """Bytes over which ``translate`` is linear (a page; the whole space if linear)."""


class LinearSpace:
    """Virtual ``v`` is window ``base + v`` for ``v`` below ``bound`` (clipped to the window)."""

    def __init__(self, base: int, bound: int, window_size: int):
        self.key: Hashable = ("linear", base, bound)
        self.base = base
        self.limit = max(0, min(bound, window_size - base)) if base < window_size else 0

    def translate(self, vaddr: int) -> int | None:
        return self.base + vaddr if 0 <= vaddr < self.limit else None

    def regions(self) -> list[tuple[int, int]]:
        return [(0, self.limit)]

    def page_size(self) -> int:
        return max(1, self.limit)
