"""Where ``patch``/``unpatch`` write, and the rule that they never clobber a file unasked.

Default output: the input's stem + ``.patched`` + its suffix, next to it (``os.img`` →
``os.patched.img``; ``guest:NAME`` → ``NAME.patched.img`` here); ``unpatch`` drops a
``.patched`` from the stem, or adds ``.unpatched``.  An existing output file — the input
included — is overwritten only with ``--force``.
"""

from __future__ import annotations

from pathlib import Path

from hybridvmm.errors import UserError
from hybridvmm.loading import GUEST_PREFIX

PATCHED = ".patched"


def _input_path(name: str) -> Path:
    if name.startswith(GUEST_PREFIX):
        return Path(name[len(GUEST_PREFIX):] + ".img")
    return Path(name)


def default_patched(name: str) -> Path:
    p = _input_path(name)
    return p.with_name(p.stem + PATCHED + p.suffix)


def default_unpatched(name: str) -> Path:
    p = _input_path(name)
    if p.stem.endswith(PATCHED):
        return p.with_name(p.stem[: -len(PATCHED)] + p.suffix)
    return p.with_name(p.stem + ".unpatched" + p.suffix)


def check_output(name: str, output: Path, force: bool) -> None:
    """Refuse (one line, exit 2) to overwrite the input or any existing file without --force."""
    if force:
        return
    source = None if name.startswith(GUEST_PREFIX) else Path(name)
    if source is not None and output.exists() and source.exists() and output.resolve() == source.resolve():
        raise UserError(f"{output}: refusing to overwrite the input image (use -o OUT, or --force)")
    if output.exists():
        raise UserError(f"{output}: output file exists (use -o OUT for another name, or --force to overwrite)")
