"""hypothesis: whatever the program, the CFG is well formed.

Every reached instruction is in exactly one block, blocks are contiguous and end only at
control flow, every edge target is a block start made by its source block's last
instruction, no two reached instructions overlap, and data ranges are exactly the bytes
no instruction covers.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from hybridvmm.image import FLAG_CODE, Image, Section
from hybridvmm.isa import Decoder, load_isa
from hybridvmm.scan import EDGE_KINDS, Scanner, data_ranges, find_sites, scan_image
from hybridvmm.scan.synth import Generator


def check_well_formed(sc: Scanner) -> None:
    cfg = sc.cfg
    seen: dict[int, int] = {}
    for start, block in cfg.blocks.items():
        assert block.start == start and len(block) > 0 and block.instructions[0].address == start
        for ins, nxt in zip(block.instructions, block.instructions[1:]):
            assert ins.next_address == nxt.address  # contiguous
            assert ins.flow == "none"  # only the last instruction may change the flow
        for ins in block.instructions:
            assert ins.address not in seen  # in exactly one block
            seen[ins.address] = start
    assert seen == cfg.block_of
    assert set(seen) == set(cfg.instructions)
    assert set(cfg.graph.nodes) == set(cfg.blocks)
    for u, v, data in cfg.graph.edges(data=True):
        assert v in cfg.blocks  # every edge target is a block start
        assert data["address"] == cfg.blocks[u].last.address
        assert data["kind"] == data["kinds"][0] and set(data["kinds"]) <= set(EDGE_KINDS)
    ordered = sorted(cfg.instructions.items())
    for (a, ins), (b, _) in zip(ordered, ordered[1:]):
        assert a + len(ins.raw) <= b  # no overlapping instructions
    covered = {x for a, ins in ordered for x in range(a, a + len(ins.raw))}
    regions = sc.memory.regions()
    data = {x for lo, hi in data_ranges(cfg, regions) for x in range(lo, hi)}
    everything = {x for lo, hi in regions for x in range(lo, hi)}
    assert data == everything - covered
    for b in sc.indirect.values():
        assert cfg.blocks[cfg.block_of[b.address]].last.address == b.address
    sites = find_sites(cfg, sc.isa.instructions.values())
    assert all(cfg.block_of[s.address] == s.block for s in sites)


@settings(max_examples=60, deadline=None)
@given(isa=st.sampled_from(["pgm-x86", "rv32"]), seed=st.integers(0, 2**32 - 1), n=st.integers(1, 400),
       data=st.sampled_from([0.0, 0.3, 1.0]))
def test_random_valid_programs(isa, seed, n, data):
    spec = load_isa(isa)
    program = Generator(spec).program(n, random.Random(seed), data_chance=data)
    sc = scan_image(program.image, spec)
    check_well_formed(sc)
    assert program.image.entry in sc.blocks
    for lo, hi in program.data:  # generated data is never reached
        assert not any(lo <= a < hi for a in sc.instructions)


def test_indirect_jump_through_zero_never_targets_generated_data():
    """Seed 313 once emitted ``jalr t6,453(zero)`` into a data gap the generator had made."""
    spec = load_isa("rv32")
    program = Generator(spec).program(313, random.Random(313), data_chance=1.0)
    sc = scan_image(program.image, spec)
    for lo, hi in program.data:
        assert not any(lo <= a < hi for a in sc.instructions)
    decoder = Decoder(spec)
    jalrs = [ins for ins in (decoder.decode(program.image.read(a, 4), a) for a in program.slots)
             if ins.spec.name == "jalr"]
    assert jalrs and all(ins.operands["rs1"] != 0 for ins in jalrs)


@settings(max_examples=80, deadline=None)
@given(isa=st.sampled_from(["pgm", "rv32"]), raw=st.binary(min_size=2, max_size=400),
       roots=st.lists(st.integers(0, 200), max_size=4))
def test_arbitrary_bytes(isa, raw, roots):
    spec = load_isa(isa)
    base = 0x1000
    image = Image(isa, base, [Section("text", base, bytearray(raw), FLAG_CODE)])
    sc = scan_image(image, spec, roots=[base + 2 * r for r in roots])
    check_well_formed(sc)
