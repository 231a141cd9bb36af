"""The incremental API: scan more into an existing graph, invalidate, rescan — and the
result equals a fresh scan of the new bytes."""

from __future__ import annotations

import random

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hybridvmm.isa import Decoder, load_isa
from hybridvmm.scan import ImageMemory, Scanner, scan_image
from hybridvmm.scan.synth import Generator


def canonical(sc: Scanner) -> dict:
    """Everything a scan found, in a comparable form."""
    return {
        "blocks": {s: (b.end, [i.address for i in b.instructions]) for s, b in sc.blocks.items()},
        "edges": {(u, v, tuple(sorted(d["kinds"])), d["address"]) for u, v, d in sc.graph.edges(data=True)},
        "indirect": {a: (sorted(b.targets), b.resolved) for a, b in sc.indirect.items()},
        "problems": {(p.address, p.reason, p.source, p.kind) for p in sc.problems.values()},
        "roots": dict(sc.roots),
    }


def fresh(image, isa) -> Scanner:
    return scan_image(image, isa)


SOURCE = """
        .entry start
start:  cmpi r1, 0
        beq other
        movl r2, later
        jmpr r2                 ; resolved
tail:   movi r3, 1
        halt
other:  ld r2, 0(r1)
        jmpr r2                 ; unresolved: the monitor scans its target when it runs
later:  movi r4, 4
        br tail
orphan: movi r5, 5              ; reached only at run time
        nop
        halt
"""


def test_scan_more_into_an_existing_graph(tools):
    image = tools.build(SOURCE)
    sc = tools.scan(image)
    start, tail, later, orphan = tools.sym(image, "start", "tail", "later", "orphan")
    assert orphan not in sc.instructions
    before = tools.edges(sc)
    block = sc.scan(orphan)
    assert block is sc.blocks[orphan] and len(block) == 3
    assert tools.edges(sc) == before and sc.roots[orphan] == ("address", "")
    # an address inside a known block splits it
    block = sc.scan(orphan + 4)
    assert block.start == orphan + 4
    assert (orphan, orphan + 4, "fallthrough") in tools.edges(sc)
    assert len(sc.blocks[orphan]) == 1


def test_lazy_scanning_from_nothing(tools):
    image = tools.build(SOURCE)
    isa = load_isa("pgm")
    sc = Scanner(isa, ImageMemory(image, Decoder(isa)))
    assert sc.blocks == {} and sc.block_at(image.entry) is None
    block = sc.scan(image.entry)
    assert block.start == image.entry
    assert canonical(sc)["blocks"] == canonical(tools.scan(image, vectors=False))["blocks"]


def test_self_modifying_write_invalidate_and_rescan(tools):
    image = tools.build(SOURCE)
    isa = load_isa("pgm")
    sc = scan_image(image, isa)
    start, tail, later, other = tools.sym(image, "start", "tail", "later", "other")
    # rewrite "movl r2, later" into "movl r2, other": the resolved target changes
    movl = start + 8
    dec = Decoder(isa)
    new = dec.encode(isa.instructions["movl"], {"ra": 2, "imm32": other})
    image.write(movl, new)
    dropped = sc.invalidate(movl, movl + len(new))
    assert dropped == [start + 8]
    assert movl not in sc.instructions and start + 8 not in sc.graph
    assert all(v in sc.blocks for v in sc.graph.successors(start))  # no dangling edges
    sc.rescan()
    assert canonical(sc) == canonical(fresh(image, isa))
    assert later not in sc.blocks  # no longer reachable: collected


def test_invalidating_a_range_without_code_changes_nothing(tools):
    image = tools.build(SOURCE)
    sc = tools.scan(image)
    snapshot = canonical(sc)
    end = image.sections[0].end
    assert sc.invalidate(end + 0x100, end + 0x200) == []
    sc.rescan()
    assert canonical(sc) == snapshot


