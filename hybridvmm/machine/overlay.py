"""What a machine's ``load_overlay`` must provide: the guest's own bytes under a monitor's patches.

A monitor writes its patches (trap instructions) into guest storage for real.  A machine
model that *honours* the overlay (``Machine.honours_code_overlay``) serves every load of a
patched word from it, so the guest still reads what it stored; a model that does not would
hand the guest the traps, so nothing may be patched under it.
"""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable


@runtime_checkable
class CodeOverlay(Protocol):
    """The load overlay a monitor installs (its patch set, :class:`hybridvmm.vmm.patches.PatchSet`)."""

    patched: Sequence[int]
    """Per root word: non-zero where patched bytes lie (loads of that word ask the overlay)."""

    def touches(self, lo: int, hi: int) -> bool:
        """Does any patch lie in root ``[lo, hi)``?  A mapping it does not touch loads at full speed."""
        ...

    def original_word(self, p: int) -> int:
        """The word at root ``p`` as the guest stored it."""
        ...

    def original_byte(self, p: int) -> int:
        """The byte at root ``p`` as the guest stored it."""
        ...
