"""Every hostile guest under every monitor mode, beside two ordinary guests: the monitor stays
in control (host R never leaves the VM's window, the real timer is the monitor's and always
brings it back within a slice), the other VMs are unaffected (their output and final state
are their solo bare runs'), no host byte outside the windows changes, and wherever the
bare machine defines the outcome — in every mode the theory accepts — the hostile VM's
outcome is the bare machine's, exactly."""

from __future__ import annotations

import hashlib

import pytest

from hybridvmm.guests import build_guest, list_guests
from hybridvmm.isa import load_isa
from hybridvmm.vmm import COMPARE_MODES, Monitor
from hybridvmm.vmm.compare import GuestRun, Recorder, first_divergence, run_bare, vm_state
from hybridvmm.vmm.theory import predict

HOSTILE = [name for name, _ in list_guests("hostile")]
NEIGHBOURS = ("syscalls", "timer")
SLICE = 1500
MAX_STEPS = 120_000
CASES = [("pgm-x86", mode) for mode in COMPARE_MODES] + [("pgm-virt", "pure")]


def test_there_are_at_least_twelve():
    assert len(HOSTILE) >= 12


def _gaps(monitor: Monitor) -> str:
    """A hash of every host byte no VM owns (the monitor area and the guard gaps)."""
    data, h = monitor.host.storage.data, hashlib.sha256()
    edges = [0] + [x for offset, size in monitor.allocation.windows for x in (offset, offset + size)] + [len(data)]
    for lo, hi in zip(edges[::2], edges[1::2]):
        h.update(data[lo:hi])
    return h.hexdigest()


@pytest.mark.parametrize("isa,mode", CASES)
@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_guest(name, isa, mode):
    hostile = build_guest(name, isa)
    neighbours = [build_guest(n, isa, small=True) for n in NEIGHBOURS]
    images = [neighbours[0], hostile, neighbours[1]]
    monitor = Monitor(images, mode, slice_length=SLICE, max_steps=MAX_STEPS)
    countdowns = []
    enter = monitor.virt.enter
    monitor.virt.enter = lambda host, vcpu, n: (countdowns.append(n), enter(host, vcpu, n))
    recorders = [Recorder(vm.vcpu) for vm in monitor.vms]
    gaps = _gaps(monitor)
    monitor.run()
    # the monitor stayed in control
    assert monitor.escapes == []
    assert all(0 < n <= SLICE for n in countdowns)
    assert _gaps(monitor) == gaps
    runs = [GuestRun(mode, vm.outcome.reason, vm.outcome.detail, rec.events, bytes(vm.console.output),
                     vm_state(monitor, vm), vm.guest_storage(), vm.guest_instructions, 0.0, vm, monitor)
            for vm, rec in zip(monitor.vms, recorders)]
    # where the bare machine defines the outcome (every mode the theory accepts), the
    # hostile VM's outcome is the bare machine's and its neighbours never noticed it: their
    # output and final state are their solo bare runs'.  (Under a mode the theory rejects
    # every guest may go wrong — they read the host's R or timer — so only control is checked.)
    isa_obj = load_isa(isa)
    if predict(isa_obj, mode).equivalent:
        ref = run_bare(hostile, isa_obj, MAX_STEPS)
        d = first_divergence(ref, runs[1], hostile, isa_obj)
        assert d is None, d.describe()
        for k, image in ((0, neighbours[0]), (2, neighbours[1])):
            d = first_divergence(run_bare(image, isa_obj, MAX_STEPS), runs[k], image, isa_obj)
            assert d is None, d.describe()


def test_the_double_fault_ends_as_the_bare_machine_defines_it():
    for mode in ("interpret", "hybrid", "patch"):
        monitor = Monitor([build_guest("hostile-doublefault")], mode)
        monitor.run()
        assert monitor.vms[0].outcome.reason == "trap-loop"
    assert run_bare(build_guest("hostile-doublefault")).reason == "trap-loop"


def test_the_spinner_is_stopped_by_its_budget_and_slices_go_on():
    monitor = Monitor([build_guest("hostile-spin"), build_guest("syscalls", small=True)], "patch",
                      slice_length=SLICE, max_steps=50_000)
    monitor.run()
    spin, other = monitor.vms
    assert spin.outcome.reason == "max-steps" and other.outcome.reason == "halted"
    assert spin.stats.exits.get("timer", 0) >= 50_000 // SLICE - 1
