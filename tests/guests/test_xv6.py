"""xv6-riscv, the bundled real operating system: it boots to its shell and runs a scripted
session, exactly, bare and under trap-and-emulate (equivalent to the bare machine).

Each boot is about 63 million guest instructions (around 10 s here), so the suite boots it
twice, bare and under ``pure``; ``scripts/xv6_session.py`` runs longer sessions in every
mode and against QEMU.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hybridvmm.guests import build_guest
from hybridvmm.isas.riscv.platform import configured
from hybridvmm.machine.console import ConsoleInput
from hybridvmm.machine.drive import Drive
from hybridvmm.vmm.compare import compare_images

BOOT = b"\nxv6 kernel is booting\n\ninit: starting sh\n$ "
"""What xv6 prints from reset to its first prompt (the boot transcript QEMU gives)."""
SESSION = b"echo hello xv6\n"
LIMIT = 200_000_000


@pytest.fixture(scope="module")
def xv6():
    return build_guest("xv6")


def platform(image):
    name, disk = image.platform["drive"]
    return configured(ram=image.platform["ram"], drive=Drive(disk))


def test_the_bundled_guest_is_the_rv64_kernel_with_its_disk(xv6):
    assert xv6.isa == "rv64" and xv6.entry == 0x8000_0000 and "main" in xv6.symbols
    assert xv6.platform["ram"] == 16 << 20 and len(xv6.platform["drive"][1]) == 2_048_000


@pytest.fixture(scope="module")
def session(xv6):
    """The scripted session, bare and under pure (two boots)."""
    with platform(xv6):
        [c] = compare_images([xv6], ["pure"], "rv64", LIMIT, ConsoleInput(SESSION, prompt=b"$ "),
                             locate_divergences=False)
    return c


def test_it_boots_to_its_shell_and_runs_a_scripted_session(session):
    run = session.bare
    assert run.console == BOOT + b"echo hello xv6\nhello xv6\n$ "
    assert run.reason == "halted" and 60_000_000 < run.instructions < 80_000_000
    assert any(e.kind == "interrupt" and "s-external" in e.detail for e in run.events)   # the disk and the UART


def test_under_trap_and_emulate_it_is_equivalent_to_the_bare_machine(session):
    row = session.rows[0]
    assert row.equivalent, row.divergence.describe()
    exits = row.run.vm.stats.exits
    assert exits["csr"] > 0 and exits["mmio"] > 0 and exits["xret"] > 0 and exits["ecall"] > 0
