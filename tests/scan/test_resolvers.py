"""Resolvers: the data-flow tables, jump tables, installed vectors, and the plug-in seams."""

from __future__ import annotations

import pytest

from hybridvmm.isa import Decoder, available_isas, load_isa
from hybridvmm.scan import (
    ConstantPropagationResolver,
    ImageMemory,
    Resolution,
    Scanner,
    dataflow_facts,

    default_resolvers,
)
from hybridvmm.scan.dataflow import Entry, Evaluator, Indexed, compile_expr


@pytest.mark.parametrize("name", [n for n in available_isas()])
def test_every_bundled_isa_has_a_valid_table(name):
    isa = load_isa(name)
    facts = dataflow_facts(isa)
    assert facts is not None
    Evaluator(isa, facts)  # raises on any name that is not in the spec
    assert [r.name for r in default_resolvers(isa)] == ["constprop"]


def test_tables_are_checked_against_the_spec():
    isa = load_isa("pgm")
    with pytest.raises(ValueError, match="'rd' is not a field"):
        Evaluator(isa, {"effects": {"movl": ["ra = rd"]}})
    with pytest.raises(ValueError, match="unknown instruction"):
        Evaluator(isa, {"effects": {"frobnicate": []}})
    with pytest.raises(ValueError, match="neither pc nor a register"):
        Evaluator(isa, {"effects": {"movl": ["imm32 = ra"]}})
    with pytest.raises(ValueError, match="unsupported"):
        compile_expr("ra ** 2")


def test_abstract_values():
    isa = load_isa("pgm")
    ev = Evaluator(isa, dataflow_facts(isa))
    dec = Decoder(isa)
    regs: dict = {}
    enc = lambda name, **ops: dec.decode(dec.encode(isa.instructions[name], ops), 0x100)
    ctx = ev.context(lambda a: 0x100 <= a < 0x200, stores=[])
    ev.step(enc("movl", ra=1, imm32=0x180), regs, ctx)
    assert regs[1] == 0x180
    ev.step(enc("add", ra=1, rb=2), regs, ctx)  # r2 unknown: a table index
    assert regs[1] == Indexed(0x180)
    ev.step(enc("ld", ra=3, rb=1, simm=4), regs, ctx)
    assert regs[3] == Entry(0x184)
    ev.step(enc("movi", ra=4, simm=0x30), regs, ctx)
    ev.step(enc("st", ra=3, rb=4, simm=4), regs, ctx)
    assert ctx.stores == [(0x34, Entry(0x184))]
    ev.step(enc("addi", ra=5, rb=6, simm=7), regs, ctx)  # unknown + 7: 7 is no address here
    assert 5 not in regs
    ev.step(enc("pop", ra=3), regs, ctx)
    assert 3 not in regs


def test_jump_table_ends_at_the_next_label(tools):
    img = tools.build("""
    .entry start
    start:  shli r1, r1, 2
            movl r2, table
            add r2, r1
            ld r2, 0(r2)
            jmpr r2
    table:  .word case0, case1, case2
    after:  .word case0                 ; a label ends the table
    case0:  halt
    case1:  halt
    case2:  halt
    """)
    sc = tools.scan(img)
    jump = img.symbols["table"] - 2
    b = sc.indirect[jump]
    assert b.targets == set(tools.sym(img, "case0", "case1", "case2")) and b.resolved


def test_jump_table_without_a_boundary_is_partial(tools):
    img = tools.build("""
    .entry start
    start:  movl r2, 0x200
            add r2, r1
            ld r2, 0(r2)
            jmpr r2
    case0:  halt
    .org 0x200
            .word case0, 0x12345677
    """)
    sc = tools.scan(img)
    b = sc.indirect[img.symbols["case0"] - 2]
    assert b.targets == {img.symbols["case0"]} and not b.resolved


def test_a_word_loaded_from_a_fixed_address_is_a_variable(tools):
    img = tools.build("""
    .entry start
    start:  movl r2, ptr
            ld r2, 0(r2)
            jmpr r2
    ptr:    .word target
    target: halt
    """)
    sc = tools.scan(img)
    (b,) = sc.unresolved()
    assert b.targets == set()


def test_installed_vectors_become_roots(tools):
    img = tools.build("""
    .entry start
    start:  movl r3, 0x50               ; cause 3's new PSW (0x20 + 16*3)
            movl r5, bounds_handler
            st r5, 4(r3)                 ; its pc word
            movl r6, 0x9999              ; not a vector slot: ignored
            st r5, 0(r6)
            halt
    bounds_handler:
            rti
    """)
    sc = tools.scan(img)
    handler = img.symbols["bounds_handler"]
    assert sc.roots[handler] == ("vector", "bounds")
    assert handler in sc.blocks
    assert handler not in tools.scan(img, vectors=False).instructions


def test_a_resolver_plugs_in(tools):
    img = tools.build("""
    .entry start
    start:  ld r2, 0(r1)
            jmpr r2
    there:  halt
    """)
    there = img.symbols["there"]

    class Oracle:
        name = "oracle"

        def resolve(self, ctx):
            return Resolution(frozenset({there}), True, frozenset({ctx.block.start}))

    isa = load_isa("pgm")
    sc = Scanner(isa, ImageMemory(img, Decoder(isa)), resolvers=[Oracle()])
    sc.scan(img.entry)
    b = sc.indirect[there - 2]
    assert b.targets == {there} and b.resolved and b.resolver == "oracle"
    assert (img.entry, there, "indirect") in tools.edges(sc)
    plain = Scanner(isa, ImageMemory(img, Decoder(isa)), resolvers=[])
    plain.scan(img.entry)
    assert plain.unresolved()[0].address == there - 2


def test_a_root_finder_plugs_in(tools):
    img = tools.build("""
    .entry start
    start:  halt
    hidden: movi r1, 1
            halt
    """)
    hidden = img.symbols["hidden"]

    class Finder:
        name = "finder"

        def find(self, scanner):
            return [(hidden, "address", "found")]

    isa = load_isa("pgm")
    sc = Scanner(isa, ImageMemory(img, Decoder(isa)), root_finders=[Finder()])
    sc.scan(img.entry)
    assert hidden in sc.blocks and sc.roots[hidden] == ("address", "found")


def test_constprop_resolver_is_isa_agnostic():
    # the class never names an ISA: the same code serves both bundled tables
    for name in ("pgm", "rv32"):
        isa = load_isa(name)
        assert isinstance(default_resolvers(isa)[0], ConstantPropagationResolver)


def test_registers_do_not_survive_a_call(tools):
    img = tools.build("""
    .entry start
    start:  movl r2, target
            call f                  ; f may change r2
    back:   jmpr r2
    f:      ld r2, 0(r1)
            ret
    target: halt
    """)
    sc = tools.scan(img)
    (b,) = sc.unresolved()
    assert b.address == img.symbols["back"] and b.targets == set()
