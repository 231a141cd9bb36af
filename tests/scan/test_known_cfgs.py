"""Hand-written guests whose CFG is known: exact node and edge sets."""

from __future__ import annotations

from hybridvmm.isa import Decoder
from hybridvmm.scan import data_ranges, scan_image


def test_straight_line(tools):
    img = tools.build("""
    .entry start
    start:  movi r1, 5
            addi r2, r1, 3
            mul r1, r2
    end:    halt
    """)
    sc = tools.scan(img)
    (start,) = tools.sym(img, "start")
    assert tools.nodes(sc) == {start}
    assert tools.edges(sc) == set()
    block = sc.blocks[start]
    assert [i.name for i in block.instructions] == ["movi", "addi", "mul", "halt"]
    assert block.end == img.sections[0].end
    assert data_ranges(sc.cfg, sc.memory.regions()) == []


def test_if_else(tools):
    img = tools.build("""
    .entry start
    start:  cmpi r1, 0
            beq else
    then:   movi r2, 1
            br join
    else:   movi r2, 2
    join:   halt
    """)
    sc = tools.scan(img)
    start, then, else_, join = tools.sym(img, "start", "then", "else", "join")
    assert tools.nodes(sc) == {start, then, else_, join}
    assert tools.edges(sc) == {
        (start, then, "fallthrough"),
        (start, else_, "taken"),
        (then, join, "jump"),
        (else_, join, "fallthrough"),
    }


def test_loop_splits_its_entry_block(tools):
    img = tools.build("""
    .entry start
    start:  movi r1, 10
    loop:   dec r1
            cmpi r1, 0
            bne loop
    done:   halt
    """)
    sc = tools.scan(img)
    start, loop, done = tools.sym(img, "start", "loop", "done")
    assert tools.nodes(sc) == {start, loop, done}
    assert tools.edges(sc) == {(start, loop, "fallthrough"), (loop, loop, "taken"), (loop, done, "fallthrough")}
    assert len(sc.blocks[start]) == 1 and len(sc.blocks[loop]) == 3


def test_calls_and_returns(tools):
    img = tools.build("""
    .entry start
    start:  call f
    again:  callrel f
    done:   halt
    f:      movi r1, 1
            ret
    """)
    sc = tools.scan(img)
    start, again, done, f = tools.sym(img, "start", "again", "done", "f")
    assert tools.nodes(sc) == {start, again, done, f}
    assert tools.edges(sc) == {
        (start, f, "call"),
        (start, again, "return-to"),
        (again, f, "call"),
        (again, done, "return-to"),
    }
    # the edge records the instruction that makes it
    assert sc.graph.edges[again, f]["address"] == again


def test_jump_into_the_middle_of_a_block_splits_it(tools):
    img = tools.build("""
    .entry start
    start:  cmpi r1, 0
            beq later
    a:      movi r2, 2
    a_mid:  movi r3, 3
            halt
    later:  br a_mid
    """)
    sc = tools.scan(img)
    start, a, a_mid, later = tools.sym(img, "start", "a", "a_mid", "later")
    assert tools.nodes(sc) == {start, a, a_mid, later}
    assert tools.edges(sc) == {
        (start, a, "fallthrough"),
        (start, later, "taken"),
        (a, a_mid, "fallthrough"),
        (later, a_mid, "jump"),
    }
    assert [i.name for i in sc.blocks[a].instructions] == ["movi"]
    assert [i.name for i in sc.blocks[a_mid].instructions] == ["movi", "halt"]
    assert sc.cfg.block_of[a_mid] == a_mid


def test_jump_into_the_middle_of_an_instruction_is_reported(tools):
    img = tools.build("""
    .entry start
    start:  movl r1, 0x12345678
            beq start + 2
    done:   halt
    """)
    sc = tools.scan(img)
    start, done = tools.sym(img, "start", "done")
    assert tools.nodes(sc) == {start, done}
    assert tools.edges(sc) == {(start, done, "fallthrough")}
    (p,) = sc.problems.values()
    assert (p.address, p.reason, p.source, p.kind, p.conflicts_with) == (start + 2, "overlap", start + 6, "taken", start)
    assert start + 2 not in sc.instructions  # not silently decoded


def test_instruction_covering_a_known_start_is_reported(tools):
    # The 32-bit constant's halves decode as "nop; halt" when entered at start+2.
    img = tools.build("""
    .entry start
    start:  movl r1, 0x02000100
            halt
    """)
    sc = scan_image(img, roots=[img.entry + 2])  # entry first: the movl wins
    assert set(sc.instructions) == {img.entry, img.entry + 6}
    (p,) = sc.problems.values()
    assert (p.address, p.reason, p.source, p.conflicts_with) == (img.entry + 2, "overlap", None, img.entry)
    from hybridvmm.scan import Scanner, ImageMemory
    from hybridvmm.isa import load_isa

    isa = load_isa("pgm")
    other = Scanner(isa, ImageMemory(img, Decoder(isa)))
    other.add_root(img.entry + 2)  # the inner instructions first: the movl now overlaps them
    other.add_root(img.entry, "entry")
    other.run()
    assert [i.name for i in other.blocks[img.entry + 2].instructions] == ["nop", "halt"]
    (p,) = other.problems.values()
    assert (p.address, p.reason, p.source, p.conflicts_with) == (img.entry, "overlap", None, img.entry + 2)


