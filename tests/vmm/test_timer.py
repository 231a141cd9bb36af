"""The virtual interval timer is exact: the guest's timer interrupt arrives at the same guest
instruction as on the bare machine in every mode, and rdtime under the monitor reads the
virtual timer, never the real one (which is the monitor's)."""

from __future__ import annotations

import pytest

from hybridvmm.asm import assemble
from hybridvmm.guests import build_guest
from hybridvmm.vmm import Monitor
from hybridvmm.vmm.compare import run_bare, run_monitor

EQUIVALENT = [("pgm-virt", "pure"), ("pgm-x86", "interpret"), ("pgm-x86", "hybrid"), ("pgm-x86", "patch"),
              ("pgm-hybrid", "hybrid-no-patch"), ("pgm-virt", "patch")]


def _interrupts(run):
    return [(e.count, e.address) for e in run.events if e.kind == "interrupt"]


@pytest.mark.parametrize("isa,mode", EQUIVALENT)
@pytest.mark.parametrize("guest", ["timer", "minios", "sieve"])
@pytest.mark.parametrize("slice_length", [100_000, 777])
def test_timer_interrupts_arrive_at_the_same_guest_instruction(guest, isa, mode, slice_length):
    image = build_guest(guest, isa, small=True)
    ref = run_bare(image, isa)
    run = run_monitor([image], mode, isa, slice_length=slice_length)[0]
    assert _interrupts(ref) and _interrupts(run) == _interrupts(ref)


PENDING = """
        .org 0x100
        .entry boot
boot:   movl r1, 0x20 + 16 * 6      ; timer vector -> tick
        movl r2, tick
        movl r3, 0x100000
        st r0, 0(r1)
        st r2, 4(r1)
        st r0, 8(r1)
        st r3, 12(r1)
        movi r4, 3
        settimer r4
        nop
        nop
        nop                         ; the timer expires here, with IE = 0: pending
        nop
        rdtime r5                   ; 0: expired
        ei                          ; the interrupt is taken right after this instruction
        movi r6, 1                  ; (never reached before the interrupt)
        halt
tick:   clr r7
        ld r7, 4(r7)                ; the saved pc: the instruction after ei
        halt
"""


@pytest.mark.parametrize("isa,mode", EQUIVALENT)
def test_a_pending_interrupt_is_taken_right_after_the_instruction_that_sets_ie(isa, mode):
    image = assemble(PENDING, isa)
    ref = run_bare(image, isa)
    run = run_monitor([image], mode, isa)[0]
    assert run.state == ref.state and run.events == ref.events
    assert ref.state["regs"][6] == 0 and ref.state["regs"][7] == image.symbols["tick"] - 6


RDTIME_USER = """
        .org 0x100
        .entry boot
boot:   movl sp, 0x9000
        movl r1, 5000
        settimer r1
        jrstu user
user:   movi r2, 20
spin:   addi r2, r2, -1
        bne spin
        rdtime r3                   ; user mode: on pgm-x86 it executes and reveals the timer
        movi r4, 0
        rdtime r4
        svc 0
"""


@pytest.mark.parametrize("mode", ["hybrid", "patch"])
@pytest.mark.parametrize("slice_length", [100_000, 37])
def test_rdtime_reads_the_virtual_timer_under_the_monitor(mode, slice_length):
    image = assemble(RDTIME_USER, "pgm-x86")
    ref = run_bare(image, "pgm-x86", max_steps=10_000)
    run = run_monitor([image], mode, "pgm-x86", max_steps=10_000, slice_length=slice_length)[0]
    assert ref.state["regs"][3] == 5000 - 42 and run.state["regs"][3] == ref.state["regs"][3]
    assert run.state["regs"][4] == ref.state["regs"][4]


def test_unpatched_rdtime_reads_the_real_timer_which_is_the_monitors():
    image = assemble(RDTIME_USER, "pgm-x86")
    ref = run_bare(image, "pgm-x86", max_steps=10_000)
    run = run_monitor([image], "hybrid-no-patch", "pgm-x86", max_steps=10_000, slice_length=37)[0]
    assert run.state["regs"][3] != ref.state["regs"][3] and run.state["regs"][3] <= 37


def test_the_real_timer_never_runs_past_the_slice():
    """Resource control: whatever the guest's own timer, the monitor regains the CPU within a slice."""
    monitor = Monitor([build_guest("timer", "pgm-x86", small=True)], "patch", slice_length=500)
    seen = []
    orig = monitor.virt.enter

    def enter(host, vcpu, countdown):
        seen.append(countdown)
        orig(host, vcpu, countdown)

    monitor.virt.enter = enter
    monitor.run()
    assert seen and max(seen) <= 500 and all(c > 0 for c in seen)