def _rewrite_and_compare(isa_name: str, seed: int, n: int, writes: int, batched: bool = False) -> None:
    """Random writes — a new instruction over a reached one, or random bytes anywhere —
    each followed by invalidate + rescan (``batched``: every write invalidated, then one
    rescan, as a monitor does when several stores land before the code runs again); then
    compare with a fresh scan."""
    isa = load_isa(isa_name)
    gen = Generator(isa)
    rng = random.Random(seed)
    program = gen.program(n, rng, data_chance=0.3)
    image = program.image
    section = image.sections[0]
    sc = scan_image(image, isa)
    for _ in range(writes):
        if rng.random() < 0.6:
            address = rng.choice(program.slots)
            ins = sc.instructions.get(address)
            new = gen.instruction(address, len(ins.raw) if ins else isa.lengths[0], program.slots, rng)
        else:
            address = rng.randrange(section.address, section.end) & -isa.alignment
            new = rng.randbytes(min(rng.choice([1, 2, 4]), section.end - address))
        image.write(address, new)
        sc.invalidate(address, address + len(new))
        if not batched:
            sc.rescan()
    if batched:
        sc.rescan()
    want = fresh(image, isa)
    overlaps = [p for s in (sc, want) for p in s.problems.values() if p.reason == "overlap"]
    assume(not overlaps)  # which of two overlapping decodings wins depends on the order
    assert canonical(sc) == canonical(want)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 120), writes=st.integers(1, 4))
def test_invalidate_and_rescan_equal_a_fresh_scan_pgm(seed, n, writes):
    _rewrite_and_compare("pgm", seed, n, writes)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 120), writes=st.integers(1, 4))
def test_invalidate_and_rescan_equal_a_fresh_scan_rv32(seed, n, writes):
    _rewrite_and_compare("rv32", seed, n, writes)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 120), writes=st.integers(2, 6))
def test_several_writes_before_one_rescan_equal_a_fresh_scan(seed, n, writes):
    _rewrite_and_compare("pgm", seed, n, writes, batched=True)


def test_an_edge_kept_from_a_block_a_later_write_drops_is_not_followed(tools):
    """Regression (xv6 under hybrid: the kernel filled a page of scanned user code byte by
    byte): invalidating a block keeps the edges into it for the rescan; a second write
    that then dropped the block those edges came from made the rescan follow an edge from
    an instruction that no longer existed (KeyError)."""
    image = tools.build(SOURCE)
    isa = load_isa("pgm")
    sc = scan_image(image, isa)
    start, tail, later = tools.sym(image, "start", "tail", "later")
    assert sc.invalidate(tail, tail + 1) != []          # tail's block: edges into it kept
    assert sc.invalidate(later, later + 1) != []        # later's block, which branches to tail
    sc.rescan()
    assert canonical(sc) == canonical(fresh(image, isa))


def test_a_write_to_a_jump_table_re_resolves_its_branch(tools):
    image = tools.build("""
    .entry start
    start:  movl r2, table
            add r2, r1
            ld r2, 0(r2)
            jmpr r2
    table:  .word one, two
    end:    .word 0
    one:    halt
    two:    halt
    three:  halt
    """)
    isa = load_isa("pgm")
    sc = scan_image(image, isa)
    table, two, three = tools.sym(image, "table", "two", "three")
    assert three not in sc.blocks
    image.write(table + 4, three.to_bytes(4, "little"))
    assert sc.invalidate(table + 4, table + 8) == []  # data, not code
    sc.rescan()
    assert canonical(sc) == canonical(fresh(image, isa))
    assert three in sc.blocks and two not in sc.blocks


def test_a_write_over_undecodable_bytes_is_retried(tools):
    image = tools.build("""
    .entry start
    start:  movi r1, 1
    hole:   .half 0xffff             ; undecodable: the scan stops here
            halt
    """)
    isa = load_isa("pgm")
    sc = scan_image(image, isa)
    hole = image.symbols["hole"]
    assert [p.reason for p in sc.problems.values()] == ["undecodable"]
    image.write(hole, Decoder(isa).encode(isa.instructions["nop"], {}))
    assert sc.invalidate(hole, hole + 2) == []
    sc.rescan()
    assert canonical(sc) == canonical(fresh(image, isa)) and not sc.problems
    assert [i.name for i in sc.blocks[image.entry].instructions] == ["movi", "nop", "halt"]
