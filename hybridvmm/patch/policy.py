"""Which sensitive sites a patch policy patches, and the kind each patch records.

One rule for the static patcher (:mod:`hybridvmm.patch.patcher`) and the monitor's lazy
scan-and-patch (:mod:`hybridvmm.vmm.lazy`), so that a site patched ahead of time and one
patched at first fetch are the same patch.
"""

from __future__ import annotations

from hybridvmm.errors import UserError
from hybridvmm.isa.spec import USER, is_sensitive_unprivileged

POLICIES = ("all-sensitive", "user-sensitive")
"""``all-sensitive`` (the default; what scan-and-patch needs): every sensitive-unprivileged
site.  ``user-sensitive``: only those that misbehave in user mode (what a hybrid monitor,
which interprets all supervisor code anyway, needs for user code)."""


def check_policy(policy: str) -> None:
    """Refuse a policy that is not one of :data:`POLICIES`."""
    if policy not in POLICIES:
        raise UserError(f"unknown patch policy '{policy}' (known: {', '.join(POLICIES)})")


def wants(policy: str, classes: frozenset[str]) -> bool:
    """Does ``policy`` patch an instruction of ``classes``?"""
    return is_sensitive_unprivileged(classes) and (policy == "all-sensitive" or USER in classes)


def patch_kind(classes: frozenset[str]) -> str:
    """The :data:`~hybridvmm.patch_table.PATCH_KINDS` entry a patch of ``classes`` records."""
    return "user-sensitive" if USER in classes else "sensitive"
