"""The patch table that travels inside an image: lookups, consistency, the original view.

A patched image holds the replacement bytes in its sections and, per patch, the original
bytes in ``Image.patches`` (``PatchRecord(address, original, replacement, kind)``).  Guest
reads of patched bytes must return the originals (DESIGN §5): :func:`read_original` and
:func:`original_view` give that view.
"""

from __future__ import annotations

from bisect import bisect_right

from hybridvmm.errors import ImageError
from hybridvmm.image import Image, PatchRecord

PATCH_KINDS = ("sensitive", "user-sensitive")
"""Why a site was patched: its instruction is sensitive-unprivileged, and (the second)
also user-sensitive.  A hybrid monitor that patches only user code applies the latter."""


def check_table(image: Image) -> None:
    """The table must describe the bytes: replacements in place, no two patches overlapping."""
    previous: PatchRecord | None = None
    for p in sorted(image.patches, key=lambda p: p.address):
        if len(p.original) != len(p.replacement) or not p.original:
            raise ImageError(f"{image.source}: patch at 0x{p.address:x} has original and replacement of different lengths")
        if previous is not None and p.address < previous.address + len(previous.original):
            raise ImageError(f"{image.source}: patches at 0x{previous.address:x} and 0x{p.address:x} overlap")
        current = image.read(p.address, len(p.replacement))
        if current != p.replacement:
            raise ImageError(
                f"{image.source}: bytes at 0x{p.address:x} ({current.hex(' ') or 'none'}) are not the patch's "
                f"replacement ({p.replacement.hex(' ')}): the image was changed after patching"
            )
        previous = p


def original_view(image: Image) -> Image:
    """A copy of ``image`` with every patch undone and an empty table."""
    check_table(image)
    view = image.copy()
    for p in image.patches:
        view.write(p.address, p.original)
    view.patches = []
    return view


def patch_at(image: Image, address: int) -> PatchRecord | None:
    """The patch whose bytes include ``address``, if any."""
    ordered = sorted(image.patches, key=lambda p: p.address)
    k = bisect_right([p.address for p in ordered], address) - 1
    if k >= 0 and address < ordered[k].address + len(ordered[k].original):
        return ordered[k]
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
