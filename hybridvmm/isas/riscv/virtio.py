"""virtio-mmio transports of QEMU ``virt`` (version 2), the first holding a block device.

QEMU ``virt`` has eight transports at 0x1000_1000 + 0x1000·i with PLIC irq 1 + i.  Here the
first holds a virtio-blk device when the run has a drive (``--drive FILE``); the others,
and the first without a drive, are empty (magic, version and vendor read as usual,
device id 0: a driver finds no device there, as on QEMU).

=====  =====================  ===========================================================
off.   register               here
=====  =====================  ===========================================================
0x000  MagicValue             0x74726976 ("virt")
0x004  Version                2
0x008  DeviceID               2 (block), 0 (empty transport)
0x00c  VendorID               0x554d4551 ("QEMU")
0x010  DeviceFeatures         the 32 bits selected by DeviceFeaturesSel (0x014):
                              BLK_SIZE (6), FLUSH (9), VERSION_1 (32)
0x020  DriverFeatures         the 32 bits selected by DriverFeaturesSel (0x024)
0x030  QueueSel               one queue, 0 (others read QueueNumMax 0)
0x034  QueueNumMax            1024 (QEMU's VIRTQUEUE_MAX_SIZE)
0x038  QueueNum               1..1024
0x044  QueueReady             1 once the driver has placed the queue
0x050  QueueNotify            the requests are performed at once (synchronously)
0x060  InterruptStatus        bit 0 used buffer, bit 1 configuration change
0x064  InterruptACK           clears those bits
0x070  Status                 0 resets; FEATURES_OK stays set only if the driver's
                              features are a subset of the device's
0x080  QueueDesc{Low,High}    guest-physical addresses of the descriptor table,
0x090  QueueDriver{Low,High}  the available ring,
0x0a0  QueueDevice{Low,High}  and the used ring
0x0fc  ConfigGeneration       0
0x100  config space           capacity (512-byte sectors, 64-bit), blk_size 512 at +20
=====  =====================  ===========================================================

Registers take 32-bit accesses (others read 0 and are ignored, as on QEMU); the
configuration space takes 1, 2, 4 and 8 bytes.

Requests (split virtqueue).  A chain of descriptors (device-readable first, then
device-writable; no indirect descriptors) is one request, in any layout: its readable
bytes start with the header ``{type u32, reserved u32, sector u64}`` (type IN = 0, OUT = 1,
FLUSH = 4), an OUT's data follows; its writable bytes are an IN's data and end with the
status byte (0 OK, 1 I/O error — outside the disk or not whole sectors —, 2 unsupported).
The device appends ``{id = head, len = bytes written}`` to the used ring, advances
``used.idx``, sets InterruptStatus bit 0 and signals its PLIC line (unless the driver set
``VIRTQ_AVAIL_F_NO_INTERRUPT``).  A malformed chain (a loop, an address outside RAM, a
readable descriptor after a writable one) makes the device set DEVICE_NEEDS_RESET and
raise a configuration-change interrupt, as QEMU does, and ignore the queue until reset.

The device reads and writes guest RAM through the machine's physical addresses (its
``read_physical``/``write_physical``: a VM's RAM when it is a VM's virtual hart), and the
disk is the machine's own copy of the drive (:mod:`hybridvmm.machine.drive`).
"""

from __future__ import annotations

import struct
import zlib
from typing import TYPE_CHECKING, Any

from hybridvmm.machine.drive import SECTOR, Drive

if TYPE_CHECKING:
    from hybridvmm.isas.riscv.machine import RiscvMachine

BASE, STRIDE, TRANSPORTS = 0x1000_1000, 0x1000, 8
FIRST_IRQ = 1
MAGIC, VERSION, VENDOR = 0x7472_6976, 2, 0x554D_4551
BLOCK_DEVICE = 2
QUEUE_MAX = 1024

