"""Adaptive binary translation (Adams & Agesen, ASPLOS 2006, §3.3): a direct-execution site
that keeps trapping is translated instead.

In ``pure``, ``hybrid`` and ``patch``, every exit whose instruction the monitor emulates is
counted by the site's host-physical address.  When a site has trapped ``threshold`` times,
the monitor stops trapping there: it marks the site (an address hook on the host, the
counterpart of VMware's jump into the translation cache written over the site), and from
then on, whenever direct execution reaches it, the block that starts there — up to and
including its first control transfer — runs from the translation cache instead: the site's
instruction a callout of its interpreter routine, the rest translated code, no trap.  Then
direct execution resumes after it.

Entering the translation costs nothing in the cost table (a jump); the block's
instructions are priced as ``translated``, its system instructions as ``callout``s, and
each instruction translated once as ``translate``.  The option is measured, not assumed:
``compare --adaptive N`` shows the exits saved against what the translations cost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hybridvmm.machine import HALTED, STOPPED, TRAP_LOOP, YIELDED, TrapSignal
from hybridvmm.vmm import routines

if TYPE_CHECKING:
    from hybridvmm.machine.core import Machine
    from hybridvmm.vmm.vm import VM

LONGEST_BLOCK = 32
"""The most instructions one translated block runs before direct execution resumes."""


class AdaptiveTranslation:
    """Counts emulated exits per site and translates the sites that keep trapping."""

    def __init__(self, host: "Machine", threshold: int):
        self.host = host
        self.threshold = threshold
        self.exits: dict[int, int] = {}
        """Host-physical site → exits emulated there so far (until it is translated)."""
        self.sites: dict[int, "VM"] = {}
        """Translated sites (host-physical) → their VM."""

    def emulated(self, vm: "VM", address: int) -> None:
        """An exit at guest ``address`` (the host's current mapping) was emulated."""
        physical = self.host.physical_of(address)
        if physical is None or physical in self.sites:
            return
        n = self.exits.get(physical, 0) + 1
        if n < self.threshold:
            self.exits[physical] = n
            return
        self.exits.pop(physical, None)
        self.sites[physical] = vm
        vm.stats.adaptive_sites += 1
        self.host.hook_address(physical - self.host.storage.offset, self._reached)

    def _reached(self, host: "Machine", address: int) -> None:
        """Direct execution is about to run a translated site: hand the CPU to the monitor."""
        vm = self.sites.get(address + host.storage.offset)
        if vm is not None and not vm.done:
            vm.adaptive_at = host.pc
            host.stop("adaptive translation", reason=YIELDED)

    def run(self, vm: "VM") -> None:
        """Run the translated block at the site direct execution stopped before."""
        vcpu = vm.vcpu
        site, vm.adaptive_at = vm.adaptive_at, None
        if vcpu.pc != site:                     # an interrupt was delivered meanwhile
            return
        budget = min(block_length(vcpu, site), vm.stop_at - vm.guest_instructions)
        if budget <= 0:
            return
        mode = vcpu.mode
        before = vcpu.stats.instructions
        vcpu.compile_eager = True
        try:
            result = routines.interpret(vcpu, budget)
        finally:
            vcpu.compile_eager = False
        ran = vcpu.stats.instructions - before
        vm.stats.bump(vm.stats.translated, mode, ran)
        vm.stats.adaptive_entries += 1
        if result.reason == HALTED:
            vm.finish(HALTED)
        elif result.reason == TRAP_LOOP:
            vm.finish(TRAP_LOOP, result.detail)
        elif result.reason == STOPPED:
            vm.finish(STOPPED, result.detail)


def block_length(vcpu: "Machine", pc: int) -> int:
    """Instructions from ``pc`` up to and including the first control transfer (at most
    :data:`LONGEST_BLOCK`; fewer if one cannot be fetched)."""
    n = 0
    while n < LONGEST_BLOCK:
        try:
            ins = vcpu.instruction_at(pc)
        except TrapSignal:
            return max(n, 1)
        n += 1
        if ins.flow != "none":
            break
        pc = ins.next_address
    return n
