"""Exit clustering: consecutive instructions that would trap are emulated in one exit; the
guest runs directly again at the first that would not (and nothing else is interpreted)."""

from __future__ import annotations

from hybridvmm.asm import assemble
from hybridvmm.isa import load_isa
from hybridvmm.vmm import run_guests
from hybridvmm.vmm.compare import first_divergence, run_bare, run_monitor

KERNEL = """
        .org 0x100
        .entry start
start:  di                      ; exit 1: di, ei, di, ei emulated together
        ei
        di
        ei
        movi r1, 5              ; innocuous: the cluster ends, the guest runs directly
        ei                      ; exit 2: ei, di, halt
        di
        halt
"""


def test_consecutive_trapping_instructions_cost_one_exit():
    monitor = run_guests([assemble(KERNEL, "pgm-virt")], "patch")
    vm = monitor.vms[0]
    stats = vm.stats
    assert vm.outcome.reason == "halted"
    assert stats.exits == {"privileged": 2}
    assert stats.emulated == 7 and stats.clustered == 5
    assert stats.direct_instructions == 1 and vm.guest_instructions == 8  # only the movi ran directly
    monitor.close()


def test_a_clustered_run_is_equivalent_to_bare():
    image = assemble(KERNEL, "pgm-virt")
    isa = load_isa("pgm-virt")
    assert first_divergence(run_bare(image), run_monitor([image], "patch")[0], image, isa) is None
