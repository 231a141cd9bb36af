"""Translating a missed instruction's straight-line successors with it: same results, fewer misses."""

from __future__ import annotations

from rvrig import load_asm

STRAIGHT = """
        .org 0x80000000
        .entry start
start:
        addi  a0, zero, 1
        addi  a0, a0, 2
        addi  a0, a0, 3
        ebreak
        .word 0xffffffff            # not an instruction: translating ahead stops before it
        .word 0x00000000
"""

SELF_MODIFYING = """
        .org 0x80000000
        .entry start
start:
        la    t0, patched
        lw    t1, 0(t0)             # the word at `patched` has been translated ahead by now
        la    t2, replacement
        lw    t2, 0(t2)
        sw    t2, 0(t0)             # ... and is overwritten before it runs
patched:
        addi  a0, zero, 1
        ebreak
replacement:
        addi  a0, zero, 7
"""


def test_successors_are_translated_with_the_miss(asm_machine):
    m = asm_machine(STRAIGHT)
    m.trap_handler = lambda trap: m.stop()
    m.run(100)
    assert m.x[10] == 6
    assert {0x80000000, 0x80000004, 0x80000008, 0x8000000c} <= set(m._ctx.insns)
    assert 0x80000010 not in m._ctx.insns  # the ebreak ended the run of translations


def test_a_store_over_an_instruction_translated_ahead_is_seen():
    m = load_asm(SELF_MODIFYING)
    m.trap_handler = lambda trap: m.stop()
    m.run(100)
    assert m.x[10] == 7


def test_translate_hooks_see_addresses_only_when_reached():
    m = load_asm(STRAIGHT)
    seen = []
    m.hook_translate(lambda machine, vaddr, paddr, ins: seen.append(vaddr))
    m.trap_handler = lambda trap: m.stop()
    m.run(2)
    assert seen == [0x80000000, 0x80000004]
