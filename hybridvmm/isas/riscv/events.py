"""Timed device events of one hart, multiplexed on the core's single countdown.

The core has one countdown (:meth:`Machine.arm_countdown`): the hot loop runs exactly as
many instructions as it allows and then calls ``_expired``.  Several devices need an event
at an exact instruction — the CLINT's timer interrupt, the console's next input byte — so
this scheduler keeps each source's deadline and arms the countdown for the nearest one.
A monitor programs its real timer from ``vcpu.countdown``, so every event also arrives at
the same guest instruction under the monitor.

Time here is *retired instructions* (``stats.instructions``), the quantity the countdown
counts.  A deadline is absolute, so snapshots restore it together with the statistics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from hybridvmm.machine.core import Machine


class Events:
    """Named one-shot events at exact retired-instruction counts (see the module docstring)."""

    def __init__(self, machine: "Machine"):
        self.m = machine
        self.due: dict[str, int] = {}
        """Event name → the retired-instruction count at which it fires."""
        self.actions: dict[str, Callable[[], None]] = {}

    def register(self, name: str, action: Callable[[], None]) -> None:
        """``action()`` runs when event ``name`` fires (between instructions)."""
        self.actions[name] = action

    def _now(self, completing: bool) -> int:
        """Retired instructions once the current one (if ``completing``) has retired."""
        return self.m.stats.instructions + (1 if completing else 0)

    def schedule(self, name: str, n: int, *, completing: bool | None = None) -> None:
        """Fire ``name`` once ``n`` (≥ 1) more instructions have completed; while an
        instruction executes (``completing``, default: the machine's ``exact`` flag) it
        does not count, as for :meth:`Machine.arm_countdown`'s ``skip_current``."""
        if completing is None:
            completing = self.m.exact
        self.due[name] = self._now(completing) + max(1, n)
        self._arm(completing)

    def cancel(self, name: str) -> None:
        if self.due.pop(name, None) is not None:
            self._arm(self.m.exact)

    def pending(self, name: str) -> bool:
        return name in self.due

    def remaining(self, name: str) -> int | None:
        """Instructions until ``name`` fires (None: not scheduled)."""
        at = self.due.get(name)
        return None if at is None else at - self.m.stats.instructions

    def _arm(self, completing: bool) -> None:
        if not self.due:
            self.m.arm_countdown(0)
            return
        n = min(self.due.values()) - self._now(completing)
        self.m.arm_countdown(max(1, n), skip_current=completing)

    def expired(self) -> bool:
        """The countdown ran out: fire every event now due (earliest first, then by name)
        and arm for the next.  False if none was due (the countdown was armed directly,
        not by this scheduler)."""
        now = self.m.stats.instructions
        ready = sorted((at, name) for name, at in self.due.items() if at <= now)
        for _, name in ready:
            del self.due[name]
        for _, name in ready:
            self.actions[name]()
        if self.due:
            self._arm(False)
        return bool(ready)

    def state(self) -> dict[str, int]:
        return dict(self.due)

    def set_state(self, state: dict[str, int]) -> None:
        """Restore the deadlines (the caller restores the countdown itself)."""
        self.due = dict(state)

    def reset(self) -> None:
        self.due = {}
