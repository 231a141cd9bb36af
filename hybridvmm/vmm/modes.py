"""The monitor's modes as data (docs/modes.md, 'The modes'): who runs each kind of guest code, what gets patched.

The designs differ in two policies (and binary translation in how it runs what it does not
run directly), so they are one record each rather than classes:
which of the guest's *virtual* modes run directly on the host (in real user mode, every
privileged instruction trapping to the monitor) — the rest are interpreted, run by the
monitor's interpreter against the virtual state — and which sensitive-unprivileged
instructions are scanned for and patched into traps before they run directly.  The set of
direct modes is named, not derived from a user/supervisor pair, so the same records serve
a two-mode ISA (pgm: supervisor, user) and a three-mode one (RISC-V: machine, supervisor,
user).
"""

from __future__ import annotations

from dataclasses import dataclass

from hybridvmm.errors import UserError

EVERY_MODE = frozenset({"*"})
"""``Mode.direct`` for a design that runs guest code of every virtual mode directly."""


@dataclass(frozen=True)
class Mode:
    """One monitor design."""

    name: str
    direct: frozenset[str]
    """The virtual modes whose code runs directly (:data:`EVERY_MODE`: all of them)."""
    patch: str | None
    """None, or the patch policy (``user-sensitive`` / ``all-sensitive``) applied lazily to
    code before it executes directly."""
    description: str
    translates: bool = False
    """The code of the modes that do not run directly is *translated* (binary translation,
    compiled into the translation cache on first execution, each system instruction a
    callout of its interpreter routine), not interpreted one instruction at a time."""

    def runs_directly(self, mode_name: str) -> bool:
        """Does this design run code of the guest's virtual ``mode_name`` directly?"""
        return mode_name in self.direct or self.direct is EVERY_MODE

    def interprets(self, mode_name: str) -> bool:
        """Does this design interpret code running in the guest's virtual ``mode_name``?"""
        return not self.runs_directly(mode_name)

    @property
    def adapts(self) -> bool:
        """Can adaptive translation apply (some code runs directly, untranslated)?"""
        return bool(self.direct) and not self.translates

    @property
    def interprets_some(self) -> bool:
        """Does any virtual mode's code run in the interpreter while another's runs directly
        (so that the interpreter must hand over when the guest changes mode)?"""
        return self.direct is not EVERY_MODE and bool(self.direct)


MODES: dict[str, Mode] = {
    m.name: m
    for m in (
        Mode("pure", EVERY_MODE, None,
             "trap-and-emulate: all guest code runs directly, deprivileged; privileged instructions trap and are emulated"),
        Mode("interpret", frozenset(), None,
             "every guest instruction executed by the monitor's interpreter against the virtual state"),
        Mode("hybrid", frozenset({"user"}), "user-sensitive",
             "virtual-supervisor code interpreted (100 %), virtual-user code direct, user-sensitive sites patched"),
        Mode("hybrid-no-patch", frozenset({"user"}), None,
             "as hybrid, without patching user code (Theorem 3's monitor on an ISA that needs more)"),
        Mode("patch", EVERY_MODE, "all-sensitive",
             "all code direct, after lazy scan-and-patch of every sensitive-unprivileged instruction"),
        Mode("bt", frozenset({"user"}), "user-sensitive",
             "binary translation (VMware): virtual-supervisor code translated on first execution, its sensitive and "
             "privileged instructions calls into the monitor (no trap); user code direct, patched as in hybrid",
             translates=True),
    )
}
"""Every monitor mode by name (``bare`` is the machine without a monitor).  ``hybrid`` runs
only virtual *user* code directly: every more privileged mode (pgm's supervisor; RISC-V's
machine and supervisor) is interpreted, as Theorem 3's monitor does."""

BARE = "bare"
RUN_MODES = (BARE, "pure", "interpret", "hybrid", "patch", "bt")
"""What ``run --mode`` accepts (``hybrid --no-patch`` is the mode ``hybrid-no-patch``)."""
COMPARE_MODES = ("pure", "interpret", "hybrid-no-patch", "hybrid", "patch", "bt")
"""The monitor modes ``compare`` runs by default, in the prediction table's column order."""


def mode_named(name: str) -> Mode:
    """The mode called ``name`` (UserError listing them if there is none)."""
    mode = MODES.get(name)
    if mode is None:
        raise UserError(f"unknown monitor mode '{name}' (modes: {', '.join(MODES)})")
    return mode
