"""Open whatever the user names as a program: an image file, an ELF executable, a raw
binary, or ``guest:NAME``.

Every subcommand that takes an image goes through :func:`load_program`, so ELF files,
raw binaries (``--isa NAME --base ADDR [--entry ADDR]``) and bundled guests work
everywhere alike, under one rule for the options:

* What a file is comes from its magic, never from the options: an image or an ELF given
  with ``--isa``/``--base`` is still an image or an ELF.
* ``--base`` places a raw binary; for an image, an ELF or a guest (which say where their
  sections lie) it is an error.
* ``--isa`` is required for a raw binary.  For an image, an ELF or a guest, which carry
  their own ISA, it may name that ISA or another variant of its family (``--isa pgm-x86``
  on a pgm image: the same encoding, other classes); an ISA of another family
  (``--isa rv32`` on a pgm image) is an error, since the bytes would mean nothing.
* Running a program needs storage: :func:`check_storage` refuses an image that would need
  more than the run's limit (:data:`DEFAULT_STORAGE_LIMIT` unless ``--storage`` raises it,
  up to :data:`hybridvmm.isas.MAX_STORAGE`).
"""

from __future__ import annotations

from hybridvmm.asm import uses_directives
from hybridvmm.elf import is_elf, load_elf
from hybridvmm.errors import ImageError, UserError, read_input
from hybridvmm.guests import build_guest
from hybridvmm.image import MAGIC, Image, raw_image
from hybridvmm.isa import ISA, check_family, load_isa

GUEST_PREFIX = "guest:"

DEFAULT_STORAGE_LIMIT = 64 << 20
"""The most storage ``run`` and ``compare`` give one guest unless ``--storage`` raises it."""


def load_program(name: str, isa: str | None = None, base: int | None = None, entry: int | None = None, *,
                 keep_isa: bool = False, storage_limit: int | None = None) -> Image:
    """The image ``name`` refers to, run as ``isa`` if given (see the module docstring).

    ``keep_isa``: check ``isa`` against the program's own but keep the program's in the
    image (what ``info`` shows and ``patch`` writes).  ``storage_limit``: the program is to
    be run; refuse it if it needs more storage than that.
    """
    if name.startswith(GUEST_PREFIX):
        if base is not None:
            raise UserError(f"{name}: --base applies to raw binaries only; this is a bundled guest")
        image = build_guest(name[len(GUEST_PREFIX):], isa)
    else:
        data = read_input(name)
        if data.startswith(MAGIC) or is_elf(data):
            kind = "an image" if data.startswith(MAGIC) else "an ELF file"
            if base is not None:
                raise UserError(f"{name}: --base applies to raw binaries only; this is {kind}")
            image = Image.from_bytes(data, source=name) if data.startswith(MAGIC) else load_elf(data, source=name)
            if isa is not None:
                check_family(name, kind, image.isa, isa)
                if not keep_isa:
                    image.isa = isa
        else:
            if isa is None or base is None:
                raise ImageError(f"{name}: not a hybridvmm image or ELF file; " + (
                    f"it looks like assembly source: 'python -m hybridvmm asm {name} -o OUT.img' assembles it"
                    if _looks_like_source(name, data) else "for a raw binary give --isa NAME and --base ADDR"))
            top = 1 << load_isa(isa).word_bits
            check_address("--base", base, isa, top)
            if base + len(data) > top:
                raise UserError(f"{name}: {len(data)} bytes at --base {base:#x} run past the end of {isa}'s address space")
            image = raw_image(data, isa, base, entry, source=name)
    chosen = load_isa(image.isa)  # an unknown ISA is reported here, once, for every command
    if entry is not None:
        check_address("--entry", entry, image.isa, 1 << chosen.word_bits)
        image.entry = entry
    if storage_limit is not None:
        check_storage(image, chosen, storage_limit)
    return image


SOURCE_SUFFIXES = (".s", ".S", ".asm")


def _looks_like_source(name: str, data: bytes) -> bool:
    """An assembly source handed where a program is expected (the first thing a new user
    tries): UTF-8 text, named like a source or written with the assembler's directives."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return "\0" not in text and (name.endswith(SOURCE_SUFFIXES) or uses_directives(text))


def check_address(option: str, value: int, isa: str, top: int) -> None:
    """An address given on the command line must be one of the ISA's (0 .. 2**word_bits - 1)."""
    if not 0 <= value < top:
        raise UserError(f"{option} {value:#x}: not an address of {isa} (0..{top - 1:#x})")


def check_storage(image: Image, isa: ISA, limit: int) -> None:
    """Refuse to run ``image`` if its machine would need more storage than ``limit``."""
    from hybridvmm.isas import MAX_STORAGE, storage_for  # the machine models import this module's users

    if limit > MAX_STORAGE:
        raise UserError(f"--storage {limit:#x}: at most {MAX_STORAGE:#x} bytes ({MAX_STORAGE >> 20} MiB) are supported")
    needed = storage_for(isa, image)
    if needed > limit:
        raise UserError(f"{image.source or 'image'}: needs {needed:#x} bytes of storage (its sections reach {image.high:#x}); "
                        f"the limit is {limit:#x} ({_size_words(limit)}): --storage SIZE raises it, up to {MAX_STORAGE >> 20} MiB")


def _size_words(n: int) -> str:
    """``n`` bytes in the largest binary unit it is a whole number of (as --storage is written)."""
    for shift, unit in ((30, "GiB"), (20, "MiB"), (10, "KiB")):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n} bytes"
