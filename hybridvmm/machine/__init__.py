"""The ISA-agnostic machine layer: storage, code caches, run loop, traps, hooks, stats,
snapshots.  ISA semantics and system models live in :mod:`hybridvmm.isas`."""

from hybridvmm.machine.console import Console
from hybridvmm.machine.core import Machine
from hybridvmm.machine.hooks import HookHandle, Hooks
from hybridvmm.machine.overlay import CodeOverlay
from hybridvmm.machine.results import HALTED, MAX_STEPS, STOPPED, TRAP_LOOP, YIELDED, RunResult, StepResult
from hybridvmm.machine.snapshot import Snapshot
from hybridvmm.machine.stats import Stats
from hybridvmm.machine.storage import Storage
from hybridvmm.machine.traps import Trap, TrapSignal

__all__ = [
    "CodeOverlay", "Console", "HALTED", "HookHandle", "Hooks", "MAX_STEPS", "Machine", "RunResult", "STOPPED", "Snapshot",
    "Stats", "StepResult", "Storage", "TRAP_LOOP", "Trap", "TrapSignal", "YIELDED",
]
