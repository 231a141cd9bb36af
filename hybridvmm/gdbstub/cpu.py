"""What the stub needs of one guest CPU, whatever its ISA: registers, memory through the
guest's current mapping, where a breakpoint's instruction may lie, and which data an
instruction is about to touch.

A :class:`CpuView` wraps the machine that holds the guest's state — the bare machine, or a
VM's virtual CPU under the monitor — and a :class:`GuestMemory` that reads storage as the
guest sees it (the guest's own bytes under a monitor's patches).  ISA families subclass it
(:mod:`hybridvmm.gdbstub.riscv`, :mod:`hybridvmm.gdbstub.pgm`); :func:`cpu_view` picks the one the
ISA family's record in :mod:`hybridvmm.isas` names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hybridvmm.gdbstub.tdesc import Register, target_xml
from hybridvmm.isa import Instruction
from hybridvmm.machine.core import Machine
from hybridvmm.machine.storage import Storage


@dataclass(frozen=True)
class Access:
    """A data access an instruction is about to make: virtual address, bytes, direction."""

    address: int
    size: int
    write: bool

    def overlaps(self, lo: int, length: int) -> bool:
        return self.address < lo + length and lo < self.address + self.size


class GuestMemory:
    """Storage as the guest sees it: ``overlay`` (a monitor's patch set) serves the guest's
    own bytes wherever a patch lies.  Addresses are storage indices of ``storage``."""

    def __init__(self, storage: Storage, overlay: Any = None):
        self.storage = storage
        self.overlay = overlay

    @property
    def size(self) -> int:
        return self.storage.size

    def read(self, index: int, length: int) -> bytes | None:
        if index < 0 or length < 0 or index + length > self.storage.size:
            return None
        if self.overlay is not None:
            return self.overlay.original_bytes(self.storage.offset + index, length)
        return self.storage.read(index, length)

    def write(self, index: int, data: bytes) -> bool:
        """Write as a guest store would (decoded code there, and any patch, is dropped)."""
        if index < 0 or index + len(data) > self.storage.size:
            return False
        self.storage.write(index, data)
        return True


class CpuView:
    """One guest CPU as gdb sees it (see the module docstring)."""

    architecture: str | None = None
    registers: list[Register] = []
    g_count: int = 0
    """How many of ``registers`` (the first ones) a ``g`` packet carries."""
    flush_for_breakpoints: bool = False
    """Whether inserting a breakpoint must make the machine translate its code afresh (so
    that every mapping's copy of the address meets the translate hook): true where that
    forgets nothing the guest could notice (pgm has no TLB)."""
    types_xml: str = ""

    def __init__(self, machine: Machine, memory: GuestMemory):
        self.m = machine
        self.memory = memory

    # --- description ------------------------------------------------------------------------
    def target_xml(self) -> str:
        return target_xml(self.architecture, self.registers, types=self.types_xml)

    def register(self, regnum: int) -> Register | None:
        return next((r for r in self.registers if r.regnum == regnum), None)

    @property
    def pc(self) -> int:
        return self.m.pc

    @property
    def address_mask(self) -> int:
        return (1 << self.m.isa.word_bits) - 1

    def describe(self) -> str:
        """One line for ``info threads``: the mode the guest is in."""
        return self.m.mode

    # --- ISA responsibilities ---------------------------------------------------------------------
    def read_register(self, reg: Register) -> int | None:
        raise NotImplementedError

    def write_register(self, reg: Register, value: int) -> bool:
        raise NotImplementedError

    def translate(self, address: int) -> tuple[int, int] | None:
        """Where the guest's current data mapping puts virtual ``address``: (storage index,
        bytes that follow contiguously), or None where it is unmapped or not memory."""
        raise NotImplementedError

    def breakpoint_roots(self, address: int) -> set[int]:
        """Root storage addresses where the instruction at virtual ``address`` may lie
        under any mapping the machine has translated through (or translates now)."""
        raise NotImplementedError

    def accesses(self, machine: Machine, ins: Instruction) -> list[Access]:
        """The data ``ins`` is about to touch, computed from ``machine``'s registers (the
        machine executing it: the bare machine, the host or a VM's virtual CPU)."""
        raise NotImplementedError

    # --- memory -------------------------------------------------------------------------------------
    def read_memory(self, address: int, length: int) -> bytes:
        """Up to ``length`` bytes at virtual ``address`` (fewer where the mapping ends)."""
        out = bytearray()
        mask = self.address_mask
        while len(out) < length:
            where = self.translate((address + len(out)) & mask)
            if where is None:
                break
            index, room = where
            data = self.memory.read(index, min(length - len(out), room))
            if not data:
                break
            out += data
        return bytes(out)

    def write_memory(self, address: int, data: bytes) -> int:
        """Write at virtual ``address``; returns the bytes written (fewer where the mapping ends)."""
        done = 0
        mask = self.address_mask
        while done < len(data):
            where = self.translate((address + done) & mask)
            if where is None:
                break
            index, room = where
            n = min(len(data) - done, room)
            if n <= 0 or not self.memory.write(index, data[done:done + n]):
                break
            done += n
        return done


def cpu_view(machine: Machine, memory: GuestMemory) -> CpuView:
    """The view of ``machine``'s ISA family."""
    from hybridvmm.isas import gdb_view

    view = gdb_view(machine.isa)
    if view is None:
        raise ValueError(f"no gdb view of {machine.isa.name}")
    return view(machine, memory)
