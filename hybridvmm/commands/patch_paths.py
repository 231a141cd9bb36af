"""Where ``patch``/``unpatch`` write by default.

The input's stem + ``.patched.img``, next to it: what ``patch`` writes is an image whatever
it read (``os.img`` → ``os.patched.img``, ``prog.elf`` → ``prog.patched.img``, a raw
``kernel.bin`` → ``kernel.patched.img``; ``guest:NAME`` → ``NAME.patched.img`` here).
``unpatch`` drops a ``.patched`` from the stem, or adds ``.unpatched``.  Whether the file
may be written is the one output rule of every command
(:func:`hybridvmm.cli_support.check_output`).
"""

from __future__ import annotations

from pathlib import Path

from hybridvmm.errors import UserError
from hybridvmm.loading import GUEST_PREFIX

PATCHED = ".patched"
IMAGE_SUFFIX = ".img"


def _input_path(name: str) -> Path:
    path = Path(name[len(GUEST_PREFIX):] + ".img") if name.startswith(GUEST_PREFIX) else Path(name)
    if not path.name:
        raise UserError(f"'{name}': not a file name to derive the output's from; give -o OUT")
    return path


def default_patched(name: str) -> Path:
    p = _input_path(name)
    return p.with_name(p.stem + PATCHED + IMAGE_SUFFIX)


def default_unpatched(name: str) -> Path:
    p = _input_path(name)
    if p.stem.endswith(PATCHED):
        return p.with_name(p.stem[: -len(PATCHED)] + p.suffix)
    return p.with_name(p.stem + ".unpatched" + p.suffix)
