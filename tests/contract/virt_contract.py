"""What the monitor must do for every ISA family (the monitor's counterpart of ``MachineContract``).

A family's test class subclasses :class:`VirtContract` and names its ISA and a few bundled
guests (small sizes).  Everything here is ISA-agnostic:

* every monitor mode is equivalent to the bare machine wherever the theory predicts it;
* resource control: host storage outside the VMs' windows is unchanged (a hash), and the
  host's mapping never left a window at any entry to direct execution;
* determinism: two runs of the same guests under the same mode are identical;
* several VMs at once: each equals its own solo bare run.
"""

from __future__ import annotations

import hashlib

import pytest

from hybridvmm.guests import build_guest
from hybridvmm.image import Image
from hybridvmm.isa import load_isa
from hybridvmm.vmm import COMPARE_MODES, Monitor
from hybridvmm.vmm.compare import compare_images, first_divergence, run_bare, run_monitor
from hybridvmm.vmm.theory import predict

MAX_STEPS = 2_000_000


class VirtContract:
    ISA: str = ""
    GUESTS: tuple[str, ...] = ()
    """Bundled guests (run at their small sizes)."""
    MODES: tuple[str, ...] = COMPARE_MODES

    # --- what a family supplies ---------------------------------------------------------------------
    def images(self) -> list[Image]:
        return [build_guest(name, self.ISA, small=True) for name in self.GUESTS]

    # --- helpers ---------------------------------------------------------------------------------------
    @staticmethod
    def outside_hash(monitor: Monitor) -> str:
        """A hash of every host storage byte that belongs to no VM's window."""
        data = monitor.host.storage.data
        windows = sorted(monitor.allocation.windows)
        h, at = hashlib.sha256(), 0
        for offset, size in windows:
            h.update(data[at:offset])
            at = offset + size
        h.update(data[at:])
        return h.hexdigest()

    # --- the contract ------------------------------------------------------------------------------------
    def test_every_mode_is_equivalent_where_the_theory_says(self):
        for image in self.images():
            [c] = compare_images([image], list(self.MODES), self.ISA, MAX_STEPS, locate_divergences=False)
            unexpected = [(r.mode, r.divergence.describe()) for r in c.rows if r.unexpected]
            assert unexpected == [], (image.source, unexpected)

    @pytest.mark.parametrize("mode", ["pure", "hybrid", "patch", "interpret"])
    def test_host_storage_outside_the_windows_is_unchanged(self, mode):
        images = self.images()
        monitor = Monitor(images, mode, isa=self.ISA, max_steps=MAX_STEPS, slice_length=997)
        before = self.outside_hash(monitor)
        monitor.run()
        assert all(vm.done for vm in monitor.vms)
        assert self.outside_hash(monitor) == before
        assert monitor.escapes == []

    @pytest.mark.parametrize("mode", ["pure", "hybrid"])
    def test_runs_are_deterministic(self, mode):
        def once():
            runs = run_monitor(self.images(), mode, self.ISA, MAX_STEPS, slice_length=1000)
            return [(r.reason, r.console, r.events, r.state, r.storage, r.instructions,
                     r.vm.stats.as_dict(r.monitor.costs, timing=False)) for r in runs]
        assert once() == once()

    @pytest.mark.parametrize("mode", ["pure", "hybrid"])
    def test_several_vms_together_equal_their_solo_bare_runs(self, mode):
        isa = load_isa(self.ISA)
        if not predict(isa, mode).equivalent:
            pytest.skip(f"the theory says {mode} is not equivalent on {isa.name}")
        images = self.images() * 2  # at least two VMs, the same guest twice among them
        refs = [run_bare(image, isa, MAX_STEPS) for image in images]
        runs = run_monitor(images, mode, isa, MAX_STEPS, slice_length=500)
        for image, ref, run in zip(images, refs, runs):
            d = first_divergence(ref, run, image, isa)
            assert d is None, (image.source, d.describe())
        assert all(r.vm.stats.switches > 0 for r in runs)
