"""Recording what a guest can see of a run, and the bare machine's run of it.

Popek and Goldberg's equivalence is checked on what the guest can see: the **events**, in
order, each with the guest instruction count at which it happened (every console byte
written and every trap or interrupt delivered to the guest: cause, saved pc, address, the
guest's mode); how the run **ended**; and the **final state** (registers, flags, the
virtual PSW, and storage as the guest sees it, original bytes under patches).

This is the bare side of that comparison, and it knows nothing of the monitor: ``run
--mode bare`` and the reference runs of ``compare`` need no ``vmm/``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from hybridvmm.image import Image
from hybridvmm.isa import ISA, load_isa
from hybridvmm.isas import build_machine, storage_for
from hybridvmm.machine import Machine, TrapSignal
from hybridvmm.patch_table import original_view


@dataclass(frozen=True)
class Event:
    """One guest-visible event: a console byte or a trap/interrupt the guest received.

    ``instruction`` (not compared) is what stood at ``address`` under the guest's mapping
    at the time, for reports."""

    count: int
    kind: str
    detail: str
    address: int
    mode: str
    instruction: Any = field(default=None, compare=False)
    identity: bool = field(default=True, compare=False)
    """Whether ``address`` is also the physical address (the guest's mapping is the identity
    there), so that the image's symbols name it (not compared)."""

    def describe(self) -> str:
        return f"{self.kind} {self.detail} at 0x{self.address:x} ({self.mode} mode, after {self.count:,} instructions)"

    def summary(self, label: str = "") -> str:
        """What happened, without where and when (which the report gives once); ``label``
        names the mode in the ISA's words (default: ``user mode``)."""
        where = label or f"{self.mode} mode"
        return f"{self.kind} {self.detail} in {where}" + ("" if self.kind == "out" else f" at 0x{self.address:x}")


def _instruction(m: Machine, address: int) -> Any:
    try:
        return m.instruction_at(address)
    except TrapSignal:
        return None


def physical_address(m: Machine, address: int) -> int | None:
    """The guest-physical address the current mapping's code at ``address`` came from (the
    image's addresses; None if ``address`` is not translated)."""
    p = m.physical_of(address)
    return None if p is None else p - m.storage.offset + m.physical_base


def identity_mapped(m: Machine, address: int) -> bool:
    """Is the code at ``address`` where the current mapping puts it physically too?"""
    return physical_address(m, address) == address


def trap_detail(m: Machine, trap) -> str:
    """A trap as the guest sees it: its cause, the saved pc and — where the machine model
    says — the trap value (RISC-V's xTVAL) and the mode it enters."""
    detail = f"{trap.name} pc=0x{trap.pc:x}"
    value = getattr(m, "trap_value", None)
    if value is not None:
        detail += f" tval=0x{value(trap):x}"
    target = getattr(m, "trap_target", None)
    if target is not None:
        detail += f" to {target(trap)}"
    return detail


class Recorder:
    """Records a machine's guest-visible events through its output and trap hooks."""

    def __init__(self, machine: Machine):
        self.events: list[Event] = []
        self.machine = machine
        machine.hook_output(self._out)
        machine.hook_trap(self._trap)

    def _out(self, m: Machine, byte: int) -> None:
        self.events.append(Event(m.stats.instructions, "out", f"0x{byte:02x}", m.pc, m.mode, _instruction(m, m.pc),
                                 identity_mapped(m, m.pc)))

    def _trap(self, m: Machine, trap) -> None:
        kind = "interrupt" if trap.interrupt else "trap"
        self.events.append(Event(m.stats.instructions, kind, trap_detail(m, trap), trap.address, m.mode,
                                 _instruction(m, trap.address), identity_mapped(m, trap.address)))


@dataclass
class GuestRun:
    """Everything one run of one guest showed, bare or under a monitor mode."""

    mode: str
    reason: str
    detail: str
    events: list[Event]
    console: bytes
    state: dict[str, Any]
    storage: bytes
    instructions: int
    wall_s: float
    vm: Any = None
    """The run's :class:`~hybridvmm.vmm.VM` under a monitor (None bare)."""
    monitor: Any = None
    """The :class:`~hybridvmm.vmm.Monitor` that ran it (None bare)."""


def bare_image(image: Image) -> Image:
    """What the bare machine runs of ``image``: its original bytes if it was patched."""
    return original_view(image) if image.patches else image


def run_bare(image: Image, isa: ISA | str | None = None, max_steps: int = 50_000_000, console_input: bytes = b"") -> GuestRun:
    """``image`` on the bare machine, recorded."""
    isa = load_isa(isa or image.isa) if not isinstance(isa, ISA) else isa
    m = build_machine(isa, image=bare_image(image), storage_size=storage_for(isa, image))
    m.console.feed(console_input)
    rec = Recorder(m)
    start = time.perf_counter()
    result = m.run(max_steps)
    wall = time.perf_counter() - start
    return GuestRun("bare", result.reason, result.detail, rec.events, bytes(m.console.output), m.cpu_state(),
                    m.storage.snapshot(), m.stats.instructions, wall)


def show_value(value: Any) -> str:
    """A state value as reports print it: integers in hex."""
    if isinstance(value, bool) or not isinstance(value, int):
        return str(value)
    return f"0x{value:x}"
