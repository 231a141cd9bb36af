"""``compare`` on a statically patched image (issue K §4, item 5).

minios copies its trampoline into each task's region at run time: under relocation the
copy's virtual address is the patched address of the original (0x106), but the copy is not
patched.  The responsible instruction is reported with its physical address and said to be
a run-time copy; the theory honours the patch table: its condition holds for the image's
own code, so ``pure`` is predicted equivalent *if* no unpatched sensitive instruction runs.
"""

from __future__ import annotations

import functools
import json

import pytest

from hybridvmm.isa import load_isa
from hybridvmm.loading import load_program
from hybridvmm.patch import patch_image
from hybridvmm.vmm.compare import compare_images
from hybridvmm.vmm.theory import UNPATCHED, predict, static_patches

ISA = "pgm-x86"


@functools.cache
def patched(policy: str):
    return patch_image(load_program("guest:minios"), ISA, policy).image


def test_an_unpatched_image_is_predicted_as_before():
    isa = load_isa(ISA)
    assert static_patches(load_program("guest:minios"), isa) is None
    assert predict(isa, "pure", (), None) == predict(isa, "pure")


def test_a_fully_patched_image_makes_pure_and_hybrid_no_patch_conditional():
    isa = load_isa(ISA)
    table = static_patches(patched("all-sensitive"), isa)
    assert table.patches == 7 and table.unpatched == () and table.user_unpatched == ()
    for mode, theorem in (("pure", "Theorem 1"), ("hybrid-no-patch", "Theorem 3")):
        p = predict(isa, mode, (), table)
        assert not p.equivalent and p.condition == UNPATCHED
        assert p.reason.startswith(f"{theorem} holds for the image's own code") and "run time" in p.reason
    assert predict(isa, "hybrid", (), table).equivalent


def test_a_table_of_user_sensitive_sites_leaves_theorem_1_failing():
    isa = load_isa(ISA)
    table = static_patches(patched("user-sensitive"), isa)
    assert [name for _, name in table.unpatched] == ["jrstu", "popf", "popf"] and table.user_unpatched == ()
    pure = predict(isa, "pure", (), table)
    assert not pure.equivalent and not pure.condition and "leaves jrstu at 0x106" in pure.reason
    assert predict(isa, "hybrid-no-patch", (), table).condition == UNPATCHED


@pytest.fixture(scope="module")
def comparison():
    (result,) = compare_images([patched("all-sensitive")], ["pure"], ISA, max_steps=20_000)
    return result


def test_the_run_time_copy_is_blamed_with_its_physical_address(comparison):
    (row,) = comparison.rows
    assert row.theory == "if" and not row.predicted and not row.unexpected
    r = row.divergence.responsible
    assert (r.text, r.address, r.physical) == ("jrstu 0x10c", 0x106, 0x4106)
    assert r.where == "physical 0x4106: a copy written at run time, not the image's patched instruction at 0x106"
    assert "(supervisor mode; physical 0x4106: a copy written at run time" in r.describe()
    data = row.as_dict()
    assert data["theory_condition"] == UNPATCHED and data["divergence"]["responsible"]["physical"] == 0x4106


def test_compare_cli_shows_if_and_exits_0(cli, tmp_path):
    image = tmp_path / "minios.patched.img"
    image.write_bytes(patched("all-sensitive").to_bytes())
    r = cli("compare", str(image), "--modes", "pure", "--max-steps", "20000")
    assert r.code == 0, r.err
    row = next(line for line in r.out.splitlines() if line.startswith("  pure "))
    assert row.split()[1:3] == ["NO", "if"]
    assert "  pure: theory 'if': Theorem 1 holds for the image's own code" in r.out
    assert "a copy written at run time, not the image's patched instruction at 0x106" in r.out
    r = cli("compare", str(image), "--modes", "pure", "--max-steps", "20000", "--no-locate", "--json")
    (run,) = json.loads(r.out)["runs"]
    assert run["predicted_equivalent"] is False and run["theory_condition"] == UNPATCHED
