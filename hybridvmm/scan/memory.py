"""Where the scanner fetches instructions from: an image's sections.

The scanner only needs ``fetch(address) -> Instruction`` and the list of byte ranges that
hold program bytes (to report what was never reached as data).  :class:`ImageMemory`
decodes straight out of section buffers; the monitor's lazy scanner has its own source
over a VM's storage (:class:`hybridvmm.vmm.lazy.VmCode`).  Both decode through the ISA's
shared decoder, whose memo means an instruction the machine already decoded is not parsed
again.
"""

from __future__ import annotations

from typing import Protocol

from hybridvmm.errors import DecodeError
from hybridvmm.image import Image
from hybridvmm.isa import Decoder, Instruction
from hybridvmm.patch_table import original_view


class FetchError(Exception):
    """No instruction at an address: ``reason`` is ``outside`` or ``undecodable``."""

    def __init__(self, address: int, reason: str, detail: str = ""):
        self.address = address
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason} at 0x{address:x}{': ' + detail if detail else ''}")


class CodeSource(Protocol):
    """What the scanner reads: instructions by address and the program's byte ranges."""

    def fetch(self, address: int) -> Instruction: ...

    def regions(self) -> list[tuple[int, int]]: ...


class ImageMemory:
    """Decode instructions directly from an image's section buffers.

    ``original=True`` (the default) reads through the patch table: patched bytes read as
    the original instruction, as docs/theory.md, 'What the guest sees of a patch', requires
    of guest reads, so scanning a patched image sees the program the patches were made for.

    ``base``/``bound`` give a relocated view, the way code running under R = (base, bound)
    sees storage: address ``v`` (0 <= v < bound) is storage ``base + v``, and decoded
    instructions carry the virtual address (so pc-relative and absolute targets mean what
    they mean to that code).
    """

    def __init__(self, image: Image, decoder: Decoder, original: bool = True, base: int = 0, bound: int | None = None):
        if original and image.patches:
            image = original_view(image)
        self.image = image
        self.decoder = decoder
        self.base = base
        self.bound = bound
        self._sections = sorted(((s.address, s.end, s.data) for s in image.sections), key=lambda t: t[0])
        self._last = self._sections[0] if self._sections else (0, 0, b"")
        self._decode = decoder.decode

    def _section(self, address: int) -> tuple[int, int, bytearray] | None:
        for sec in self._sections:
            if sec[0] <= address < sec[1]:
                self._last = sec
                return sec
        return None

    def fetch(self, address: int) -> Instruction:
        p = address + self.base
        sec = self._last
        if not sec[0] <= p < sec[1] or (self.bound is not None and not 0 <= address < self.bound):
            sec = self._section(p) if self.bound is None or 0 <= address < self.bound else None
            if sec is None:
                raise FetchError(address, "outside", "no image bytes there")
        try:
            ins = self._decode(sec[2], address, p - sec[0])
        except DecodeError as exc:
            raise FetchError(address, "undecodable", str(exc)) from None
        if self.bound is not None and address + len(ins.raw) > self.bound:
            raise FetchError(address, "outside", "instruction crosses the end of the space")
        return ins

    def regions(self) -> list[tuple[int, int]]:
        """Program byte ranges as this view addresses them."""
        out = []
        top = None if self.bound is None else self.base + self.bound
        for lo, hi, _ in self._sections:
            lo, hi = max(lo, self.base), hi if top is None else min(hi, top)
            if lo < hi:
                out.append((lo - self.base, hi - self.base))
        return out

    def read(self, address: int, length: int) -> bytes:
        if self.bound is not None:
            if not 0 <= address < self.bound:
                return b""
            length = min(length, self.bound - address)
        return self.image.read(address + self.base, length)