F_BLK_SIZE, F_FLUSH, F_VERSION_1 = 6, 9, 32
FEATURES = 1 << F_BLK_SIZE | 1 << F_FLUSH | 1 << F_VERSION_1

(MAGIC_VALUE, VERSION_REG, DEVICE_ID, VENDOR_ID, DEVICE_FEATURES, DEVICE_FEATURES_SEL, DRIVER_FEATURES,
 DRIVER_FEATURES_SEL, QUEUE_SEL, QUEUE_NUM_MAX, QUEUE_NUM, QUEUE_READY, QUEUE_NOTIFY, INTERRUPT_STATUS,
 INTERRUPT_ACK, STATUS, QUEUE_DESC_LOW, QUEUE_DESC_HIGH, QUEUE_DRIVER_LOW, QUEUE_DRIVER_HIGH, QUEUE_DEVICE_LOW,
 QUEUE_DEVICE_HIGH, CONFIG_GENERATION, CONFIG) = (
    0x000, 0x004, 0x008, 0x00C, 0x010, 0x014, 0x020, 0x024, 0x030, 0x034, 0x038, 0x044, 0x050, 0x060, 0x064, 0x070,
    0x080, 0x084, 0x090, 0x094, 0x0A0, 0x0A4, 0x0FC, 0x100)
QUEUE_ADDRESSES = {QUEUE_DESC_LOW: "desc", QUEUE_DRIVER_LOW: "driver", QUEUE_DEVICE_LOW: "device"}

S_DRIVER_OK, S_FEATURES_OK, S_NEEDS_RESET = 4, 8, 64
USED_BUFFER, CONFIG_CHANGE = 1, 2
D_NEXT, D_WRITE, D_INDIRECT = 1, 2, 4
AVAIL_NO_INTERRUPT = 1
T_IN, T_OUT, T_FLUSH = 0, 1, 4
OK, IOERR, UNSUPP = 0, 1, 2
CONFIG_SIZE = 60
"""``struct virtio_blk_config``'s size: reads beyond it return all ones, as on QEMU."""


class Broken(Exception):
    """The driver broke the virtqueue's rules (the device needs a reset)."""


