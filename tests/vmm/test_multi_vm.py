"""Several VMs on one host: each equals its solo bare run, none stops the others, and no VM
changes a host byte outside its window."""

from __future__ import annotations

import hashlib

import pytest

from hybridvmm.asm import assemble
from hybridvmm.guests import build_guest
from hybridvmm.vmm import Monitor
from hybridvmm.vmm.compare import first_divergence, run_bare, run_monitor

THREE = ("syscalls", "timer", "kcompute")
SPINNER = """
        .org 0x100
        .entry boot
boot:   movl r1, 5
        settimer r1
        di
spin:   br spin
"""


def _images(isa):
    return [build_guest(name, isa, small=True) for name in THREE]


@pytest.mark.parametrize("isa,mode", [("pgm-virt", "pure"), ("pgm-virt", "patch"), ("pgm-x86", "interpret"),
                                      ("pgm-x86", "hybrid"), ("pgm-x86", "patch"), ("pgm-hybrid", "hybrid-no-patch")])
def test_three_guests_together_equal_their_solo_bare_runs(isa, mode):
    images = _images(isa)
    runs = run_monitor(images, mode, isa, slice_length=3000)
    assert runs[0].monitor.vms[0].stats.switches > 0
    for image, run in zip(images, runs):
        ref = run_bare(image, isa)
        assert first_divergence(ref, run, image, isa) is None, image.source
        assert run.console == ref.console and run.state == ref.state


def _outside_hash(monitor: Monitor) -> list[str]:
    data = monitor.host.storage.data
    out = []
    for k in range(len(monitor.vms)):
        h = hashlib.sha256()
        for lo, hi in monitor.allocation.outside(k):
            h.update(data[lo:hi])
        out.append(h.hexdigest())
    return out


@pytest.mark.parametrize("isa,mode", [("pgm-virt", "pure"), ("pgm-x86", "interpret"), ("pgm-x86", "hybrid"),
                                      ("pgm-x86", "patch")])
def test_a_vm_spinning_with_interrupts_off_does_not_stop_the_others(isa, mode):
    images = _images(isa)[:2] + [assemble(SPINNER, isa)]
    monitor = Monitor(images, mode, slice_length=2000, max_steps=400_000)
    spinner_outside = _outside_hash(monitor)[2]
    monitor.run()
    a, b, spinner = monitor.vms
    assert a.outcome.reason == "halted" and b.outcome.reason == "halted"
    assert spinner.outcome.reason == "max-steps" and spinner.guest_instructions == 400_000
    assert spinner.vcpu.timer_pending and not spinner.vcpu.ie      # its own timer expired, unseen
    for image, vm in zip(images[:2], (a, b)):
        ref = run_bare(image, isa)
        assert bytes(vm.console.output) == ref.console
        monitor.switch_to(vm)
        assert vm.vcpu.cpu_state() == ref.state
    assert spinner.stats.switches >= 3 and monitor.escapes == []
    assert spinner_outside != _outside_hash(monitor)[2]   # (the others' windows did change)


@pytest.mark.parametrize("mode", ["pure", "hybrid", "patch"])
def test_no_host_byte_outside_a_window_changes(mode):
    """Hash the host storage outside each VM's window before and after a run of that VM
    alone: the monitor area and every gap stay exactly as they were."""
    for name in ("minios", "redpill", "stopwatch"):
        monitor = Monitor([build_guest(name, "pgm-x86", small=True)], mode)
        before = _outside_hash(monitor)
        monitor.run()
        assert _outside_hash(monitor) == before, name
        assert monitor.escapes == []


def test_switches_are_counted_and_each_vm_keeps_its_registers():
    images = _images("pgm-virt")
    monitor = Monitor(images, "pure", slice_length=500)
    monitor.run()
    assert all(vm.stats.switches > 5 for vm in monitor.vms)
    for image, vm in zip(images, monitor.vms):
        monitor.switch_to(vm)
        assert vm.vcpu.cpu_state() == run_bare(image).state
