"""virtio-mmio (version 2) with a block device: the transport's registers, feature
negotiation, split-virtqueue requests and the used ring, InterruptStatus/ACK through PLIC
irq 1, broken chains; a driver guest bare and under every monitor mode, each VM with its
own disk; and the safety of the user's disk image (never modified unless --drive-write,
then replaced atomically)."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess

import pytest

from devrig import DISK_TEXT, disk, guest, machine, raw_binary
from hybridvmm.isas.riscv.machine import RiscvMachine
from hybridvmm.machine.drive import Drive
from hybridvmm.vmm import COMPARE_MODES
from hybridvmm.vmm.compare import compare_images, run_monitor

BASE = 0x1000_1000
RAM = 0x8000_0000
DESC, AVAIL, USED, HDR, BUF, STATUS = (RAM + k for k in (0x1000, 0x2000, 0x3000, 0x4000, 0x5000, 0x6000))
GUEST_OUTPUT = (b"capacity 4\n0: " + DISK_TEXT + b"1: -\n1: written by the guest\npast the end: 1\n")


def rd(m, off):
    return m.bus.read(BASE + off, 4)


def wr(m, off, value):
    return m.bus.write(BASE + off, 4, value)


@pytest.fixture
def m():
    return machine_with(Drive(disk()))


def machine_with(drive):
    with RiscvMachine.platform(drive=drive):
        return RiscvMachine("rv32", 0x10000)


def ready(m, num=8):
    """What a driver does before its first request (features: BLK_SIZE only)."""
    for status in (0, 1, 3):
        wr(m, 0x070, status)
    wr(m, 0x020, 1 << 6)
    wr(m, 0x070, 0xB)
    wr(m, 0x030, 0)
    wr(m, 0x038, num)
    for reg, address in ((0x080, DESC), (0x090, AVAIL), (0x0A0, USED)):
        wr(m, reg, address)
        wr(m, reg + 4, 0)
    wr(m, 0x044, 1)
    wr(m, 0x070, 0xF)


def put(m, address, data):
    m.write_physical(address, data)


def submit(m, kind, sector, length=512, *, head=0, extra_flags=0):
    """One request (header, data, status) at descriptors head..head+2; returns the used entry."""
    put(m, HDR, struct.pack("<IIQ", kind, 0, sector))
    data_flags = 1 | (2 if kind == 0 else 0) | extra_flags
    for k, (addr, n, flags) in enumerate(((HDR, 16, 1), (BUF, length, data_flags), (STATUS, 1, 2))):
        put(m, DESC + 16 * (head + k), struct.pack("<QIHH", addr, n, flags, head + k + 1))
    idx = int.from_bytes(m.read_physical(AVAIL + 2, 2), "little")
    put(m, AVAIL + 4 + 2 * (idx % 8), struct.pack("<H", head))
    put(m, AVAIL + 2, struct.pack("<H", idx + 1))
    wr(m, 0x050, 0)
    used = int.from_bytes(m.read_physical(USED + 2, 2), "little")
    return struct.unpack("<II", m.read_physical(USED + 4 + 8 * ((used - 1) % 8), 8))


def status(m):
    return m.read_physical(STATUS, 1)[0]


# --- the transport ----------------------------------------------------------------------------------
def test_identity_registers(m):
    assert [rd(m, o) for o in (0, 4, 8, 0xC)] == [0x74726976, 2, 2, 0x554D4551]
    assert rd(m, 0x034) == 1024 and rd(m, 0x044) == 0 and rd(m, 0x0FC) == 0
    wr(m, 0x030, 1)
    assert rd(m, 0x034) == 0                         # one queue


def test_empty_transports_and_no_drive():
    m = RiscvMachine("rv32", 0x10000)
    for base in range(BASE, BASE + 8 * 0x1000, 0x1000):
        assert [m.bus.read(base + o, 4) for o in (0, 4, 8, 0xC)] == [0x74726976, 2, 0, 0x554D4551]
    assert m.bus.read(BASE + 0x8000, 4) is None and m.drive is None


def test_features_by_select_and_config_space(m):
    wr(m, 0x014, 0)
    low = rd(m, 0x010)
    wr(m, 0x014, 1)
    assert low == (1 << 6 | 1 << 9) and rd(m, 0x010) == 1
    wr(m, 0x014, 2)
    assert rd(m, 0x010) == 0
    assert m.bus.read(BASE + 0x100, 8) == 4 and m.bus.read(BASE + 0x114, 4) == 512
    assert m.bus.read(BASE + 0x100, 1) == 4 and m.bus.read(BASE + 0x13C, 1) == 0xFF


def test_features_ok_only_for_offered_features(m):
    wr(m, 0x070, 3)
    wr(m, 0x020, 1 << 5)                            # RO: not offered
    wr(m, 0x070, 0xB)
    assert rd(m, 0x070) == 3
    wr(m, 0x070, 0)                                 # reset
    wr(m, 0x070, 3)
    wr(m, 0x024, 1)
    wr(m, 0x020, 1)                                 # VERSION_1
    wr(m, 0x070, 0xB)
    assert rd(m, 0x070) == 0xB and m.virtio[0].driver_features == 1 << 32


def test_queue_addresses_read_back_and_reset_clears_them(m):
    ready(m)
    assert rd(m, 0x080) == DESC & 0xFFFFFFFF and rd(m, 0x084) == 0 and rd(m, 0x044) == 1
    wr(m, 0x070, 0)
    assert rd(m, 0x080) == 0 and rd(m, 0x044) == 0 and rd(m, 0x070) == 0


def test_register_accesses_other_than_words_read_zero(m):
    assert m.bus.read(BASE, 1) == 0 and m.bus.read(BASE, 2) == 0 and m.bus.write(BASE + 0x70, 1, 1)
    assert rd(m, 0x070) == 0


# --- requests -----------------------------------------------------------------------------------
def test_a_read_fills_the_buffer_and_the_used_ring(m):
    ready(m)
    assert submit(m, 0, 0) == (0, 513)
    assert m.read_physical(BUF, len(DISK_TEXT)) == DISK_TEXT and status(m) == 0
    assert rd(m, 0x060) == 1 and m.plic.pending == 1 << 1
    wr(m, 0x064, 1)
    assert rd(m, 0x060) == 0 and m.plic.pending == 0


def test_a_write_goes_to_the_copy_only(m):
    ready(m)
    put(m, BUF, b"X" * 512)
    assert submit(m, 1, 2) == (0, 1) and status(m) == 0
    assert m.drive.data[1024:1536] == b"X" * 512 and m.drive.modified
    assert submit(m, 0, 2, head=3) == (3, 513) and m.read_physical(BUF, 4) == b"XXXX"


def test_errors_are_statuses(m):
    ready(m)
    assert submit(m, 0, 4) == (0, 1) and status(m) == 1            # past the end
    assert submit(m, 0, 0, length=100) == (0, 1) and status(m) == 1  # not whole sectors
    assert submit(m, 8, 0) == (0, 1) and status(m) == 2             # GET_ID: unsupported
    assert submit(m, 4, 0) == (0, 1) and status(m) == 0             # FLUSH


def test_no_interrupt_when_the_driver_asks_for_none(m):
    ready(m)
    put(m, AVAIL, struct.pack("<H", 1))
    submit(m, 0, 0)
    assert rd(m, 0x060) == 0 and m.plic.pending == 0


def test_a_broken_chain_needs_a_reset(m):
    ready(m)
    put(m, HDR, struct.pack("<IIQ", 0, 0, 0))
    put(m, DESC, struct.pack("<QIHH", HDR, 16, 1, 0))             # loops on itself
    put(m, AVAIL + 4, struct.pack("<H", 0))
    put(m, AVAIL + 2, struct.pack("<H", 1))
    wr(m, 0x050, 0)
    assert rd(m, 0x070) & 0x40 and rd(m, 0x060) == 2 and m.plic.pending == 1 << 1
    assert int.from_bytes(m.read_physical(USED + 2, 2), "little") == 0
    wr(m, 0x070, 0)
    assert rd(m, 0x070) == 0 and not m.virtio[0].broken


@pytest.mark.parametrize("bad", ["outside RAM", "readable after writable", "indirect"])
def test_other_broken_chains(m, bad):
    ready(m)
    if bad == "outside RAM":
        submit(m, 0, 0)
        put(m, DESC + 16, struct.pack("<QIHH", 0x1000, 512, 3, 2))
    elif bad == "readable after writable":
        submit(m, 0, 0)
        put(m, DESC + 16, struct.pack("<QIHH", BUF, 512, 3, 2))
        put(m, DESC + 32, struct.pack("<QIHH", STATUS, 1, 0, 0))
    else:
        submit(m, 0, 0)
        put(m, DESC + 16, struct.pack("<QIHH", BUF, 512, 7, 2))
    put(m, AVAIL + 4 + 2, struct.pack("<H", 0))
    put(m, AVAIL + 2, struct.pack("<H", 2))
    wr(m, 0x050, 0)
    assert rd(m, 0x070) & 0x40


# --- the driver guest -------------------------------------------------------------------------------
def test_the_driver_guest_reads_and_writes_the_disk():
    drive = Drive(disk())
    m = machine(guest("virtio_blk"), drive)
    assert m.run(200_000).halted and m.exit_code == 0
    assert bytes(m.console.output) == GUEST_OUTPUT and m.stats.traps == {"m-external": 5}
    assert m.drive.data[512:533] == b"written by the guest\n" and not drive.modified


def mmio_accesses(image) -> int:
    """The device accesses the guest makes on the bare machine."""
    m = machine(image, Drive(disk()))
    count = [0]
    read, write = m.bus.read, m.bus.write

    def counted(fn):
        def access(*args):
            count[0] += 1
            return fn(*args)
        return access
    m.bus.read, m.bus.write = counted(read), counted(write)
    assert m.run(200_000).halted
    return count[0]


def test_the_driver_guest_is_equivalent_in_every_mode_and_every_mmio_access_exits():
    image = guest("virtio_blk")
    with RiscvMachine.platform(drive=Drive(disk())):
        [c] = compare_images([image], list(COMPARE_MODES), "rv32", 200_000)
    assert c.bare.console == GUEST_OUTPUT
    for row in c.rows:
        assert row.equivalent, f"{row.mode}: {row.divergence.describe()}"
    pure = next(row for row in c.rows if row.mode == "pure")
    assert pure.run.vm.stats.exits["mmio"] == mmio_accesses(image)   # the guest runs directly: each one exits


def test_each_vm_has_its_own_disk():
    image = guest("virtio_blk")
    original = Drive(disk())
    with RiscvMachine.platform(drive=original):
        runs = run_monitor([image, image], "pure", "rv32", 200_000, slice_length=50)
    assert [r.console for r in runs] == [GUEST_OUTPUT, GUEST_OUTPUT]   # neither saw the other's write
    a, b = (r.vm.vcpu.drive for r in runs)
    assert a is not b and a.modified and b.modified and not original.modified


@pytest.mark.skipif(shutil.which("qemu-system-riscv32") is None, reason="qemu-system-riscv32 not installed")
def test_the_driver_guest_agrees_with_qemu(tmp_path):
    kernel, image = tmp_path / "virtio.bin", tmp_path / "disk.img"
    kernel.write_bytes(raw_binary(guest("virtio_blk")))
    image.write_bytes(disk())
    done = subprocess.run(
        ["qemu-system-riscv32", "-machine", "virt", "-cpu", "rv32,c=false,h=false,f=false,d=false", "-bios", "none",
         "-kernel", str(kernel), "-nographic", "-monitor", "none", "-global", "virtio-mmio.force-legacy=false",
         "-drive", f"file={image},if=none,format=raw,id=x0", "-device", "virtio-blk-device,drive=x0,bus=virtio-mmio-bus.0"],
        capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0 and done.stdout == GUEST_OUTPUT
    ours = machine(guest("virtio_blk"), Drive(disk()))
    ours.run(200_000)
    assert image.read_bytes() == bytes(ours.drive.data)


# --- the user's disk image ------------------------------------------------------------------------
@pytest.fixture
def files(tmp_path):
    path = tmp_path / "virtio.img"
    guest("virtio_blk").save(path)
    drive = tmp_path / "disk.img"
    drive.write_bytes(disk())
    os.chmod(drive, 0o640)
    return str(path), drive


@pytest.mark.parametrize("mode", ["bare", "pure", "hybrid"])
def test_a_run_never_modifies_the_drive(cli, files, mode):
    image, drive = files
    before = (drive.read_bytes(), drive.stat().st_mtime_ns)
    r = cli("run", image, "--drive", str(drive), "--mode", mode)
    assert r.code == 0 and r.out == GUEST_OUTPUT.decode()
    assert (drive.read_bytes(), drive.stat().st_mtime_ns) == before


@pytest.mark.parametrize("mode", ["bare", "pure"])
def test_drive_write_replaces_the_file_atomically(cli, files, mode):
    image, drive = files
    inode = drive.stat().st_ino
    r = cli("run", image, "--drive", str(drive), "--drive-write", "--mode", mode)
    assert r.code == 0
    data = drive.read_bytes()
    assert data[:512] == disk()[:512] and data[512:533] == b"written by the guest\n" and len(data) == 2048
    assert drive.stat().st_ino != inode and oct(drive.stat().st_mode & 0o777) == oct(0o640)  # renamed over, mode kept
    assert [p.name for p in drive.parent.iterdir() if p.name.startswith(".")] == []


def test_drive_write_through_a_symbolic_link_writes_its_target(cli, files):
    image, drive = files
    link = drive.parent / "link.img"
    link.symlink_to(drive.name)
    assert cli("run", image, "--drive", str(link), "--drive-write").code == 0
    assert link.is_symlink() and drive.read_bytes()[512:520] == b"written "


def test_compare_with_a_drive_and_ram(cli, files):
    image, drive = files
    before = drive.read_bytes()
    r = cli("compare", image, "--drive", str(drive), "--ram", "2M", "--modes", "pure,hybrid", "--json")
    assert r.code == 0, r.err
    assert all(run["equivalent"] for run in json.loads(r.out)["runs"]) and drive.read_bytes() == before


def test_ram_sets_the_size_of_ram(cli, files, tmp_path):
    image, drive = files
    with RiscvMachine.platform(ram=16 << 20):
        from hybridvmm.isas import build_machine
        assert build_machine("rv32", image=guest("virtio_blk")).storage.size == 16 << 20
    r = cli("run", image, "--drive", str(drive), "--ram", "16M", "--mode", "pure", "--json")
    assert r.code == 0 and json.loads(r.out)["window"]["size"] == 16 << 20


@pytest.mark.parametrize(("args", "message"), [
    (["--drive", "missing.img"], "missing.img: no such file"),
    (["--drive", "."], "is a directory"),
    (["--drive-write"], "--drive-write writes the --drive FILE back"),
    (["--ram", "1000000"], "--ram 0xf4240: a multiple of 64K"),
    (["--ram", "64K"], "a multiple of 64K from 1M"),
    (["--ram", "1G"], "a multiple of 64K from 1M to 512M"),
    (["--ram", "x"], "not a size"),
])
def test_bad_drive_and_ram_options_are_one_line_errors(cli, files, args, message):
    r = cli("run", files[0], *args)
    assert r.code == 2 and message in r.err and len(r.err.strip().splitlines()) == 1


def test_a_pgm_guest_has_no_drive(cli, files):
    r = cli("run", "guest:fib", "--drive", str(files[1]))
    assert r.code == 2 and "no configurable platform" in r.err
