"""One patch policy for the static patcher and the monitor's lazy patcher."""

from __future__ import annotations

import pytest

from hybridvmm.errors import UserError
from hybridvmm.isa.spec import BEHAVIOR, CONTROL, PRIVILEGED, USER
from hybridvmm.patch import patch_image
from hybridvmm.patch import policy as patch_policy
from hybridvmm.patch.policy import POLICIES, check_policy, patch_kind, wants
from hybridvmm.patch_table import PATCH_KINDS
from hybridvmm.vmm import lazy


@pytest.mark.parametrize(("classes", "all_sensitive", "user_sensitive"), [
    (frozenset(), False, False),
    (frozenset({PRIVILEGED}), False, False),
    (frozenset({PRIVILEGED, CONTROL}), False, False),
    (frozenset({CONTROL}), True, False),
    (frozenset({BEHAVIOR}), True, False),
    (frozenset({CONTROL, USER}), True, True),
    (frozenset({BEHAVIOR, USER}), True, True),
])
def test_wants(classes, all_sensitive, user_sensitive):
    assert wants("all-sensitive", classes) is all_sensitive
    assert wants("user-sensitive", classes) is user_sensitive


def test_patch_kind_is_a_table_kind():
    assert patch_kind(frozenset({CONTROL})) == "sensitive"
    assert patch_kind(frozenset({CONTROL, USER})) == "user-sensitive"
    assert {patch_kind(frozenset({CONTROL})), patch_kind(frozenset({CONTROL, USER}))} == set(PATCH_KINDS)
    assert POLICIES == ("all-sensitive", "user-sensitive")


def test_an_unknown_policy_is_refused():
    check_policy("all-sensitive")
    with pytest.raises(UserError, match="unknown patch policy 'some' \\(known: all-sensitive, user-sensitive\\)"):
        check_policy("some")


def test_the_lazy_patcher_uses_the_one_policy():
    assert lazy.wants is patch_policy.wants and lazy.patch_kind is patch_policy.patch_kind
    assert not hasattr(lazy, "POLICIES")


def test_static_patches_record_the_policy_kind():
    from hybridvmm.guests import build_guest

    image = build_guest("privileged", "pgm-x86")
    result = patch_image(image, "pgm-x86", "all-sensitive")
    assert result.added
    by_address = {s.physical: s for s in result.sites}
    for p in result.added:
        assert p.kind == patch_kind(by_address[p.address].classes)
