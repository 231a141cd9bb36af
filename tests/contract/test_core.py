"""Core additions the RISC-V model needed, tested ISA-agnostically on pgm: the ``exact`` flag
(device accesses leave the hot loop), guest exit codes, per-model storage sizing, and
dropping one virtual range of one context."""

from __future__ import annotations

from hybridvmm.asm import assemble
from hybridvmm.image import Image, Section
from hybridvmm.isa import load_isa
from hybridvmm.isas import build_machine, storage_for
from hybridvmm.isas.pgm import SEMANTICS, PgmMachine, Semantic
from hybridvmm.machine.traps import SyncSignal

LOOP = """
        .org 0x100
        .entry start
start:
        movi r2, 10
loop:
        addi r1, r1, 1
        addi r2, r2, -1
        bne loop
        halt
"""


def test_a_handler_that_needs_the_exact_state_runs_exactly_once():
    seen = []
    base = SEMANTICS["addi"]

    def device_addi(m, ins, env):
        real = base.factory(m, ins, env)

        def h() -> int:
            if not m.exact:
                seen.append("sync")
                raise SyncSignal                     # before changing anything
            seen.append(m.stats.instructions)       # the exact count of retired instructions
            return real()
        return h

    m = PgmMachine(load_isa("pgm"), 0x1000, semantics={"addi": Semantic(device_addi)})
    m.load(assemble(LOOP, "pgm"))
    m.run(1000)
    assert m.halted and m.regs[1] == 10 and m.regs[2] == 0
    counts = [s for s in seen if s != "sync"]
    assert len(counts) == 20 and counts == sorted(counts) and counts[0] == 1
    assert not m.exact


def test_exit_code_is_none_until_a_guest_reports_one():
    m = build_machine("pgm", storage_size=0x1000)
    assert m.exit_code is None and m.exit_message == ""


def test_storage_for_asks_the_model_how_much_an_image_needs():
    low = Image("pgm", 0x100, [Section("t", 0x100000, bytearray(0x20000))])
    assert storage_for("pgm", low) == 0x120000                      # pgm: storage 0 is address 0
    high = Image("rv32", 0x80000000, [Section("t", 0x80000000, bytearray(0x180000))])
    assert storage_for("rv32", high) == 0x180000                     # rv32: storage 0 is RAM_BASE


def test_drop_virtual_forgets_one_range_of_one_context():
    m = build_machine("pgm", storage_size=0x1000)
    m.load(assemble(LOOP, "pgm"))
    m.run(1000)
    ctx = m._ctx
    before = sorted(ctx.insns)
    m.code.drop_virtual(ctx.key, 0x100, 0x104)
    assert sorted(ctx.insns) == [a for a in before if not 0x100 <= a < 0x104]
    m.code.drop_virtual("no such context", 0, 0x1000)
