"""Decoder dispatch, flow rules, targets, errors and the per-address cache."""

from __future__ import annotations

import pytest

from hybridvmm.errors import DecodeError, EncodeError
from hybridvmm.isa import DecodeCache, Decoder, load_isa


@pytest.fixture(scope="module")
def pgm():
    return Decoder(load_isa("pgm"))


@pytest.fixture(scope="module")
def rv32():
    return Decoder(load_isa("rv32"))


@pytest.mark.parametrize("isa_name", ["pgm", "rv32"])
def test_every_pattern_decodes_to_its_own_instruction(isa_name):
    dec = Decoder(load_isa(isa_name))
    for spec in dec.isa.instructions.values():
        raw = spec.match.to_bytes(spec.length, "little")
        ins = dec.decode(raw, 0x1000)
        assert ins.name == spec.name
        assert ins.length == spec.length
        assert dec.reencode(ins) == raw


def test_pgm_lengths_come_from_the_first_parcel(pgm):
    isa = pgm.isa
    assert pgm.encode(isa.instructions["add"], {"ra": 1, "rb": 2}) == bytes([0x12, 0x11])
    assert len(pgm.encode(isa.instructions["addi"], {"ra": 1, "rb": 2, "simm": -1})) == 4
    assert len(pgm.encode(isa.instructions["movl"], {"ra": 1, "imm32": 0xDEADBEEF})) == 6


def test_pcrel_and_absolute_targets(pgm):
    isa = pgm.isa
    beq = pgm.decode(pgm.encode(isa.instructions["beq"], {"rel": -8}), 0x200)
    assert (beq.flow, beq.target, beq.operands["rel"]) == ("branch", 0x1F8, -8)
    jmp = pgm.decode(pgm.encode(isa.instructions["jmp"], {"abs": 0x1234}), 0x200)
    assert (jmp.flow, jmp.target) == ("jump", 0x1234)
    assert pgm.decode(bytes([0x00, 0x08]), 0).flow == "return"


def test_rv32_flow_depends_on_operands(rv32):
    isa = rv32.isa

    def flow(name, **ops):
        return rv32.decode(rv32.encode(isa.instructions[name], ops), 0x100)

    assert flow("jal", rd=0, imm_j=16).flow == "jump"
    assert flow("jal", rd=1, imm_j=-16).flow == "call"
    assert flow("jal", rd=1, imm_j=-16).target == 0xF0
    assert flow("jalr", rd=0, rs1=1, imm_i=0).flow == "return"
    assert flow("jalr", rd=0, rs1=5, imm_i=0).flow == "indirect-jump"
    assert flow("jalr", rd=1, rs1=5, imm_i=4).flow == "indirect-call"
    assert flow("jalr", rd=1, rs1=5, imm_i=4).target is None


def test_rv32_multi_segment_immediates(rv32):
    # beq a0,a1,-24 as GNU as encodes it; sb a0,2047(sp).
    beq = rv32.decode((0xFEB504E3).to_bytes(4, "little"), 0x18)
    assert beq.operands == {"rs1": 10, "rs2": 11, "imm_b": -24} and beq.target == 0
    sb = rv32.decode((0x7EA10FA3).to_bytes(4, "little"), 0)
    assert sb.operands == {"rs2": 10, "rs1": 2, "imm_s": 2047}


def test_undecodable_word_names_address_and_bytes(pgm, rv32):
    with pytest.raises(DecodeError) as info:
        pgm.decode(b"\x00\x00", 0x1F0)
    assert str(info.value) == "undecodable instruction at 0x1f0: 00 00"
    with pytest.raises(DecodeError) as info:
        rv32.decode(b"\x01\x00\x00\x00", 0x40)  # a compressed parcel
    assert "at 0x40: 01 00 00 00" in str(info.value)


def test_truncated_instruction(pgm):
    with pytest.raises(DecodeError) as info:
        pgm.decode(bytes([0x10, 0xC0, 0x00]), 0x10)  # a 6-byte movl cut short
    assert "truncated 6-byte instruction at 0x10" in str(info.value)


def test_encode_range_errors(pgm, rv32):
    with pytest.raises(EncodeError, match="out of range"):
        pgm.encode(pgm.isa.instructions["addi"], {"ra": 1, "rb": 1, "simm": 40000})
    with pytest.raises(EncodeError, match="not a multiple of 2"):
        rv32.encode(rv32.isa.instructions["beq"], {"rs1": 0, "rs2": 0, "imm_b": 3})
    # a full-width unsigned field accepts a negative (two's complement) value
    raw = pgm.encode(pgm.isa.instructions["movl"], {"ra": 0, "imm32": -1})
    assert pgm.decode(raw, 0).operands["imm32"] == 0xFFFFFFFF


def test_cache_decodes_once_and_invalidates_by_range(pgm):
    isa = pgm.isa
    memory = bytearray(
        pgm.encode(isa.instructions["nop"], {})
        + pgm.encode(isa.instructions["movl"], {"ra": 1, "imm32": 7})
        + pgm.encode(isa.instructions["add"], {"ra": 1, "rb": 1})
    )
    reads = []

    def read(addr, n):
        reads.append(addr)
        return bytes(memory[addr:addr + n])

    cache = DecodeCache(pgm, read)
    assert [cache.get(a).name for a in (0, 2, 8)] == ["nop", "movl", "add"]
    assert cache.get(2) is cache.get(2) and reads == [0, 2, 8]
    # a write to the last byte of movl's immediate drops movl only
    memory[7] = 0x01
    assert cache.invalidate(7, 8) == [2]
    assert 0 in cache and 8 in cache and 2 not in cache
    assert cache.get(2).operands["imm32"] == 0x01000007
    # a range covering everything empties it (the large-range path)
    assert sorted(cache.invalidate(0, 1 << 20)) == [0, 2, 8]


def test_overlapping_small_and_large_range_strategies_agree(pgm):
    from hybridvmm.isa import overlapping

    isa = pgm.isa
    program = [("nop", {}), ("movl", {"ra": 1, "imm32": 7}), ("addi", {"ra": 1, "rb": 1, "simm": 1}), ("nop", {})]
    entries, address = {}, 0x100
    for name, ops in program:
        ins = pgm.decode(pgm.encode(isa.instructions[name], ops), address)
        entries[address] = ins
        address += ins.length
    # movl covers [0x102, 0x108), addi [0x108, 0x10c)
    assert overlapping(entries, 0x107, 0x108, 6) == [0x102]            # the small-range path
    assert overlapping(entries, 0x107, 0x109, 6) == [0x102, 0x108]
    assert overlapping(entries, 0x10e, 0x110, 6) == []
    assert sorted(overlapping(entries, 0, 0x1000, 6)) == [0x100, 0x102, 0x108, 0x10c]  # the walk
    for lo in range(0xFC, 0x112):
        for hi in range(lo + 1, 0x114):
            brute = sorted(a for a, i in entries.items() if a < hi and a + i.length > lo)
            assert sorted(overlapping(entries, lo, hi, 6)) == brute
