"""Lazy scan-and-patch (VirtualBox CSAM/PATM, Smith & Nair Fig. 8.11), driven by the host's code-cache misses.

Before an instruction of the guest first executes *directly* under a mapping, the host
translates it, and the translate hook lands here.  If the address has not been scanned in
that address space (one per mapping the guest runs under, as its family's
:class:`~hybridvmm.machine.space.AddressSpace` names it: a virtual R on pgm, a page-table
root and privilege on RISC-V), the incremental
:class:`~hybridvmm.scan.Scanner` scans from it — the whole block and everything reachable
from it — and every sensitive-unprivileged site the mode's policy names is patched in
place (:class:`~hybridvmm.vmm.patches.PatchSet`).  The instruction about to run is then
checked itself, whatever the control-flow graph says (an instruction the scanner refused
as overlapping another still gets its trap), and the host translates the address again if
it was patched.  Scanned code is marked in storage, so a guest store into it reaches this
object even before the code ever ran: the space's blocks are invalidated and rescanned
before they run next (the patches there were dropped by the store itself).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Hashable

from hybridvmm.errors import DecodeError, UserError
from hybridvmm.isa import ISA, Decoder, Instruction, shared_decoder
from hybridvmm.machine.space import AddressSpace, LinearSpace
from hybridvmm.patch.policy import check_policy, patch_kind, wants
from hybridvmm.patch.trap import TrapPatch
from hybridvmm.scan.memory import FetchError
from hybridvmm.scan.resolvers import default_resolvers
from hybridvmm.scan.scanner import Scanner

if TYPE_CHECKING:
    from hybridvmm.vmm.vm import VM

class VmCode:
    """The scanner's code source: a VM's original bytes as code running in one address space
    of its window sees them (the space maps virtual addresses to window addresses)."""

    def __init__(self, vm: "VM", decoder: Decoder, space: AddressSpace):
        self.vm = vm
        self.decoder = decoder
        self.space = space
        self.offset = vm.window.offset
        self.page = space.page_size()
        self.max_length = decoder.isa.max_length

    def fetch(self, address: int) -> Instruction:
        if self.space.translate(address) is None:
            raise FetchError(address, "outside", "not mapped for execution in this address space")
        data = self.read(address, self.max_length)
        try:
            ins = self.decoder.decode(data, address)
        except DecodeError as exc:
            raise FetchError(address, "undecodable", str(exc)) from None
        if len(ins.raw) > len(data):
            raise FetchError(address, "outside", "instruction crosses the end of the space")
        return ins

    def read(self, address: int, length: int) -> bytes:
        """Guest-visible bytes (originals under patches), up to where the space ends."""
        out = b""
        while length > 0:
            wa = self.space.translate(address)
            if wa is None:
                break
            n = min(length, self.page - address % self.page)
            out += self.vm.patches.original_bytes(self.offset + wa, n)
            address += n
            length -= n
        return out

    def regions(self) -> list[tuple[int, int]]:
        return self.space.regions()


_RESOLVERS: dict[int, tuple[ISA, list]] = {}


def resolvers_for(isa: ISA) -> list:
    """The scanner's resolvers for ``isa``, built once (they hold no per-scan state, and
    building constant propagation costs milliseconds: too much per address space)."""
    entry = _RESOLVERS.get(id(isa))
    if entry is None or entry[0] is not isa:
        entry = _RESOLVERS[id(isa)] = (isa, default_resolvers(isa))
    return entry[1]


class SpaceScan:
    """The scan of one address space of a VM, and the storage it marked."""

    def __init__(self, vm: "VM", isa: ISA, decoder: Decoder, space: AddressSpace):
        self.space = space
        self.linear = isinstance(space, LinearSpace)
        self.code = VmCode(vm, decoder, space)
        self.scanner = Scanner(isa, self.code, resolvers=resolvers_for(isa), read=self.code.read,
                               base=space.base if self.linear else 0)
        self.marked: dict[int, tuple[int, int]] = {}
        """Window address → (virtual address, length) of every scanned instruction whose
        words are marked."""
        self.seen = 0
        self.dirty = False

    def describe(self) -> str:
        return f"space at 0x{self.space.base:x}" if self.linear else getattr(self.space, "name", f"space {self.space.key}")


class LazyPatcher:
    """Scan-and-patch on first direct execution, for one VM (see the module docstring)."""

    def __init__(self, vm: "VM", isa: ISA, policy: str, space_of: Callable[[Any], AddressSpace],
                 trace: Callable[[str, str], None] | None = None):
        """``space_of(vcpu)`` is the ISA model's view of where the guest's code currently
        lies: the address space it runs in."""
        check_policy(policy)
        self.vm = vm
        self.space_of = space_of
        self.isa = isa
        self.policy = policy
        self.decoder = shared_decoder(isa)
        self.trap = TrapPatch.for_isa(isa, self.decoder) if "patch" in isa.system else None
        """The ISA's patch trap (None: it has none; a site it would need is a UserError)."""
        self.trace = trace
        self.spaces: dict[Hashable, SpaceScan] = {}
        vm.window.root.watch(self)

    # --- the translate hook ------------------------------------------------------------------
    def on_translate(self, host, vaddr: int, paddr: int, ins: Instruction) -> bool:
        vm = self.vm
        vcpu = vm.vcpu
        applied = vm.stats.patches_applied
        where = self.space_of(vcpu)
        space = self.spaces.get(where.key)
        if space is None:
            space = self.spaces[where.key] = SpaceScan(vm, self.isa, self.decoder, where)
        scanner = space.scanner
        if space.dirty:
            space.dirty = False
            self._unmark(space)
            scanner.rescan()
            self._scanned(space, rescan=True)
        if vaddr not in scanner.cfg.instructions:
            blocks = len(scanner.cfg.blocks)
            scanner.scan(vaddr)
            vm.stats.blocks_scanned += max(0, len(scanner.cfg.blocks) - blocks)
            self._scanned(space)
        window_address = paddr - vm.window.offset
        if not vm.patches.at(window_address) and wants(self.policy, ins.spec.classes):
            self._patch(window_address, ins, "at first fetch")
        # Translate again if anything was patched: this address may be a trap now, and the
        # mapping may need the load overlay it did not need before.
        return vm.stats.patches_applied != applied

    # --- scanning results -----------------------------------------------------------------------
    def _scanned(self, space: SpaceScan, rescan: bool = False) -> None:
        """Mark and patch what the last scan added to ``space``."""
        insns = space.scanner.cfg.instructions
        new = list(insns.items())[0 if rescan else space.seen:]
        space.seen = len(insns)
        vm = self.vm
        window = vm.window
        translate = space.space.translate
        placed = []
        for address, ins in new:
            wa = translate(address)
            if wa is None:
                continue
            placed.append((wa, ins))
            if wa in space.marked:
                continue
            n = len(ins.raw)
            space.marked[wa] = (address, n)
            window.mark(wa, wa + n, 1)
        if not rescan:
            vm.stats.instructions_scanned += len(new)
        else:
            vm.stats.instructions_scanned += len(insns)
        sites = [(wa, ins) for wa, ins in placed if wants(self.policy, ins.spec.classes)]
        if self.trace is not None and new:
            self.trace("scan", f"scanned {len(new)} instructions from 0x{new[0][0]:x} ({space.describe()}): "
                               f"{len(sites)} sensitive-unprivileged site{'' if len(sites) == 1 else 's'}")
        for wa, ins in sites:
            if not vm.patches.at(wa):
                self._patch(wa, ins, "scanned")

    def _patch(self, window_address: int, ins: Instruction, why: str) -> None:
        vm = self.vm
        if self.trap is None:
            raise UserError(f"{vm.name}: {ins.name} at 0x{ins.address:x} needs a patch, but {self.isa.name} has no "
                            f"patch trap instruction ([system] patch in its spec)")
        try:
            vm.patches.apply(window_address, self.trap.replacement(len(ins.raw)), patch_kind(ins.spec.classes))
        except ValueError:
            return  # another patch's trap sits there: that one already stops execution here
        vm.stats.patches_applied += 1
        if self.trace is not None:
            self.trace("patch", f"patched {ins.name} at 0x{window_address:x} ({why})")

    def _unmark(self, space: SpaceScan) -> None:
        window = self.vm.window
        for wa, (_, n) in space.marked.items():
            window.mark(wa, wa + n, -1)
        space.marked.clear()
        space.seen = 0

    # --- storage watcher ------------------------------------------------------------------------
    def drop_physical(self, start: int, end: int) -> None:
        """A store into root ``[start, end)``: invalidate the spaces' blocks there.  A linear
        space invalidates the blocks the store touched and rescans them incrementally; a
        paged space, where one window address may be code at several virtual addresses and a
        page may be remapped, is dropped whole and scanned afresh when its code next runs."""
        window = self.vm.window
        lo, hi = start - window.offset, end - window.offset
        if hi <= 0 or lo >= window.size or self.vm.patches.writing:
            return
        for key, space in list(self.spaces.items()):
            if space.linear:
                base = space.space.base
                if space.scanner.invalidate(lo - base, hi - base):
                    space.dirty = True
                    if self.trace is not None:
                        self.trace("scan", f"store to 0x{lo:x}: scanned code invalidated ({space.describe()})")
            elif self._touches(space, lo, hi):
                self._unmark(space)
                del self.spaces[key]
                if self.trace is not None:
                    self.trace("scan", f"store to 0x{lo:x}: scanned code written, scan dropped ({space.describe()})")

    def _touches(self, space: SpaceScan, lo: int, hi: int) -> bool:
        """Did space's scanned code lie over window ``[lo, hi)``?"""
        marked = space.marked
        first = max(0, lo - self.isa.max_length + 1)
        starts = range(first, hi) if hi - first < len(marked) else [wa for wa in marked if first <= wa < hi]
        return any((entry := marked.get(wa)) is not None and wa + entry[1] > lo for wa in starts)

    def close(self) -> None:
        for space in self.spaces.values():
            self._unmark(space)
        self.vm.window.root.unwatch(self)
