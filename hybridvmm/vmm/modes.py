"""The monitor's modes as data (docs/modes.md, 'The modes'): who runs each kind of guest code, what gets patched.

The five designs differ in three policy bits, so they are one record each rather than
five classes: whether virtual-supervisor code and virtual-user code are interpreted (run
by the monitor's interpreter against the virtual state) or executed directly on the host
(in real user mode), and which sensitive-unprivileged instructions are scanned for and
patched into traps before they run directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from hybridvmm.errors import UserError


@dataclass(frozen=True)
class Mode:
    """One monitor design."""

    name: str
    interpret_supervisor: bool
    interpret_user: bool
    patch: str | None
    """None, or the patch policy (``user-sensitive`` / ``all-sensitive``) applied lazily to
    code before it executes directly."""
    description: str

    def interprets(self, mode_name: str, user_mode: str = "user") -> bool:
        """Does this design interpret code running in the guest's virtual ``mode_name``?"""
        return self.interpret_user if mode_name == user_mode else self.interpret_supervisor


MODES: dict[str, Mode] = {
    m.name: m
    for m in (
        Mode("pure", False, False, None,
             "trap-and-emulate: all guest code runs directly, deprivileged; privileged instructions trap and are emulated"),
        Mode("interpret", True, True, None,
             "every guest instruction executed by the monitor's interpreter against the virtual state"),
        Mode("hybrid", True, False, "user-sensitive",
             "virtual-supervisor code interpreted (100 %), virtual-user code direct, user-sensitive sites patched"),
        Mode("hybrid-no-patch", True, False, None,
             "as hybrid, without patching user code (Theorem 3's monitor on an ISA that needs more)"),
        Mode("patch", False, False, "all-sensitive",
             "all code direct, after lazy scan-and-patch of every sensitive-unprivileged instruction"),
    )
}
"""Every monitor mode by name (``bare`` is the machine without a monitor)."""

BARE = "bare"
RUN_MODES = (BARE, "pure", "interpret", "hybrid", "patch")
"""What ``run --mode`` accepts (``hybrid --no-patch`` is the mode ``hybrid-no-patch``)."""
COMPARE_MODES = ("pure", "interpret", "hybrid-no-patch", "hybrid", "patch")
"""The monitor modes ``compare`` runs by default, in the prediction table's column order."""


def mode_named(name: str) -> Mode:
    """The mode called ``name`` (UserError listing them if there is none)."""
    mode = MODES.get(name)
    if mode is None:
        raise UserError(f"unknown monitor mode '{name}' (modes: {', '.join(MODES)})")
    return mode
