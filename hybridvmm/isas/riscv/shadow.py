"""The composed mapping (software shadow paging): how a host runs a guest's code directly.

A guest runs directly on the host in real U-mode.  Every address it forms is translated in
two stages:

1. the guest's own regime, as its *virtual* hart defines it — bare or paged, for the
   virtual privilege, with the guest's SUM, MXR and PMP — walking the guest's page tables
   in its window and setting A/D exactly as the bare machine does;
2. the window: guest physical ``RAM_BASE + o`` is host storage ``window.offset + o``,
   for ``o`` below the window's size and nowhere else.

A composition is a host code-cache context keyed ``(GUEST, vm, guest context key)``: the
bare machine's key plus the VM.  Its first stage *is* the guest hart's
:class:`~hybridvmm.isas.riscv.mmu.Translation` for that key — one set of TLBs that the host
(running the guest directly) and the virtual hart (emulating or interpreting it) both fill
and both see, so the guest's TLB is exactly the bare machine's: an entry made by either
lives until the guest's ``satp`` write, ``sfence.vma`` or PMP change drops it, and a guest
that edits a live PTE without a fence sees what it would see on bare.  The virtual hart
tells the link of every flush (``flush_listeners``), and the link drops the host's
compositions (or their pages) at the same moment.

Device pages are never mapped: every access outside the window's RAM, and every store to a
device word (HTIF's ``tohost``), leaves the host with
:data:`~hybridvmm.isas.riscv.mmu.MMIO_EXIT`, and the monitor performs it on the VM's own
devices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Hashable

from hybridvmm.isas.riscv.constants import RAM_BASE, USER
from hybridvmm.isas.riscv.mmu import Env
from hybridvmm.isas.riscv.pmp import R as PMP_R, W as PMP_W, X as PMP_X
from hybridvmm.machine.codecache import Context

if TYPE_CHECKING:
    from hybridvmm.isas.riscv.machine import RiscvMachine

GUEST = "guest"
"""First element of a composed context's key (a hart's own keys are tuples of numbers)."""


@dataclass
class CompositionStats:
    """What the composed mapping cost one VM."""

    built: int = 0
    """Compositions (host contexts) made."""
    dropped: int = 0
    """Compositions dropped whole (the guest wrote satp, flushed everything, changed PMP)."""
    flushes: int = 0
    """Flushes of the guest's translations the host followed (each satp write, sfence.vma,
    PMP change: a shadow-paging monitor emulates each one by dropping shadow entries)."""
    refills: int = 0
    """First-stage TLB fills made while the guest ran directly: each is a hidden page fault
    that a shadow-paging monitor services by walking the guest's tables and filling the
    shadow entry (counted; here the host's walk does the same work without leaving)."""
    pages: set = field(default_factory=set)
    """Guest physical pages the compositions have mapped."""

    def as_dict(self) -> dict[str, int]:
        return {"built": self.built, "dropped": self.dropped, "flushes": self.flushes,
                "refills": self.refills, "guest_pages": len(self.pages)}


class GuestLink:
    """A VM's guest hart as the host's mapping source (see the module docstring)."""

    def __init__(self, vm_id: int, vcpu: "RiscvMachine", host: "RiscvMachine"):
        self.vm_id = vm_id
        self.vcpu = vcpu
        self.host = host
        self.stats = CompositionStats()
        self.checked_pmp: object = None
        """The host PMP regions ``granted`` was computed for (resource control's cache)."""
        self.granted = False
        """Whether the host's PMP lets U-mode reach this guest's window."""
        vcpu.flush_listeners.append(self._flushed)

    def key(self) -> Hashable:
        """The host context key for the guest's current translation context."""
        return (GUEST, self.vm_id, self.vcpu.translation_key())

    def compose(self, host: "RiscvMachine", key: Hashable) -> Context:
        """A composition: the guest's translation for its context, over its window."""
        vcpu = self.vcpu
        guest_key = key[2]  # type: ignore[index]
        priv, data_priv, fetch_paged = guest_key[0], guest_key[1], guest_key[4]
        window = vcpu.storage
        self.stats.built += 1
        env = Env(host, vcpu.translation(guest_key), priv, data_priv, storage=window, pmp=vcpu.pmp,
                  device_words=vcpu.device_words, exits=True, on_fill=self._refilled)
        return Context(key, None if fetch_paged else window.offset - RAM_BASE, env)

    def _refilled(self, page: int) -> None:
        self.stats.refills += 1
        self.stats.pages.add(page)

    def _flushed(self, guest_key: Hashable | None, lo: int, hi: int) -> None:
        """The guest hart dropped TLB entries: drop the host's compositions of them."""
        code = self.host.code
        self.stats.flushes += 1
        if guest_key is None:
            for key in [k for k in code.contexts if k[0] == GUEST and k[1] == self.vm_id]:
                code.drop_context(key)
                self.stats.dropped += 1
            return
        key = (GUEST, self.vm_id, guest_key)
        if key not in code.contexts:
            return
        if hi:
            code.drop_virtual(key, lo, hi)
        else:
            code.drop_context(key)
            self.stats.dropped += 1

    def close(self) -> None:
        """Forget this guest's compositions and stop listening to its hart."""
        code = self.host.code
        for key in [k for k in code.contexts if k[0] == GUEST and k[1] == self.vm_id]:
            code.drop_context(key)
        if self._flushed in self.vcpu.flush_listeners:
            self.vcpu.flush_listeners.remove(self._flushed)


def window_granted(host: "RiscvMachine", offset: int, size: int) -> bool:
    """Does the host's PMP let U-mode read, write and execute host storage ``[offset, offset + size)``?"""
    lo, hi = RAM_BASE + offset, RAM_BASE + offset + size
    return all(host.pmp.grants(lo, hi, perm, USER) for perm in (PMP_R, PMP_W, PMP_X))
