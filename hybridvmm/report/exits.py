"""When each exit happened: a timeline recorded from outside the monitor.

The monitor counts exits by cause (``VmStats.exits``) but keeps no times.  An
:class:`ExitTimeline` attached to a :class:`~hybridvmm.vmm.monitor.Monitor` wraps the host's
trap handler (the dispatcher): each call is one exit, its cause is the counter the
dispatcher bumped, and its time is the VM's guest-instruction count when it left the guest
(the count after the exit, less the instructions emulated in it).  Runs without a timeline
attached pay nothing.  Exits a family counts after the run rather than when they happen
(RISC-V's ``refill``s of the composed mapping) have no time, so they are not on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ExitTimeline:
    """Exits of each VM of one monitor run: ``events[vm name]`` = [(guest instruction, cause)]."""

    events: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def attach(self, monitor: Any) -> None:
        """Record every exit ``monitor`` takes from now on (before ``monitor.run()``)."""
        inner = monitor.host.trap_handler
        for vm in monitor.vms:
            self.events.setdefault(vm.name, [])

        def on_exit(trap: Any) -> None:
            vm = monitor.current
            stats = vm.stats
            before, emulated = dict(stats.exits), stats.emulated
            try:
                inner(trap)
            finally:
                cause = next((c for c, n in stats.exits.items() if n != before.get(c, 0)), "other")
                self.events[vm.name].append((vm.guest_instructions - (stats.emulated - emulated), cause))

        monitor.host.trap_handler = on_exit

    def counts(self, name: str) -> dict[str, int]:
        """Exits of VM ``name`` by cause, as recorded."""
        out: dict[str, int] = {}
        for _, cause in self.events.get(name, ()):
            out[cause] = out.get(cause, 0) + 1
        return out
