"""Open whatever the user names as a program: an image file, an ELF executable, a raw
binary, or ``guest:NAME``.

Every subcommand that takes an image goes through :func:`load_program`, so ELF files,
raw binaries (``--isa NAME --base ADDR [--entry ADDR]``) and bundled guests work
everywhere alike.  What a file is comes from its magic, never from the options: an ELF
given with ``--isa`` is still an ELF, and ``--isa`` may then only name its ISA family or
a variant of it.
"""

from __future__ import annotations


from hybridvmm.elf import is_elf, load_elf
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
        if data.startswith(MAGIC) or is_elf(data):
            kind = "an image" if data.startswith(MAGIC) else "an ELF file"
            if base is not None:
                raise UserError(f"{name}: --base applies to raw binaries only; this is {kind}")
            image = Image.from_bytes(data, source=name) if data.startswith(MAGIC) else load_elf(data, source=name)
            if isa is not None and is_elf(data):
                check_family(name, image.isa, isa)
        else:
            if isa is None or base is None:
                raise ImageError(f"{name}: not a hybridvmm image or ELF file; for a raw binary give --isa NAME and --base ADDR")
            image = raw_image(data, isa, base, entry, source=name)
            entry = None
    if isa is not None:
        image.isa = isa
    if entry is not None:
        image.entry = entry
    load_isa(image.isa)  # an unknown ISA is reported here, once, for every command
    return image


def check_family(name: str, family: str, isa: str) -> None:
    """``--isa`` for an ELF may confirm its family or choose a variant of it, nothing else."""
    lineage = load_isa(isa).lineage
    if family not in lineage:
        raise UserError(f"{name}: an ELF for {family}; --isa {isa} is not {family} or a variant of it")
