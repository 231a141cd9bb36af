"""The devices of the RISC-V machine, at QEMU ``virt``'s physical addresses.

=============  ==========  =====================================================================
device         base        what it does here
=============  ==========  =====================================================================
test finisher  0x0010_0000 SiFive test device: 0x5555 → exit 0, ``code << 16 | 0x3333`` → exit
                           ``code``, 0x7777 → reset
CLINT          0x0200_0000 ``msip`` (+0), ``mtimecmp`` (+0x4000), ``mtime`` (+0xbff8); mtime
                           counts retired instructions, so the timer interrupt arrives at an
                           exact instruction: a timed event (:mod:`.events`) is scheduled for it
PLIC           0x0c00_0000 interrupt controller, M and S contexts (:mod:`.plic`)
UART           0x1000_0000 NS16550A, output and input, PLIC irq 10 (:mod:`.uart`)
virtio         0x1000_1000 eight virtio-mmio transports, a block device on the first, PLIC
                           irqs 1-8 (:mod:`.virtio`)
RAM            0x8000_0000 storage byte 0 (see :mod:`hybridvmm.isas.riscv.machine`)
HTIF           symbols     ``tohost``/``fromhost`` words in RAM found from the ELF's symbols
=============  ==========  =====================================================================

MMIO accesses run only with the exact machine state (the memory paths raise
:class:`~hybridvmm.machine.traps.SyncSignal` from the hot loop first), so a device always sees
the exact instruction count.  Other physical addresses outside RAM raise access faults.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING, Protocol

from hybridvmm.isas.riscv.constants import MSI, MTI
from hybridvmm.isas.riscv.csrs import TM
from hybridvmm.isas.riscv.uart import Uart

__all__ = ["FOREVER", "Bus", "Clint", "Device", "Htif", "TestFinisher", "Uart"]

if TYPE_CHECKING:
    from hybridvmm.isas.riscv.machine import RiscvMachine

M64 = (1 << 64) - 1
FOREVER = 1 << 62
"""Countdowns longer than this are never reached: the timer is left off."""


class Device(Protocol):
    """A memory-mapped device: ``read``/``write`` take the offset from ``base``."""

    name: str
    base: int
    size: int

    def read(self, offset: int, size: int) -> int | None:
        """The value read (None: no register there, an access fault)."""

    def write(self, offset: int, size: int, value: int) -> bool:
        """Perform a write; False: no register there, an access fault."""

    def state(self) -> dict: ...

    def set_state(self, state: dict) -> None: ...


def _field(value: int, offset: int, size: int, reg: int, width: int) -> int | None:
    """The bytes ``[offset, offset+size)`` of a ``width``-byte register at ``reg`` holding ``value``."""
    if offset < reg or offset + size > reg + width:
        return None
    return value >> 8 * (offset - reg) & ((1 << 8 * size) - 1)


def _merge(old: int, offset: int, size: int, reg: int, value: int) -> int:
    shift = 8 * (offset - reg)
    mask = ((1 << 8 * size) - 1) << shift
    return (old & ~mask) | (value << shift & mask)


class Clint:
    """Core-local interruptor: software interrupt and the deterministic timer."""

    name = "clint"
    base = 0x0200_0000
    size = 0x1_0000
    MSIP, MTIMECMP, MTIME = 0x0, 0x4000, 0xBFF8

    def __init__(self, machine: "RiscvMachine"):
        self.m = machine
        self.msip = 0
        self.mtimecmp = M64
        """Reset value: never (QEMU leaves MTIP clear until mtimecmp is written)."""

    def mtime(self) -> int:
        return self.m.csr.counter(TM)

    def read(self, offset: int, size: int) -> int | None:
        for reg, width, value in ((self.MSIP, 4, self.msip), (self.MTIMECMP, 8, self.mtimecmp),
                                  (self.MTIME, 8, None)):
            if reg <= offset < reg + width:
                return _field(self.mtime() if value is None else value, offset, size, reg, width)
        return None

    def write(self, offset: int, size: int, value: int) -> bool:
        if _field(0, offset, size, self.MSIP, 4) is not None:
            self.msip = _merge(self.msip, offset, size, self.MSIP, value) & 1
            csr = self.m.csr
            csr.mip = csr.mip | 1 << MSI if self.msip else csr.mip & ~(1 << MSI)
            return True
        if _field(0, offset, size, self.MTIMECMP, 8) is not None:
            self.mtimecmp = _merge(self.mtimecmp, offset, size, self.MTIMECMP, value) & M64
            self.time_changed()
            return True
        if _field(0, offset, size, self.MTIME, 8) is not None:
            self.m.csr.set_counter(TM, _merge(self.mtime(), offset, size, self.MTIME, value))
            return True
        return False

    EVENT = "timer"

    def time_changed(self) -> None:
        """mtime or mtimecmp changed: MTIP is ``mtime >= mtimecmp`` after the current
        instruction; schedule the timed event for the instruction at which it becomes so."""
        m = self.m
        completing = m.exact
        after = self.mtime() + (1 if completing else 0)
        csr = m.csr
        if after >= self.mtimecmp:
            csr.mip |= 1 << MTI
            m.events.cancel(self.EVENT)
            return
        csr.mip &= ~(1 << MTI)
        n = self.mtimecmp - after
        if n < FOREVER:
            m.events.schedule(self.EVENT, n, completing=completing)
        else:
            m.events.cancel(self.EVENT)

    def expired(self) -> None:
        """mtime has reached mtimecmp (the timed event, or a countdown armed directly)."""
        self.m.csr.mip |= 1 << MTI

    def state(self) -> dict:
        return {"msip": self.msip, "mtimecmp": self.mtimecmp}

    def set_state(self, state: dict) -> None:
        self.msip, self.mtimecmp = state["msip"], state["mtimecmp"]


class TestFinisher:
    """QEMU virt's SiFive test device: a guest ends the emulation with a status."""

    name = "test-finisher"
    base = 0x0010_0000
    size = 0x1000
    PASS, FAIL, RESET = 0x5555, 0x3333, 0x7777

    def __init__(self, machine: "RiscvMachine"):
        self.m = machine

    def read(self, offset: int, size: int) -> int | None:
        return 0 if offset < 4 else None

    def write(self, offset: int, size: int, value: int) -> bool:
        if offset != 0:
            return False
        status, code = value & 0xFFFF, value >> 16 & 0xFFFF
        if status == self.PASS:
            self.m.guest_exit(0, "")
        elif status == self.FAIL:
            self.m.guest_exit(code, f"guest reported failure {code}")
        elif status == self.RESET:
            self.m.reset(self.m.reset_entry)
        return True

    def state(self) -> dict:
        return {}

    def set_state(self, state: dict) -> None:
        pass


