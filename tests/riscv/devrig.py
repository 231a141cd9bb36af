"""Helpers for the platform device tests (PLIC, UART receive, virtio): guests, disks, runs."""

from __future__ import annotations

from pathlib import Path

from hybridvmm.asm import assemble
from hybridvmm.image import Image
from hybridvmm.isas import build_machine
from hybridvmm.isas.riscv.machine import RiscvMachine
from hybridvmm.machine.drive import Drive

GUESTS = Path(__file__).resolve().parent / "guests"
DISK_TEXT = b"hello from the disk\n"


def guest(name: str) -> Image:
    """A guest of tests/riscv/guests, assembled for rv32."""
    image = assemble((GUESTS / f"{name}.s").read_text(), "rv32", f"{name}.s")
    image.source = f"{name}.s"
    return image


def disk(sectors: int = 4) -> bytes:
    """A small disk image: sector 0 begins with :data:`DISK_TEXT`, the rest is zero."""
    data = bytearray(512 * sectors)
    data[:len(DISK_TEXT)] = DISK_TEXT
    return bytes(data)


def machine(image: Image, drive: Drive | None = None, feed: bytes = b"", **platform) -> RiscvMachine:
    with RiscvMachine.platform(drive=drive, **platform):
        m = build_machine("rv32", image=image)
    if feed:
        m.console.feed(feed)
    return m


def raw_binary(image: Image) -> bytes:
    """The image as one blob from its lowest address (what QEMU's ``-kernel`` loads)."""
    lo = min(s.address for s in image.sections)
    blob = bytearray(max(s.end for s in image.sections) - lo)
    for s in image.sections:
        blob[s.address - lo:s.end - lo] = s.data
    return bytes(blob)
