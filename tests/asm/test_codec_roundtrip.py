"""Every instruction of every bundled spec: encode/decode round trips over random operand
values, and the construct BitStruct layout agrees with the fast Adapter on random words."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hybridvmm.isa import Decoder, available_isas, load_isa
from hybridvmm.isa.codec import FIXED, FormatAdapter, bitstruct_for

ISAS = available_isas()
CASES = [(name, ins) for name in ISAS for ins in load_isa(name).instructions]
FORMATS = [(name, fmt) for name in ISAS for fmt in load_isa(name).formats]
DECODERS = {name: Decoder(load_isa(name)) for name in ISAS}
FAST = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_bundled_specs_are_all_covered():
    assert {"pgm", "pgm-virt", "pgm-hybrid", "pgm-x86", "rv32", "rv64"} <= set(ISAS)
    assert len(CASES) > 400


def operand_values(isa, spec):
    """A strategy of operand dicts valid for ``spec``: each field over its value_range()."""
    fields = {}
    for name in spec.format.fields:
        fs = isa.fields[name]
        lo, hi = fs.value_range()
        step = 1 << fs.shift
        fields[name] = st.integers(lo // step, hi // step).map(lambda v, s=step: v * s)
    return st.fixed_dictionaries(fields)


@pytest.mark.parametrize(("isa_name", "ins_name"), CASES)
@FAST
@given(data=st.data())
def test_encode_decode_encode(isa_name, ins_name, data):
    dec = DECODERS[isa_name]
    isa = dec.isa
    spec = isa.instructions[ins_name]
    operands = data.draw(operand_values(isa, spec))
    address = data.draw(st.integers(0, (1 << isa.word_bits) - 1).map(lambda a: a & ~(isa.alignment - 1)))
    raw = dec.encode(spec, operands)
    assert len(raw) == spec.length
    ins = dec.decode(raw, address)
    # A value may decode as a more specific instruction (none in the bundled specs do).
    assert ins.name == ins_name
    expected = {}
    for name, value in operands.items():
        fs = isa.fields[name]
        # a wrap field (a full-width constant) accepts -1 and decodes it as all ones
        expected[name] = value & (((1 << fs.width) - 1) << fs.shift) if fs.wrap else value
    assert ins.operands == expected
    assert dec.reencode(ins) == raw
    # And from the bytes side: random bits in every operand position.
    word = data.draw(st.integers(0, (1 << (spec.length * 8)) - 1))
    word = (word & ~spec.mask) | spec.match
    raw2 = word.to_bytes(spec.length, isa.endian)
    ins2 = dec.decode(raw2, address)
    assert dec.reencode(ins2) == raw2


def _bitstruct_fields(isa, fmt, parsed) -> tuple[dict[str, int], int]:
    """Field values and fixed bits reassembled from a BitStruct parse."""
    values = {}
    for name in fmt.fields:
        fs = isa.fields[name]
        if len(fs.segments) == 1:
            values[name] = parsed[name]
            continue
        v = 0
        for seg in fs.segments:
            v = (v << seg.width) | parsed[f"{name}_{seg.hi}_{seg.lo}"]
        values[name] = v
    fixed = 0
    for key, value in parsed.items():
        if key.startswith("_fixed_"):
            _, _, hi, lo = key.split("_")
            fixed |= value << int(lo)
    return values, fixed


@pytest.mark.parametrize(("isa_name", "fmt_name"), FORMATS)
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, (1 << 64) - 1))
def test_bitstruct_agrees_with_adapter(isa_name, fmt_name, seed):
    isa = load_isa(isa_name)
    fmt = isa.formats[fmt_name]
    little = isa.endian == "little"
    adapter = FormatAdapter(fmt, isa.fields, little)
    bitstruct = bitstruct_for(fmt, isa.fields, little)
    word = seed & ((1 << (fmt.length * 8)) - 1)
    raw = word.to_bytes(fmt.length, isa.endian)
    fast = adapter.parse(raw)
    values, fixed = _bitstruct_fields(isa, fmt, bitstruct.parse(raw))
    assert values == {k: v for k, v in fast.items() if k != FIXED}
    assert fixed == fast[FIXED]
    assert adapter.build(fast) == raw
    assert bitstruct.build(bitstruct.parse(raw)) == raw