class Htif:
    """The host-target interface of spike and the riscv-tests: ``tohost``/``fromhost`` words.

    It watches storage: a store over ``tohost`` notifies it (the words are marked, so the
    store leaves the hot loop first).  ``tohost`` is a 64-bit ``device << 56 | command << 48
    | payload``.  Device 0, command 0 with an odd payload is *exit* with code ``payload >> 1``
    (riscv-tests: 0 = pass, N = test N failed); with an even payload it is a system call whose
    64-bit argument block is at physical ``payload`` (only ``write(1 or 2, buf, len)`` is
    served; every call is acknowledged with ``fromhost = 1``).  Device 1, command 1 prints the
    low byte on the console.  Every command acts when the high word is stored, as QEMU's HTIF
    does: RV32 code stores a 64-bit value low word first (GCC, and the riscv-tests'
    ``sw TESTNUM, tohost; sw zero, tohost+4``), so a low word alone — a character with an odd
    code, say — must not be taken for an exit.
    """

    SYS_WRITE = 64

    def __init__(self, machine: "RiscvMachine", tohost: int, fromhost: int | None):
        self.m = machine
        self.tohost = tohost
        self.fromhost = fromhost
        st = machine.storage
        self._t = machine.storage_index(tohost)
        self._f = machine.storage_index(fromhost) if fromhost is not None else None
        self._busy = False
        st.mark(self._t, self._t + 8, 1)
        machine.device_words.update({self._t >> 2, (self._t >> 2) + 1})
        self._root = st.offset + self._t
        st.watch(self)

    def close(self) -> None:
        st = self.m.storage
        st.mark(self._t, self._t + 8, -1)
        self.m.device_words.difference_update({self._t >> 2, (self._t >> 2) + 1})
        st.unwatch(self)

    def drop_physical(self, start: int, end: int) -> None:
        """A store over root ``[start, end)``: act if it wrote ``tohost``."""
        t = self._root
        if self._busy or end <= t or start >= t + 8:
            return
        if end <= t + 4:
            return  # only the low word: RV32 code stores the high word next, and that store acts
        st = self.m.storage
        value = int.from_bytes(st.read(self._t, 8), "little")
        if not value:
            return
        device, command, payload = value >> 56, value >> 48 & 0xFF, value & ((1 << 48) - 1)
        if device == 0 and command == 0 and payload & 1:
            self.m.guest_exit(payload >> 1, f"test {payload >> 1} failed" if payload >> 1 else "")
            return
        self._busy = True
        try:
            if device == 0 and command == 0:
                self._syscall(payload)
                self._respond(1)
            elif device == 1 and command == 1:
                self.m.console_out(payload & 0xFF)
                self._respond(value & ~((1 << 48) - 1))
            else:
                self._respond(0)
        finally:
            self._busy = False

    def _respond(self, value: int) -> None:
        st = self.m.storage
        st.write(self._t, bytes(8))
        if self._f is not None and value:
            st.write(self._f, value.to_bytes(8, "little"))

    def _syscall(self, address: int) -> None:
        m = self.m
        block = m.read_physical(address, 64)
        if block is None:
            return
        which, fd, buf, length = (int.from_bytes(block[8 * i:8 * i + 8], "little") for i in range(4))
        if which == self.SYS_WRITE and fd in (1, 2):
            data = m.read_physical(buf, length)
            if data is not None:
                for b in data:
                    m.console_out(b)
                m.write_physical(address, length.to_bytes(8, "little"))


class Bus:
    """Physical addresses outside RAM: which device answers (None: an access fault)."""

    def __init__(self, devices: list):
        self.devices = devices

    @property
    def devices(self) -> list:
        return self._devices

    @devices.setter
    def devices(self, devices: list) -> None:
        self._devices = sorted(devices, key=lambda d: d.base)
        self._bases = [d.base for d in self._devices]

    def find(self, address: int):
        k = bisect_right(self._bases, address) - 1
        if k >= 0:
            d = self._devices[k]
            if address < d.base + d.size:
                return d, address - d.base
        return None, 0

    def read(self, address: int, size: int) -> int | None:
        d, off = self.find(address)
        return None if d is None else d.read(off, size)

    def write(self, address: int, size: int, value: int) -> bool:
        d, off = self.find(address)
        return False if d is None else d.write(off, size, value)
