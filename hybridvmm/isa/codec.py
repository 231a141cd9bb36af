"""construct structures generated from the spec: one per instruction format.

Each format becomes a construct ``Adapter`` over ``BytesInteger(length)`` (little- or
big-endian per the ISA) that parses bytes into the raw value of every operand field —
segments concatenated MSB first — plus the fixed (opcode) bits, and builds them back.
The equivalent ``ByteSwapped(BitStruct(...))`` is available from :func:`bitstruct_for`
(the tests cross-check the two); the Adapter is used because it parses about six times
faster, which the scanner's throughput needs.
"""

from __future__ import annotations

import construct as cs

from hybridvmm.isa.spec import ISA, FieldSpec, FormatSpec

FIXED = "_fixed"
"""Key of the non-operand (opcode) bits in a parsed container."""


def _segment_plan(field: FieldSpec) -> tuple[tuple[int, int, int], ...]:
    """(shift-in-word, mask-of-width, position-in-value) per segment, MSB first."""
    plan = []
    pos = field.width
    for seg in field.segments:
        pos -= seg.width
        plan.append((seg.lo, (1 << seg.width) - 1, pos))
    return tuple(plan)


class FormatAdapter(cs.Adapter):
    """Bytes <-> ``{field: raw bits, "_fixed": opcode bits}`` for one format."""

    def __init__(self, fmt: FormatSpec, fields: dict[str, FieldSpec], little: bool):
        super().__init__(cs.BytesInteger(fmt.length, swapped=little))
        self.format = fmt
        self._plans = tuple((name, _segment_plan(fields[name])) for name in fmt.fields)
        operand_mask = 0
        for name in fmt.fields:
            operand_mask |= fields[name].mask
        self._fixed_mask = ((1 << (fmt.length * 8)) - 1) & ~operand_mask

    def _decode(self, obj: int, context, path) -> dict[str, int]:
        out = {FIXED: obj & self._fixed_mask}
        for name, plan in self._plans:
            value = 0
            for shift, mask, pos in plan:
                value |= ((obj >> shift) & mask) << pos
            out[name] = value
        return out

    def _encode(self, obj: dict[str, int], context, path) -> int:
        word = obj.get(FIXED, 0) & self._fixed_mask
        for name, plan in self._plans:
            value = obj[name]
            for shift, mask, pos in plan:
                word |= ((value >> pos) & mask) << shift
        return word


def bitstruct_for(fmt: FormatSpec, fields: dict[str, FieldSpec], little: bool) -> cs.Construct:
    """The same layout as a construct ``BitStruct`` of named segments (MSB first).

    Members are ``field`` for one-segment fields, ``field_hi_lo`` per segment otherwise,
    and ``_fixed_hi_lo`` for each run of opcode bits.
    """
    owner: dict[int, tuple[str, object]] = {}
    for name in fmt.fields:
        f = fields[name]
        for seg in f.segments:
            label = name if len(f.segments) == 1 else f"{name}_{seg.hi}_{seg.lo}"
            for bit in range(seg.lo, seg.hi + 1):
                owner[bit] = (label, seg)
    members = []
    bit = fmt.length * 8 - 1
    while bit >= 0:
        if bit in owner:
            label, seg = owner[bit]
            members.append(label / cs.BitsInteger(seg.width))
            bit = seg.lo - 1
        else:
            lo = bit
            while lo - 1 >= 0 and (lo - 1) not in owner:
                lo -= 1
            members.append(f"_fixed_{bit}_{lo}" / cs.BitsInteger(bit - lo + 1))
            bit = lo - 1
    struct = cs.BitStruct(*members)
    return cs.ByteSwapped(struct) if little else struct


def build_codecs(isa: ISA) -> dict[str, FormatAdapter]:
    """One construct structure per format of the ISA."""
    little = isa.endian == "little"
    return {name: FormatAdapter(fmt, isa.fields, little) for name, fmt in isa.formats.items()}
