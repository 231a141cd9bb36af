"""What the RISC-V machine has at QEMU ``virt``'s addresses, and how a run configures it.

:data:`MEMORY_MAP` lists the devices (``info`` and ``run --help`` print it).  A command
configures the machines it builds — their RAM size and their disk — with
:func:`configured`: every :class:`~hybridvmm.isas.riscv.machine.RiscvMachine` made inside
it (the bare machine, each VM's virtual hart, a comparison's reference runs) takes the
RAM size and its own private copy of the drive, so ``run``, ``compare`` and the lock-step
search see one platform without each passing it along.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator

from hybridvmm.machine.drive import Drive


@dataclass(frozen=True)
class Platform:
    """The configurable part of the machine: RAM bytes (None: what the image needs, at
    least 1 MiB) and the disk behind virtio0 (None: no disk)."""

    ram: int | None = None
    drive: Drive | None = None


_PLATFORM: ContextVar[Platform] = ContextVar("riscv_platform", default=Platform())


def current() -> Platform:
    """The platform machines built now get."""
    return _PLATFORM.get()


@contextmanager
def configured(ram: int | None = None, drive: Drive | None = None) -> Iterator[Platform]:
    """Build the machines of this block with ``ram`` bytes of RAM and a copy of ``drive``."""
    platform = Platform(ram, drive)
    token = _PLATFORM.set(platform)
    try:
        yield platform
    finally:
        _PLATFORM.reset(token)


@dataclass(frozen=True)
class Region:
    name: str
    base: int
    size: int
    irq: int | None
    what: str


MEMORY_MAP = (
    Region("test finisher", 0x0010_0000, 0x1000, None, "SiFive test device: 0x5555 pass, code<<16|0x3333 fail, "
                                                       "0x7777 reset"),
    Region("CLINT", 0x0200_0000, 0x1_0000, None, "msip, mtimecmp, mtime (counts retired instructions)"),
    Region("PLIC", 0x0C00_0000, 0x60_0000, None, "95 sources, contexts 0 = M-mode and 1 = S-mode of hart 0"),
    Region("UART", 0x1000_0000, 0x100, 10, "NS16550A: console output and input (RX FIFO, interrupts)"),
    Region("virtio0", 0x1000_1000, 0x1000, 1, "virtio-mmio v2 block device on --drive (empty without it)"),
    Region("virtio1-7", 0x1000_2000, 0x7000, None, "empty virtio-mmio transports (device id 0), irqs 2-8"),
    Region("RAM", 0x8000_0000, 0, None, "--ram SIZE (default: what the image needs, at least 1 MiB)"),
)


def describe() -> list[str]:
    """The memory map as text lines."""
    lines = []
    for r in MEMORY_MAP:
        span = f"0x{r.base:08x}-0x{r.base + r.size - 1:08x}" if r.size else f"0x{r.base:08x}-"
        irq = f"irq {r.irq:<3}" if r.irq is not None else " " * 7
        lines.append(f"{r.name:<14}{span:<24}{irq} {r.what}")
    return lines
