"""Decode and encode instructions through the spec's construct structures.

``Decoder.decode`` is the cold path (a construct parse per call); ``DecodeCache`` keeps
one decoded instruction per address and is invalidated by address range when code is
written (self-modifying code, patching).  Hot loops never call construct.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from hybridvmm.errors import DecodeError, EncodeError
from hybridvmm.isa.codec import FIXED, build_codecs
from hybridvmm.isa.spec import ISA, InstructionSpec


@dataclass(slots=True)
class Instruction:
    """One decoded instruction at an address.

    ``operands`` holds logical values: register numbers, sign-extended and scaled
    immediates, and for PC-relative fields the *offset*; ``target`` is the static branch
    target (absolute) when the instruction has one.
    """

    spec: InstructionSpec
    address: int
    raw: bytes
    operands: dict[str, int]
    flow: str
    target: int | None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def length(self) -> int:
        return len(self.raw)

    @property
    def next_address(self) -> int:
        return self.address + len(self.raw)


MEMO_LIMIT = 1 << 16
"""Decoded instructions a decoder remembers (it starts over when full)."""

_SHARED: dict[int, tuple[ISA, "Decoder"]] = {}


def shared_decoder(isa: ISA) -> "Decoder":
    """The one decoder of ``isa`` (every machine and scanner of that ISA object shares its
    memo of decoded instructions)."""
    entry = _SHARED.get(id(isa))
    if entry is None or entry[0] is not isa:
        entry = _SHARED[id(isa)] = (isa, Decoder(isa))
    return entry[1]


class Decoder:
    """Decoder/encoder for one ISA, generated from its spec."""

    def __init__(self, isa: ISA):
        self.isa = isa
        self.codecs = build_codecs(isa)
        self._memo: dict[tuple[int, bytes], Instruction] = {}
        """(address, bytes) → decoded instruction: what an instruction means depends on
        nothing else, so the machine, a monitor's virtual CPU and its scanner, decoding the
        same code, parse it (with construct, ~7 µs) once.  Instructions are never mutated."""
        self._endian = isa.endian
        self._parcel = isa.parcel_bytes
        self._addr_mask = (1 << isa.word_bits) - 1
        rule = isa.length_rule
        self._len_shift = rule.segment.lo
        self._len_mask = (1 << rule.segment.width) - 1
        self._len_map = dict(rule.lengths)
        # Dispatch: per length, the bits fixed in every pattern of that length index a
        # short candidate list, most specific first.
        self._dispatch: dict[int, tuple[int, dict[int, list[InstructionSpec]]]] = {}
        by_len: dict[int, list[InstructionSpec]] = {}
        for ins in isa.instructions.values():
            by_len.setdefault(ins.length, []).append(ins)
        for length, group in by_len.items():
            common = (1 << (length * 8)) - 1
            for ins in group:
                common &= ins.mask
            table: dict[int, list[InstructionSpec]] = {}
            for ins in sorted(group, key=lambda i: -bin(i.mask).count("1")):
                table.setdefault(ins.match & common, []).append(ins)
            self._dispatch[length] = (common, table)
        self._target_field = {
            ins.name: next((f for f in ins.format.fields if isa.fields[f].kind in ("pcrel", "abs")), None)
            for ins in isa.instructions.values()
        }
        self._field_specs = isa.fields

    def length_at(self, data: bytes | bytearray | memoryview, offset: int = 0) -> int | None:
        """Instruction length from the first parcel at ``offset``, or None."""
        parcel = bytes(data[offset:offset + self._parcel])
        if len(parcel) < self._parcel:
            return None
        return self._len_map.get((int.from_bytes(parcel, self._endian) >> self._len_shift) & self._len_mask)

    def match(self, word: int, length: int) -> InstructionSpec | None:
        """The instruction spec whose pattern matches ``word`` of ``length`` bytes."""
        entry = self._dispatch.get(length)
        if entry is None:
            return None
        common, table = entry
        for ins in table.get(word & common, ()):
            if word & ins.mask == ins.match:
                return ins
        return None

    def decode(self, data: bytes | bytearray | memoryview, address: int, offset: int = 0) -> Instruction:
        """Decode the instruction at ``data[offset:]``, which sits at ``address``."""
        length = self.length_at(data, offset)
        if length is None:
            raise DecodeError(address, bytes(data[offset:offset + self._parcel]))
        raw = bytes(data[offset:offset + length])
        memo = self._memo
        ins = memo.get((address, raw))
        if ins is not None:
            return ins
        if len(raw) < length:
            raise DecodeError(address, raw, f"truncated {length}-byte instruction")
        spec = self.match(int.from_bytes(raw, self._endian), length)
        if spec is None:
            raise DecodeError(address, raw)
        fields = self.codecs[spec.format.name].parse(raw)
        ins = self._finish(spec, address, raw, fields)
        if len(memo) >= MEMO_LIMIT:
            memo.clear()
        memo[address, raw] = ins
        return ins

    def _finish(self, spec: InstructionSpec, address: int, raw: bytes, fields: dict[str, int]) -> Instruction:
        operands = {}
        for name in spec.format.fields:
            operands[name] = self._field_specs[name].raw_to_value(fields[name])
        target = None
        tf = self._target_field[spec.name]
        if tf is not None:
            value = operands[tf]
            target = (address + value) & self._addr_mask if self._field_specs[tf].kind == "pcrel" else value & self._addr_mask
        flow = spec.flow_for(operands) if len(spec.flow_rules) > 1 else spec.flow_rules[0].flow
        return Instruction(spec, address, raw, operands, flow, target)

    def encode(self, spec: InstructionSpec, operands: dict[str, int]) -> bytes:
        """Bytes for ``spec`` with logical operand values; EncodeError if one does not fit."""
        container = {FIXED: spec.match}
        for name in spec.format.fields:
            if name not in operands:
                raise EncodeError(f"{spec.name}: missing operand '{name}'")
            try:
                container[name] = self._field_specs[name].value_to_raw(operands[name])
            except ValueError as exc:
                raise EncodeError(f"{spec.name}: {exc}") from None
        return self.codecs[spec.format.name].build(container)

    def reencode(self, ins: Instruction) -> bytes:
        """Encode a decoded instruction again (the round-trip property)."""
        return self.encode(ins.spec, ins.operands)

    def instruction(self, spec: InstructionSpec, operands: dict[str, int], address: int) -> Instruction:
        """Build an Instruction from a spec and operands (encoding it)."""
        raw = self.encode(spec, operands)
        return self._finish(spec, address, raw, self.codecs[spec.format.name].parse(raw))


def overlapping(entries: Mapping[int, Instruction], start: int, end: int, max_length: int) -> list[int]:
    """Addresses of the instructions in ``entries`` whose bytes overlap ``[start, end)``.

    Every cache of decoded code needs this when storage is written.  A small range looks
    up the few addresses an instruction of at most ``max_length`` bytes could start at; a
    large one walks the entries instead.
    """
    if end - start + max_length > len(entries):
        return [a for a, ins in entries.items() if a < end and a + len(ins.raw) > start]
    return [a for a in range(start - max_length + 1, end) if a in entries and a + len(entries[a].raw) > start]


class DecodeCache:
    """Per-address cache of decoded instructions over a byte reader.

    ``read(address, n)`` returns up to ``n`` bytes at ``address`` (fewer at the end of
    storage).  ``invalidate(start, end)`` drops every cached instruction overlapping the
    byte range ``[start, end)``.
    """

    def __init__(self, decoder: Decoder, read: Callable[[int, int], bytes]):
        self.decoder = decoder
        self.read = read
        self.entries: dict[int, Instruction] = {}
        self._max = decoder.isa.max_length

    def get(self, address: int) -> Instruction:
        ins = self.entries.get(address)
        if ins is None:
            ins = self.decoder.decode(self.read(address, self._max), address)
            self.entries[address] = ins
        return ins

    def __contains__(self, address: int) -> bool:
        return address in self.entries

    def invalidate(self, start: int, end: int) -> list[int]:
        """Forget instructions overlapping ``[start, end)``; return their addresses."""
        dropped = overlapping(self.entries, start, end, self._max)
        for a in dropped:
            del self.entries[a]
        return dropped

    def clear(self) -> None:
        self.entries.clear()
