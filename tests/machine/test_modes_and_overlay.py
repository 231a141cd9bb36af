"""What machine/ asks of a model: its own MODES, a privilege rank, and whether it honours the
code overlay (a monitor patches only under a model that does)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hybridvmm.errors import UserError
from hybridvmm.guests import build_guest
from hybridvmm.image import PatchRecord
from hybridvmm.isa import load_isa
from hybridvmm.isas.pgm import SUPERVISOR, USER, PgmMachine
from hybridvmm.isas.riscv import constants as rv
from hybridvmm.isas.riscv.machine import RiscvMachine
from hybridvmm.loading import load_program
from hybridvmm.machine import CodeOverlay, Machine, Stats, Storage
from hybridvmm.vmm import Monitor

RV_TEST = Path(__file__).resolve().parents[1] / "data" / "riscv-tests" / "elf" / "rv32ui-p-add"


def test_a_model_must_name_its_modes():
    class Nameless(Machine):
        pass

    assert not hasattr(Machine, "MODES")
    with pytest.raises(TypeError, match="must define MODES"):
        Nameless(load_isa("pgm"), Storage(0x1000))


def test_the_rank_orders_the_modes_most_privileged_first():
    assert PgmMachine.priv_rank(SUPERVISOR) > PgmMachine.priv_rank(USER) == 0
    rank = RiscvMachine.priv_rank
    assert rank(rv.MACHINE) > rank(rv.SUPERVISOR) > rank(rv.USER) == 0
    for cls in (PgmMachine, RiscvMachine):
        assert sorted(cls.MODES, key=cls.priv_rank, reverse=True) == list(cls.MODES)


def test_each_model_resets_into_its_own_privilege():
    assert PgmMachine("pgm").mode == "supervisor"
    assert RiscvMachine("rv32").mode == "machine"


def test_stats_count_modes_by_name_only():
    s = Stats(("supervisor", "user"))
    s.count("user", 2)
    assert s.by_mode == {"user": 2} and not hasattr(s, "user") and not hasattr(s, "supervisor")
    with pytest.raises(TypeError):
        Stats()  # the model names its modes


def test_who_honours_the_code_overlay():
    assert not Machine.honours_code_overlay
    assert PgmMachine.honours_code_overlay and not RiscvMachine.honours_code_overlay


def test_pgm_vms_load_through_the_overlay():
    monitor = Monitor([build_guest("fib", "pgm-x86")], "patch", max_steps=20_000)
    vm = monitor.vms[0]
    assert vm.vcpu.load_overlay is vm.patches and isinstance(vm.patches, CodeOverlay)
    monitor.run()
    assert vm.stats.patches_applied > 0 and monitor.host.load_overlay is vm.patches


def test_patch_mode_on_a_model_without_the_overlay_runs_while_nothing_needs_a_patch():
    monitor = Monitor([load_program(str(RV_TEST))], "patch")
    vm = monitor.vms[0]
    assert vm.vcpu.load_overlay is None
    monitor.run()
    assert vm.outcome.reason == "halted" and vm.stats.patches_applied == 0 and monitor.host.load_overlay is None
    with pytest.raises(UserError, match="does not honour a code overlay"):
        vm.patches.apply(0x100, b"\x73\x00\x10\x00", "sensitive")


def test_a_patched_image_is_refused_on_a_model_without_the_overlay():
    image = load_program(str(RV_TEST)).copy()
    at = image.entry
    original = image.read(at, 4)
    ebreak = b"\x73\x00\x10\x00"
    image.write(at, ebreak)
    image.patches = [PatchRecord(at, original, ebreak, "sensitive")]
    with pytest.raises(UserError, match=f"cannot patch 0x{at:x}: the rv32 machine model does not honour"):
        Monitor([image], "pure")