def test_data_between_functions(tools):
    img = tools.build("""
    .entry start
    start:  call f
            halt
    msg:    .asciz "hello, data"
            .align 2
    table:  .word 0x0900, 0x0200
    f:      movi r1, 1
            ret
    """)
    sc = tools.scan(img)
    start, msg, f = tools.sym(img, "start", "msg", "f")
    assert data_ranges(sc.cfg, sc.memory.regions()) == [(msg, f)]
    assert not any(msg <= a < f for a in sc.instructions)
    assert tools.nodes(sc) == {start, start + 6, f}


def test_code_reachable_only_through_a_trap_vector(tools):
    img = tools.build("""
    .org 0x24
            .word svc_handler        ; new-PSW pc for cause 1 (privileged)
    .org 0x74
            .word svc_handler        ; cause 5 (svc)
    .org 0x100
    .entry start
    start:  svc 3
            halt
    svc_handler:
            movi r1, 7
            rti
    """)
    start, handler = tools.sym(img, "start", "svc_handler")
    vectors = tools.scan(img)
    assert tools.nodes(vectors) == {start, start + 2, handler}
    assert tools.edges(vectors) == {(start, start + 2, "return-to")}
    assert vectors.roots[handler] == ("vector", "svc")
    plain = tools.scan(img, vectors=False)
    assert handler not in plain.instructions


def test_indirect_jumps_resolved_and_unresolved(tools):
    img = tools.build("""
    .entry start
    start:  movl r2, target
            movi r4, 1
            jmpr r2                 ; resolved: r2 holds target
    target: ld r3, 0(r4)
    jump:   jmpr r3                 ; unresolved: r3 came from storage
    """)
    sc = tools.scan(img)
    start, target, jump = tools.sym(img, "start", "target", "jump")
    assert tools.nodes(sc) == {start, target}
    assert tools.edges(sc) == {(start, target, "indirect")}
    resolved = sc.indirect[target - 2]
    assert resolved.resolved and resolved.targets == {target} and resolved.resolver == "constprop"
    assert [b.address for b in sc.unresolved()] == [jump]


def test_switch_dispatch_resolved_through_predecessors(tools):
    img = tools.build("""
    .entry start
    start:  movl r2, case_a
            cmpi r1, 1
            bne go
            movl r2, case_b
    go:     jmpr r2
    case_a: halt
    case_b: addi r2, r2, f - case_b  ; only the path that set r2 = case_b can jump here
    call:   callr r2
            halt
    f:      ret
    """)
    sc = tools.scan(img)
    go, case_a, case_b, call, f = tools.sym(img, "go", "case_a", "case_b", "call", "f")
    assert sc.indirect[go].targets == {case_a, case_b} and sc.indirect[go].resolved
    assert sc.indirect[call].targets == {f} and sc.indirect[call].resolved
    assert {(s, d, k) for s, d, k in tools.edges(sc) if k in ("indirect", "return-to")} == {
        (go, case_a, "indirect"),
        (go, case_b, "indirect"),
        (case_b, f, "indirect"),
        (case_b, call + 2, "return-to"),
    }


def test_partly_known_indirect_jump_is_unresolved_with_partial_targets(tools):
    img = tools.build("""
    .entry start
    start:  ld r2, 0(r1)
            cmpi r1, 0
            beq go
            movl r2, known
    go:     jmpr r2
    known:  halt
    """)
    sc = tools.scan(img)
    go, known = tools.sym(img, "go", "known")
    b = sc.indirect[go]
    assert b.targets == {known} and not b.resolved
    assert [u.address for u in sc.unresolved()] == [go]


def test_rv32_auipc_lui_addi_jalr_resolved(tools):
    img = tools.build("""
    .org 0x1000
    .entry start
    start:  auipc t0, 0
            addi t0, t0, 20          # start + 20 = via_lui
            jalr zero, 0(t0)
    pad:    jal zero, pad
            ebreak
    via_lui:
            lui t1, 0x2
            addi t1, t1, -0x800      # 0x2000 - 0x800 = 0x1800
            jalr ra, 0(t1)           # an indirect call
            ebreak
    .org 0x1800
    far:    jalr zero, 0(ra)         # return
    """, isa="rv32")
    sc = tools.scan(img)
    start, via_lui, far = tools.sym(img, "start", "via_lui", "far")
    assert via_lui == start + 20
    assert sc.indirect[start + 8].targets == {via_lui} and sc.indirect[start + 8].resolved
    call = via_lui + 8
    assert sc.indirect[call].kind == "indirect-call" and sc.indirect[call].targets == {far}
    assert tools.edges(sc) == {
        (start, via_lui, "indirect"),
        (via_lui, far, "indirect"),
        (via_lui, call + 4, "return-to"),
    }
    assert sc.unresolved() == []
    assert sc.blocks[far].instructions[0].flow == "return"
