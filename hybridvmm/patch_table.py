"""The patch table that travels inside an image: lookups, consistency, the original view.

A patched image holds the replacement bytes in its sections and, per patch, the original
bytes in ``Image.patches`` (``PatchRecord(address, original, replacement, kind)``).  Guest
reads of patched bytes must return the originals (docs/theory.md, 'What the guest sees of a
patch'): :func:`read_original` and :func:`original_view` give that view.

It sits below ``scan/`` and ``vmm/``: the scanner reads a patched image's originals through
it, and the monitor checks and adopts an image's table with it.
"""

from __future__ import annotations

from bisect import bisect_right

from hybridvmm.errors import ImageError
from hybridvmm.image import Image, PatchRecord

PATCH_KINDS = ("sensitive", "user-sensitive")
"""Why a site was patched: its instruction is sensitive-unprivileged, and (the second)
also user-sensitive.  A hybrid monitor that patches only user code applies the latter."""


def applied(patches: list[PatchRecord], address: int, length: int, original: bytes) -> bytes:
    """``original`` (the bytes at ``address``) with ``patches`` written over it in address
    order: what a patched image holds there.  Patches may overlap (an instruction hidden in
    another, and that one): each later one overwrites the earlier one's tail, never its trap."""
    data = bytearray(original)
    for p in sorted(patches, key=lambda p: p.address):
        for i, b in enumerate(p.replacement):
            if address <= p.address + i < address + length:
                data[p.address + i - address] = b
    return bytes(data)


def check_table(image: Image) -> None:
    """The table must describe the bytes: every patch's replacement written in place, in
    address order; where two patches overlap they agree on the original bytes."""
    ordered = sorted(image.patches, key=lambda p: p.address)
    original: dict[int, tuple[int, int]] = {}
    for k, p in enumerate(ordered):
        if len(p.original) != len(p.replacement) or not p.original:
            raise ImageError(f"{image.source}: patch at 0x{p.address:x} has original and replacement of different lengths")
        if k and p.address == ordered[k - 1].address:
            raise ImageError(f"{image.source}: two patches at 0x{p.address:x}")
        for i, b in enumerate(p.original):
            seen = original.setdefault(p.address + i, (b, p.address))
            if seen[0] != b:
                raise ImageError(f"{image.source}: overlapping patches at 0x{seen[1]:x} and 0x{p.address:x} "
                                 f"disagree on the original bytes")
    for p in ordered:
        current = image.read(p.address, len(p.replacement))
        expected = applied(ordered, p.address, len(p.original), p.original)
        if current != expected:
            raise ImageError(
                f"{image.source}: bytes at 0x{p.address:x} ({current.hex(' ') or 'none'}) are not the patch's "
                f"replacement ({expected.hex(' ')}): the image was changed after patching"
            )


def original_view(image: Image) -> Image:
    """A copy of ``image`` with every patch undone and an empty table."""
    check_table(image)
    view = image.copy()
    for p in image.patches:
        view.write(p.address, p.original)
    view.patches = []
    return view


def patch_at(image: Image, address: int) -> PatchRecord | None:
    """The patch whose bytes include ``address`` (the latest-starting one, where patches
    overlap), if any."""
    ordered = sorted(image.patches, key=lambda p: p.address)
    k = bisect_right([p.address for p in ordered], address) - 1
    while k >= 0:
        if address < ordered[k].address + len(ordered[k].original):
            return ordered[k]
        k -= 1
    return None


def read_original(image: Image, address: int, length: int) -> bytes:
    """``image.read`` as the guest must see it: patched bytes read as the originals."""
    data = bytearray(image.read(address, length))
    end = address + len(data)
    for p in image.patches:
        lo, hi = max(address, p.address), min(end, p.address + len(p.original))
        if lo < hi:
            data[lo - address:hi - address] = p.original[lo - p.address:hi - p.address]
    return bytes(data)
