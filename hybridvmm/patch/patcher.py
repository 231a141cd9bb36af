"""Static scan-and-patch (docs/theory.md, 'Scanning and patching'; Smith & Nair Fig. 8.11): sites become traps in place.

The patcher scans the image's *original* bytes (through any patch table already present),
picks the sites the policy asks for, and replaces each with the ISA's trap instruction
padded to the site's length, recording the original in the patch table.  It writes only
inside sites — which are reached instructions, never data — and it is idempotent: a site
already patched is left as it is, so patching twice is patching once, and patching with
``all-sensitive`` after ``user-sensitive`` adds just the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hybridvmm.errors import UserError
from hybridvmm.image import Image, PatchRecord
from hybridvmm.isa import ISA, Decoder, load_isa
from hybridvmm.patch.policy import check_policy, patch_kind, wants
from hybridvmm.patch.trap import TrapPatch
from hybridvmm.patch_table import check_table, original_view
from hybridvmm.scan import Site, Space, scan_program
from hybridvmm.scan.scanner import Scanner
from hybridvmm.scan.sites import ClassesOf, declared_classes

@dataclass
class PatchResult:
    """What a patch run did: the new image and the sites by outcome."""

    image: Image
    isa: ISA
    policy: str
    scanner: Scanner
    sites: list[Site]
    added: list[PatchRecord] = field(default_factory=list)
    kept: list[PatchRecord] = field(default_factory=list)
    skipped: list[Site] = field(default_factory=list)
    spaces: list[Scanner] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added)


def plan(sites: list[Site], image: Image, trap: TrapPatch | None, policy: str) -> tuple[list[PatchRecord], list[PatchRecord], list[Site]]:
    """(new patches, patches already present, sites the policy leaves alone)."""
    check_policy(policy)
    existing = {p.address: p for p in image.patches}
    added: dict[int, PatchRecord] = {}
    kept, skipped = [], []
    for site in sites:
        if not wants(policy, site.classes):
            skipped.append(site)
            continue
        if site.physical in existing:
            kept.append(existing[site.physical])
            continue
        if site.physical in added:  # the same storage scanned through two spaces
            continue
        assert trap is not None
        if any(abs(site.physical - q) < len(trap.trap_bytes) for q in list(existing) + list(added)):
            skipped.append(site)    # another patch's trap covers it: that one stops execution here
            continue
        raw = site.instruction.raw
        added[site.physical] = PatchRecord(site.physical, bytes(raw), trap.replacement(len(raw)), patch_kind(site.classes))
    return list(added.values()), kept, skipped


def apply(image: Image, patches: list[PatchRecord]) -> Image:
    """A copy of ``image`` with ``patches`` written and added to its table.

    Sites may overlap (an instruction hidden inside another that is a site too): every
    patch is checked against the original bytes, then all are written in address order,
    so each start holds its own trap and the guest reaches a trap whichever of the
    overlapping instructions it executes; the monitor emulates that one's original."""
    original = original_view(image)
    for p in patches:
        if original.read(p.address, len(p.original)) != p.original:
            raise UserError(f"refusing to patch 0x{p.address:x}: the bytes there are not the scanned instruction")
    table = sorted(list(image.patches) + list(patches), key=lambda p: p.address)
    out = original.copy()
    for p in table:
        out.write(p.address, p.replacement)
    out.patches = table
    check_table(out)
    return out


def patch_image(
    image: Image,
    isa: ISA | str | None = None,
    policy: str = "all-sensitive",
    roots: tuple = (),
    classes_of: ClassesOf = declared_classes,
    spaces: tuple[Space, ...] = (),
) -> PatchResult:
    """Scan ``image`` for ``isa`` (default: the image's) and patch the sites ``policy`` picks.

    ``spaces`` are relocated regions (user tasks) scanned as well; their sites are
    patched at their storage addresses.  The returned image keeps the input's ISA name,
    so :func:`unpatch_image` gives the input back byte for byte; run it with the variant
    it was patched for.
    """
    if isinstance(isa, str) or isa is None:
        isa = load_isa(isa or image.isa)
    check_policy(policy)
    check_table(image)
    scanned = scan_program(image, isa, roots=roots, spaces=spaces, classes_of=classes_of)
    sites = scanned.sites
    patched = {p.address for p in image.patches}
    needs_trap = any(wants(policy, s.classes) and s.physical not in patched for s in sites)
    trap = TrapPatch.for_isa(isa, Decoder(isa)) if needs_trap else None
    added, kept, skipped = plan(sites, image, trap, policy)
    out = apply(image, added) if added else image.copy()
    return PatchResult(out, isa, policy, scanned.main, sites, added, kept, skipped, [sub for _, sub, _ in scanned.spaces])
