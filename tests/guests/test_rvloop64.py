"""rvloop64, rvloop at XLEN 64: its checksum computed here independently, that it really runs
in U-mode under Sv39, that every monitor mode is equivalent, that GNU as makes the same
bytes, and that it prints the same on QEMU's virt board."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from hybridvmm.guests import build_guest, guest_info, read_source
from hybridvmm.isas import build_machine
from hybridvmm.vmm.compare import compare_images

M64 = (1 << 64) - 1
RAM_BASE = 0x8000_0000
PREFIX = "riscv64-unknown-elf-"
AS, LD, OBJCOPY = (shutil.which(PREFIX + t) for t in ("as", "ld", "objcopy"))
QEMU = shutil.which("qemu-system-riscv64")


def loop_checksum(n: int) -> int:
    """rvloop64's loop, in Python (``addw``: the 32-bit sum, sign-extended)."""
    t3 = 0
    for t0 in range(1, n + 1):
        t3 = (t3 + t0) & M64
        t4 = ((t3 * t0) & M64) ^ t3
        t5 = ((t4 << 3) & M64) >> 1
        a0 = int((t5 & 0xFF) < t5)
        w = (t4 + t0) & 0xFFFF_FFFF
        a1 = (w - (1 << 32) if w >> 31 else w) & M64
        t3 = ((t3 + a0) & M64) ^ a1
    return t3


def test_registered_for_rv64_only():
    g = guest_info("rvloop64")
    assert (g.isa, g.variants, g.kind, g.origin) == ("rv64", ("rv64",), "workload", RAM_BASE)


def test_it_prints_the_checksum_of_its_loop_in_user_mode_under_sv39():
    m = build_machine("rv64", image=build_guest("rvloop64", small=True))
    assert m.run(1_000_000).halted and m.exit_code == 0
    assert m.console.text() == f"rvloop64: checksum 0x{loop_checksum(2000):016x}\n"
    assert m.stats.by_mode["user"] == 2000 * 15 + 7          # the loop, and the four instructions around it
    assert m.get_csr("satp") >> 60 == 8                       # Sv39


def test_every_mode_is_equivalent():
    [c] = compare_images([build_guest("rvloop64", small=True)], ["pure", "interpret", "hybrid", "patch"])
    assert [r.mode for r in c.rows if not r.equivalent] == []


def raw(image) -> bytes:
    """The image as one flat binary from its lowest address (what QEMU's -kernel loads)."""
    lo = min(s.address for s in image.sections)
    blob = bytearray(max(s.end for s in image.sections) - lo)
    for s in image.sections:
        blob[s.address - lo:s.end - lo] = s.data
    return bytes(blob)


@pytest.mark.skipif(not all((AS, LD, OBJCOPY)), reason="GNU binutils for RISC-V not installed")
def test_gnu_as_makes_the_same_bytes(tmp_path):
    src, obj, elf, out = (tmp_path / n for n in ("rvloop64.s", "rvloop64.o", "rvloop64.elf", "rvloop64.bin"))
    src.write_text(read_source("rvloop64.s"))
    # (-N: .data straight after .text, not on a page of its own, as the bundled assembler places it)
    subprocess.run([AS, "-march=rv64ima_zicsr_zifencei", "-mabi=lp64", "-mno-relax", str(src), "-o", str(obj)],
                   check=True, capture_output=True)
    subprocess.run([LD, "-m", "elf64lriscv", "-N", f"-Ttext=0x{RAM_BASE:x}", str(obj), "-o", str(elf)], check=True,
                   capture_output=True)
    subprocess.run([OBJCOPY, "-O", "binary", str(elf), str(out)], check=True)
    assert out.read_bytes() == raw(build_guest("rvloop64"))


@pytest.mark.skipif(QEMU is None, reason="qemu-system-riscv64 not installed (Debian qemu-system-misc)")
def test_qemu_prints_the_same(tmp_path):
    kernel = tmp_path / "rvloop64.bin"
    kernel.write_bytes(raw(build_guest("rvloop64", small=True)))
    done = subprocess.run([QEMU, "-machine", "virt", "-bios", "none", "-kernel", str(kernel), "-nographic", "-monitor", "none"],
                          capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert done.stdout.decode() == f"rvloop64: checksum 0x{loop_checksum(2000):016x}\n"
