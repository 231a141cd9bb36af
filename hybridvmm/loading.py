"""Open whatever the user names as a program: an image file, a raw binary, or ``guest:NAME``.

Every subcommand that takes an image goes through :func:`load_program`, so raw binaries
(``--isa NAME --base ADDR [--entry ADDR]``) and bundled guests work everywhere alike.
"""

from __future__ import annotations


from hybridvmm.errors import ImageError, UserError, read_input
from hybridvmm.guests import build_guest
from hybridvmm.image import MAGIC, Image, raw_image
from hybridvmm.isa import load_isa

GUEST_PREFIX = "guest:"


def load_program(name: str, isa: str | None = None, base: int | None = None, entry: int | None = None) -> Image:
    """The image ``name`` refers to; ``isa`` overrides the image's ISA (e.g. a variant)."""
    if name.startswith(GUEST_PREFIX):
        image = build_guest(name[len(GUEST_PREFIX):], isa)
    else:
        data = read_input(name)
        if data.startswith(MAGIC):
            if base is not None:
                raise UserError(f"{name}: --base applies to raw binaries only; this is an image")
            image = Image.from_bytes(data, source=name)
        else:
            if isa is None or base is None:
                raise ImageError(f"{name}: not a hybridvmm image; for a raw binary give --isa NAME and --base ADDR")
            image = raw_image(data, isa, base, entry, source=name)
            entry = None
    if isa is not None:
        image.isa = isa
    if entry is not None:
        image.entry = entry
    load_isa(image.isa)  # an unknown ISA is reported here, once, for every command
    return image
