"""A whole-machine snapshot: storage, architectural and system state, devices, counters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hybridvmm.machine.stats import Stats


@dataclass(frozen=True)
class Snapshot:
    """Immutable copy of everything ``restore`` needs to put a machine back exactly.

    ``cpu`` is the ISA's own state dictionary (registers, flags, pc, mode, R, timer ...);
    it is opaque to the generic layer.
    """

    isa: str
    storage: bytes
    cpu: dict[str, Any]
    console: tuple[bytes, int, bytes]
    stats: Stats
    halted: bool
