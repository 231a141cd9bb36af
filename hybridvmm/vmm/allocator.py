"""The allocator: host storage for the monitor and a window of it for each VM.

Popek and Goldberg's allocator decides which resources each VM gets and composes the
guest's relocation with them.  Here host storage is laid out as a reserved monitor area
(the host's own low core, which no guest can name), then one window per VM, each aligned
to 64 KiB and followed by a guard gap no VM owns, so that a test hashing "everything
outside the VM's window" checks something real.  Composition of a guest's virtual R with
its window is ISA-specific and lives in the ISA's virtualization model.
"""

from __future__ import annotations

from dataclasses import dataclass

from hybridvmm.errors import UserError
from hybridvmm.machine.storage import Storage

ALIGN = 0x10000
MONITOR_AREA = 0x10000
GUARD = 0x10000
MAX_HOST_STORAGE = 1 << 30
"""The host storage the allocator will lay out at most (1 GiB)."""


def _round(n: int) -> int:
    return (n + ALIGN - 1) & ~(ALIGN - 1)


@dataclass(frozen=True)
class Allocation:
    """Where each VM's window lies in host storage: (offset, size) per VM."""

    host_size: int
    windows: tuple[tuple[int, int], ...]

    def window(self, storage: Storage, index: int) -> Storage:
        offset, size = self.windows[index]
        return storage.window(offset, size)

    def outside(self, index: int) -> list[tuple[int, int]]:
        """The host ranges VM ``index`` must never change: everything but its window."""
        offset, size = self.windows[index]
        return [(0, offset), (offset + size, self.host_size)]


def allocate(sizes: list[int]) -> Allocation:
    """Lay out windows of ``sizes`` bytes (each VM's storage as the bare machine would have it)."""
    at = MONITOR_AREA
    windows = []
    for size in sizes:
        if size <= 0:
            raise UserError("a VM needs storage")
        windows.append((at, size))
        at = _round(at + size) + GUARD
    if at > MAX_HOST_STORAGE:
        raise UserError(f"the VMs need 0x{at:x} bytes of host storage; the monitor lays out at most 0x{MAX_HOST_STORAGE:x}")
    return Allocation(at, tuple(windows))
