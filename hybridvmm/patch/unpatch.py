"""Undo every patch: the original bytes back, the table emptied — the input byte for byte."""

from __future__ import annotations

from hybridvmm.image import Image
from hybridvmm.patch_table import original_view


def unpatch_image(image: Image) -> Image:
    """``image`` with its patch table applied in reverse (checked against the bytes first)."""
    return original_view(image)
