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


INVARIANT_ADDRESSES = """
        .org 0x80000000
        .entry start
start:  la    t0, handler
        csrrw zero, mtvec, t0
        addi  t0, zero, 0
        la    sp, patch_site
        lui   s1, 0x70000              # nothing is there: every load from it faults
        lw    s5, 0(sp)                # the instruction at patch_site, as it is
        la    s2, new_insn
        lw    s2, 0(s2)
        la    s4, scratch
        addi  t1, zero, 300
faults: addi  t0, t0, 1
        lw    t2, 0(s1)                # an invariant address out of RAM: a fault in mid-block
        sw    t0, 8(s4)                # an invariant address in RAM
        lw    t3, 8(s4)
        add   a0, a0, t3
        bne   t0, t1, faults
        addi  t0, zero, 0
loop:   addi  t0, t0, 1
        sw    t0, 8(s4)
        lw    t3, 8(s4)
        add   a0, a0, t3
        add   s5, s5, s6               # s6 is 0, but once: from round 301 the loop stores another word
        addi  s6, zero, 0
        beq   t0, t1, patch
back:   sw    s5, 0(sp)                # an invariant address in the loop's own code
        addi  a1, a1, 1
patch_site:
        addi  a1, a1, 1
        bne   t0, t1, loop
        addi  t1, t1, 300
        bltu  t1, s3, loop
        csrrw zero, mtvec, zero
        ebreak
patch:  sub   s6, s2, s5
        addi  s3, zero, 0x400
        j     back
handler:
        csrrs t4, mepc, zero
        addi  t4, t4, 4
        csrrw zero, mepc, t4
        addi  a2, a2, 1
        mret
        .align 2
new_insn:
        addi  a1, a1, 7
scratch:
        .space 16
"""


def test_a_loops_invariant_addresses_hoisted_out_of_it_still_fault_and_see_code_written():
    """The compiler computes an address from a register the loop never writes once, before
    the loop: the out-of-RAM load still faults at its instruction every round, and a store
    through a hoisted address into the loop's own code still stops the block."""
    from hybridvmm.asm import assemble

    image = assemble(INVARIANT_ADDRESSES, "rv32", "invariant")
    m = assert_same_trace(image, load_isa("rv32"), 200_000, "invariant addresses")
    x = m.cpu_state()["x"]
    # 300 rounds with a fault each; then 900 (t1 reaches 1,200 > 0x400 at t0 = 900), a1 += 2
    # a round until round 301 rewrote +1 into +7
    assert (x[12], x[11]) == (300, 300 * 2 + (900 - 300) * 8)
    assert m.block_instructions > 0 and m.code.drops > 0
