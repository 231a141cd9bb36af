"""Patching sensitive sites into traps, as data (docs/architecture.md, 'Patches are data').

A patch is a :class:`~hybridvmm.image.PatchRecord`: address, original bytes, replacement
bytes and kind (``sensitive`` or ``user-sensitive``, see :data:`PATCH_KINDS`).  The
replacement is the ISA's trap instruction (``[system] patch`` in the spec; for pgm
``vmtrap 0``) padded with its no-op so nothing else moves; the monitor, on that trap,
finds the original by the trapping address in the table and emulates it.
"""

from hybridvmm.patch.patcher import PatchResult, apply, patch_image, plan
from hybridvmm.patch.policy import POLICIES, check_policy, patch_kind, wants
from hybridvmm.patch.trap import PatchSpecError, TrapPatch
from hybridvmm.patch.unpatch import unpatch_image
from hybridvmm.patch_table import PATCH_KINDS, check_table, original_view, patch_at, read_original

__all__ = [
    "PATCH_KINDS",
    "POLICIES",
    "PatchResult",
    "PatchSpecError",
    "TrapPatch",
    "apply",
    "check_policy",
    "check_table",
    "original_view",
    "patch_at",
    "patch_image",
    "patch_kind",
    "plan",
    "read_original",
    "unpatch_image",
    "wants",
]
