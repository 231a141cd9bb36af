"""Compiled blocks are exact: a run with every block compiled the first time it is reached,
and one with the default tiering, show the same trace as the per-instruction path — the
instruction count of every console byte, trap and timer interrupt (with its pc and
address), the ending, the final registers and storage — on random programs of both
families (kernel and user code, system calls, faults in mid-block, timer interrupts,
self-modifying stores, RISC-V paging and device accesses)."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from hybridvmm.guests import VARIANTS, build_guest
from hybridvmm.guests import randomized, rvrandom
from hybridvmm.isa import load_isa
from hybridvmm.isas import build_machine, storage_for
from hybridvmm.machine.core import Machine
from hybridvmm.recording import GuestRun, Recorder, bare_image
from hybridvmm.vmm.compare import first_divergence

PER_INSTRUCTION, TIERED, EAGER = "per-instruction", "tiered", "eager"


def run_with(image, isa, how: str, max_steps: int) -> tuple[GuestRun, Machine]:
    """``image`` on the bare machine, its blocks compiled ``how``."""
    m = build_machine(isa, image=bare_image(image), storage_size=storage_for(isa, image))
    m.compile = how != PER_INSTRUCTION
    m.compile_eager = how == EAGER
    rec = Recorder(m)
    start = time.perf_counter()
    result = m.run(max_steps)
    run = GuestRun(how, result.reason, result.detail, rec.events, bytes(m.console.output), m.cpu_state(),
                   m.storage.snapshot(), m.stats.instructions, time.perf_counter() - start)
    return run, m


def assert_same_trace(image, isa, max_steps: int, label: str) -> Machine:
    ref, plain = run_with(image, isa, PER_INSTRUCTION, max_steps)
    assert plain.block_instructions == 0 and plain.blocks.compiled == 0
    for how in (TIERED, EAGER):
        run, m = run_with(image, isa, how, max_steps)
        d = first_divergence(ref, run, image, isa)
        assert d is None, f"{label}, {how}: {d.describe()}"
        assert run.instructions == ref.instructions and run.events == ref.events
    return m


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), variant=st.sampled_from(VARIANTS))
def test_random_pgm_programs_compiled_and_per_instruction_agree(seed, variant):
    isa = load_isa(variant)
    m = assert_same_trace(randomized.generate(seed).image(variant), isa, 100_000, f"seed {seed} on {variant}")
    assert m.block_instructions > 0


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_random_rv32_programs_compiled_and_per_instruction_agree(seed):
    m = assert_same_trace(rvrandom.generate(seed).image(), load_isa("rv32"), 30_000, f"rvrandom seed {seed}")
    assert m.block_instructions > 0


def test_the_random_programs_reach_what_exactness_is_about():
    """Over fixed seeds the eager runs compile blocks that a store into code, a fault and a
    timer interrupt stop in mid-block (else the properties above would prove little)."""
    stopped = {"traps": 0, "code written": 0, "blocks": 0}
    for seed in range(6):
        for image, isa, steps in ((randomized.generate(seed).image("pgm-x86"), load_isa("pgm-x86"), 100_000),
                                  (rvrandom.generate(seed).image(), load_isa("rv32"), 30_000)):
            run, m = run_with(image, isa, EAGER, steps)
            stopped["blocks"] += m.blocks.compiled
            stopped["traps"] += sum(e.kind != "out" for e in run.events)
            stopped["code written"] += m.code.drops
    assert stopped["blocks"] > 100 and stopped["traps"] > 20 and stopped["code written"] > 0, stopped


FLAGS_ACROSS_A_FAULT = """
        .org 0x100
        .entry boot
boot:   movl    sp, kstack_top
        srr     r2, r3
        movl    r1, vectors
        call    kvectors
        movi    r1, 1
        movl    r6, 0xec780             ; 20,000 words below the bound: the last load faults
loop:   sub     r4, r4                  ; Z = 1: the flags the fault's old PSW must hold
        ld      r5, 0(r6)
        addi    r6, r6, 4               ; sets the flags again
        cmpi    r1, 0
        bne     loop
        halt
s_unexpected:   .asciz "fault, status "
        .align 4
vectors:        .word unexpected, unexpected, unexpected, unexpected, unexpected, unexpected
        .space 256
kstack_top:
"""


def test_flags_a_later_instruction_sets_again_are_kept_when_a_load_between_faults():
    """The compiler drops a flag store a later instruction makes dead — but not across an
    instruction that can trap: the bounds fault of the load saves the flags of `sub`."""
    from hybridvmm.asm import assemble
    from hybridvmm.guests import read_source

    image = assemble(FLAGS_ACROSS_A_FAULT + read_source("klib.s"), "pgm-virt", "flags")
    m = assert_same_trace(image, load_isa("pgm-virt"), 200_000, "flags across a fault")
    assert m.block_instructions > 0 and "fault, status 0x00000360" in m.console.text()  # bounds, Z and C


@pytest.mark.parametrize("guest,isa,steps", [("minios", "pgm-x86", 400_000), ("sieve", "pgm-virt", 400_000),
                                             ("rvminios", "rv32", 400_000), ("rvloop", "rv32", 400_000)])
def test_bundled_guests_compiled_and_per_instruction_agree(guest, isa, steps):
    m = assert_same_trace(build_guest(guest, isa), load_isa(isa), steps, guest)
    assert m.block_instructions > 0
