"""One virtual machine: its window, virtual CPU, saved world, patches, console and statistics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hybridvmm.image import Image
from hybridvmm.isa import ISA
from hybridvmm.machine.core import Machine
from hybridvmm.machine.storage import Storage
from hybridvmm.patch_table import check_table
from hybridvmm.vmm.patches import PatchSet
from hybridvmm.vmm.stats import VmStats


@dataclass(frozen=True)
class VmOutcome:
    """How a VM's run ended: ``halted``, ``max-steps`` or ``trap-loop``, and where."""

    reason: str
    detail: str
    pc: int


class VM:
    """A guest under the monitor.

    ``vcpu`` holds the guest's virtual system state (mode, interrupt enable, relocation,
    timer, PSW area in its window) and *is* the interpreter: running or stepping it executes
    guest instructions against that state with the ISA's own semantics.  ``world`` is what a
    switch saves of the registers the VMs share with the host.
    """

    def __init__(self, index: int, name: str, image: Image, isa: ISA, virt: Any, host: Machine,
                 window: Storage, max_steps: int):
        self.index = index
        self.name = name
        self.image = image
        self.isa = isa
        self.window = window
        self.max_steps = max_steps
        self.stats = VmStats()
        self.vcpu: Machine = virt.new_vcpu(host, window, index)
        self.virt = virt
        self.host = host
        trap_length = _trap_length(isa)
        refusal = None if self.vcpu.honours_code_overlay else (
            f"the {isa.name} machine model does not honour a code overlay, so its guest would read "
            "the patches' traps as its own bytes")
        self.patches = PatchSet(window, isa.max_length, trap_length, refusal=refusal)
        self.vcpu.code_view = self.patches.original_code
        if self.vcpu.honours_code_overlay:
            self.vcpu.load_overlay = self.patches
        self.patches.listeners.append(self.vcpu.refresh_mapping)
        self.patches.removed.append(self._patch_removed)
        self.vcpu.load(image)
        if image.patches:
            check_table(image)
            self.patches.adopt(image.patches)
            self.vcpu.refresh_mapping()
        self.world = virt.save(host)
        self.outcome: VmOutcome | None = None
        self.lazy = None
        self.target = 0
        """Guest instruction count at which the current slice ends (the real timer's horizon)."""
        self.stop_at = 0
        """Guest instruction count at which the monitor's current run of this VM returns
        (the slice's end, or earlier when a lock-step comparison pauses it)."""
        self.adaptive_at: int | None = None
        """Adaptive translation: the translated site direct execution stopped before."""
        self.interpreting = False
        """True while the monitor's loop interprets this VM (not while it emulates one
        instruction after an exit): a change to a mode that runs directly yields then."""

    def _patch_removed(self, record, why: str) -> None:
        self.stats.patches_dropped += 1

    @property
    def done(self) -> bool:
        return self.outcome is not None

    @property
    def guest_instructions(self) -> int:
        return self.vcpu.stats.instructions

    @property
    def console(self):
        return self.vcpu.console

    def finish(self, reason: str, detail: str = "") -> None:
        if self.outcome is None:
            self.outcome = VmOutcome(reason, detail, self.vcpu.pc)

    def guest_storage(self) -> bytes:
        """The VM's storage as the guest sees it (the original bytes under every patch)."""
        return self.patches.guest_view()

    def close(self) -> None:
        if self.lazy is not None:
            self.lazy.close()
        self.patches.close()
        self.virt.close_vcpu(self.host, self.vcpu)
        self.vcpu.close()


def _trap_length(isa: ISA) -> int:
    """Bytes of the ISA's patch trap (its parcel if it cannot be patched)."""
    spec = isa.system.get("patch")
    if isinstance(spec, dict) and spec.get("trap") in isa.instructions:
        return isa.instructions[spec["trap"]].format.length
    return isa.parcel_bytes