class VirtioMmio:
    """One virtio-mmio transport: a block device on ``drive``, or empty (see the module docstring)."""

    size = STRIDE

    def __init__(self, machine: "RiscvMachine", index: int = 0, drive: Drive | None = None):
        self.m = machine
        self.index = index
        self.name = f"virtio{index}"
        self.base = BASE + STRIDE * index
        self.irq = FIRST_IRQ + index
        self.drive = drive
        self.digest = 0
        """CRC-32 over every sector written (its number and data): the disk's history in the
        compared state, without hashing the disk."""
        self.reset()

    @property
    def present(self) -> bool:
        return self.drive is not None

    def reset(self) -> None:
        """Device reset (Status written 0): everything but the disk's contents."""
        self.status = 0
        self.device_sel = self.driver_sel = 0
        self.driver_features = 0
        self.queue_sel = 0
        self.num = QUEUE_MAX
        self.ready = 0
        self.desc = self.driver = self.device = 0
        self.last_avail = self.used_idx = 0
        self.isr = 0
        self.broken = False

    def _signal(self) -> None:
        self.m.plic.signal(self.irq, self.isr != 0)

    # --- registers ---------------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int | None:
        if offset >= CONFIG:
            return self._config(offset - CONFIG, size)
        if size != 4 or offset & 3:
            return 0
        if offset == MAGIC_VALUE:
            return MAGIC
        if offset == VERSION_REG:
            return VERSION
        if offset == VENDOR_ID:
            return VENDOR
        if not self.present:
            return 0
        if offset == DEVICE_ID:
            return BLOCK_DEVICE
        if offset == DEVICE_FEATURES:
            return FEATURES >> 32 * self.device_sel & 0xFFFF_FFFF if self.device_sel < 2 else 0
        if offset == QUEUE_NUM_MAX:
            return QUEUE_MAX if self.queue_sel == 0 else 0
        if offset == QUEUE_READY:
            return self.ready if self.queue_sel == 0 else 0
        if offset == INTERRUPT_STATUS:
            return self.isr
        if offset == STATUS:
            return self.status
        if offset == CONFIG_GENERATION:
            return 0
        base = offset & ~4
        if base in QUEUE_ADDRESSES and self.queue_sel == 0:
            return getattr(self, QUEUE_ADDRESSES[base]) >> (32 if offset & 4 else 0) & 0xFFFF_FFFF
        return 0

    def _config(self, offset: int, size: int) -> int:
        if size not in (1, 2, 4, 8) or not self.present:
            return 0
        if offset + size > CONFIG_SIZE:
            return (1 << 8 * size) - 1
        blob = struct.pack("<Q12xI", self.drive.sectors, SECTOR).ljust(CONFIG_SIZE, b"\0")
        return int.from_bytes(blob[offset:offset + size], "little")

    def write(self, offset: int, size: int, value: int) -> bool:
        if offset >= CONFIG or size != 4 or offset & 3 or not self.present:
            return True                      # config space is read-only here; bad sizes are ignored
        value &= 0xFFFF_FFFF
        if offset == DEVICE_FEATURES_SEL:
            self.device_sel = value
        elif offset == DRIVER_FEATURES:
            if self.driver_sel < 2 and not self.status & S_FEATURES_OK:
                shift = 32 * self.driver_sel
                self.driver_features = (self.driver_features & ~(0xFFFF_FFFF << shift)) | value << shift
        elif offset == DRIVER_FEATURES_SEL:
            self.driver_sel = value
        elif offset == QUEUE_SEL:
            self.queue_sel = value
        elif offset in (QUEUE_NUM, QUEUE_READY) or offset & ~4 in QUEUE_ADDRESSES:
            self._queue_register(offset, value)
        elif offset == QUEUE_NOTIFY:
            if value == 0:
                self._notify()
        elif offset == INTERRUPT_ACK:
            self.isr &= ~value
            self._signal()
        elif offset == STATUS:
            self._set_status(value & 0xFF)
        return True

    def _queue_register(self, offset: int, value: int) -> None:
        if self.queue_sel != 0:
            return
        if offset == QUEUE_NUM:
            if 1 <= value <= QUEUE_MAX:
                self.num = value
        elif offset == QUEUE_READY:
            self.ready = value & 1
        else:
            name = QUEUE_ADDRESSES[offset & ~4]
            shift = 32 if offset & 4 else 0
            setattr(self, name, (getattr(self, name) & ~(0xFFFF_FFFF << shift)) | value << shift)

    def _set_status(self, value: int) -> None:
        if value == 0:
            self.reset()
            self._signal()
            return
        if value & S_FEATURES_OK and not self.status & S_FEATURES_OK and self.driver_features & ~FEATURES:
            value &= ~S_FEATURES_OK          # features the device does not offer: refused
        self.status = value | (self.status & S_NEEDS_RESET)

    # --- the virtqueue ----------------------------------------------------------------------------
    def _notify(self) -> None:
        if not self.ready or self.broken:
            return
        try:
            done = self._process()
        except Broken:
            self.broken = True
            if self.status & S_DRIVER_OK:
                self.status |= S_NEEDS_RESET
                self.isr |= CONFIG_CHANGE
                self._signal()
            return
        if done and not self._u16(self.driver) & AVAIL_NO_INTERRUPT:
            self.isr |= USED_BUFFER
            self._signal()

    def _process(self) -> int:
        num = self.num
        avail = self._u16(self.driver + 2)
        if (avail - self.last_avail) & 0xFFFF > num:
            raise Broken("available index runs ahead of the queue")
        done = 0
        while self.last_avail != avail:
            head = self._u16(self.driver + 4 + 2 * (self.last_avail % num))
            written = self._request(head)
            slot = self.device + 4 + 8 * (self.used_idx % num)
            self._put(slot, struct.pack("<II", head, written))
            self.used_idx = (self.used_idx + 1) & 0xFFFF
            self._put(self.device + 2, struct.pack("<H", self.used_idx))
            self.last_avail = (self.last_avail + 1) & 0xFFFF
            done += 1
        return done

    def _chain(self, head: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The chain at ``head``: its device-readable and device-writable (address, length)s."""
        readable: list[tuple[int, int]] = []
        writable: list[tuple[int, int]] = []
        i = head
        for _ in range(self.num):
            if i >= self.num:
                raise Broken(f"descriptor {i} outside the queue")
            addr, length, flags, nxt = struct.unpack("<QIHH", self._get(self.desc + 16 * i, 16))
            if flags & D_INDIRECT:
                raise Broken("indirect descriptors were not offered")
            if flags & D_WRITE:
                writable.append((addr, length))
            elif writable:
                raise Broken("a device-readable descriptor after a device-writable one")
            else:
                readable.append((addr, length))
            if not flags & D_NEXT:
                return readable, writable
            i = nxt
        raise Broken("a descriptor chain longer than the queue (a loop)")

    def _request(self, head: int) -> int:
        """Perform the request at ``head``; the bytes written to the driver's buffers."""
        readable, writable = self._chain(head)
        data = b"".join(self._get(a, n) for a, n in readable)
        room = sum(n for _, n in writable)
        if len(data) < 16 or room < 1:
            raise Broken("a request without its header or its status byte")
        kind, _, sector = struct.unpack_from("<IIQ", data)
        drive = self.drive
        start = sector * SECTOR
        reply = b""
        status = OK
        if kind == T_IN:
            length = room - 1
            if length % SECTOR or start + length > drive.sectors * SECTOR:
                status = IOERR
            else:
                reply = drive.read(start, length)
        elif kind == T_OUT:
            body = data[16:]
            if len(body) % SECTOR or start + len(body) > drive.sectors * SECTOR:
                status = IOERR
            else:
                drive.write(start, body)
                self.digest = zlib.crc32(body, zlib.crc32(sector.to_bytes(8, "little"), self.digest))
        elif kind != T_FLUSH:
            status = UNSUPP
        self._scatter(writable, reply, status)
        return len(reply) + 1

    def _scatter(self, writable: list[tuple[int, int]], reply: bytes, status: int) -> None:
        """Write ``reply`` over the writable buffers from the start, and the status byte last."""
        at = 0
        for addr, length in writable:
            part = reply[at:at + length]
            if part:
                self._put(addr, part)
                at += len(part)
        addr, length = writable[-1]
        self._put(addr + length - 1, bytes([status]))

    # --- guest memory ------------------------------------------------------------------------------
    def _get(self, paddr: int, length: int) -> bytes:
        data = self.m.read_physical(paddr, length)
        if data is None:
            raise Broken(f"[0x{paddr:x}, +{length}) is not RAM")
        return data

    def _put(self, paddr: int, data: bytes) -> None:
        try:
            self.m.write_physical(paddr, data)
        except ValueError:
            raise Broken(f"[0x{paddr:x}, +{len(data)}) is not RAM") from None

    def _u16(self, paddr: int) -> int:
        return int.from_bytes(self._get(paddr, 2), "little")

    # --- state ----------------------------------------------------------------------------------------
    FIELDS = ("status", "device_sel", "driver_sel", "driver_features", "queue_sel", "num", "ready", "desc", "driver",
              "device", "last_avail", "used_idx", "isr", "broken", "digest")

    def state(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.FIELDS}

    def set_state(self, state: dict[str, Any]) -> None:
        for name in self.FIELDS:
            setattr(self, name, state[name])


def transports(machine: "RiscvMachine", drive: Drive | None) -> list[VirtioMmio]:
    """QEMU virt's eight transports, the first on ``drive`` (if any)."""
    return [VirtioMmio(machine, i, drive if i == 0 else None) for i in range(TRANSPORTS)]
