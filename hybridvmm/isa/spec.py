"""The in-memory model of an ISA description (built by :mod:`hybridvmm.isa.loader`).

Everything that later layers need to know about an ISA — sizes, bit layouts, assembly
syntax, control-flow kinds and declared Popek–Goldberg classes — lives here, so the
scanner, patcher, monitor and classifier never name a particular ISA.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

TEMPLATE_OPERAND = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""An operand in an assembly template: ``{field}``."""

FLOW_KINDS = (
    "none",
    "jump",
    "branch",
    "call",
    "return",
    "indirect-jump",
    "indirect-call",
    "trap",
    "halt",
)
"""How an instruction changes the flow of control (what the scanner needs)."""

FIELD_KINDS = ("reg", "imm", "pcrel", "abs", "csr", "fence")
FENCE_BITS = {"i": 8, "o": 4, "r": 2, "w": 1}
"""The letters of a ``fence`` field's set (RISC-V device input/output, memory read/write)."""
"""What an operand field means: a register, an immediate, a PC-relative target, an
absolute target, a control/status register number, or a RISC-V fence set."""

PRIVILEGED = "privileged"
CONTROL = "control-sensitive"
BEHAVIOR = "behavior-sensitive"
USER = "user-sensitive"
CLASS_TAGS = (PRIVILEGED, CONTROL, BEHAVIOR, USER)
"""Popek–Goldberg classes, as specs declare them and the classifier derives them.  No tag
means innocuous and unprivileged."""
SENSITIVE_TAGS = frozenset({CONTROL, BEHAVIOR})


def is_sensitive_unprivileged(classes: frozenset[str]) -> bool:
    """Sensitive and not privileged: what breaks trap-and-emulate (a patch site)."""
    return bool(classes & SENSITIVE_TAGS) and PRIVILEGED not in classes

USER_MODES = ("trap", "execute")
"""What a mode-dependent instruction does in user mode."""


@dataclass(frozen=True)
class Segment:
    """A contiguous bit range ``hi:lo`` (inclusive) of an instruction word."""

    hi: int
    lo: int

    @property
    def width(self) -> int:
        return self.hi - self.lo + 1

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lo

    def __str__(self) -> str:
        return f"{self.hi}" if self.hi == self.lo else f"{self.hi}:{self.lo}"


@dataclass(frozen=True)
class FieldSpec:
    """An operand field: one or more bit segments (MSB first) forming one value.

    ``shift`` scales the assembled value (``value = bits << shift``: branch offsets whose
    low bits are implied zero); ``signed`` sign-extends it.  ``wrap`` lets the assembler
    accept a negative value for an unsigned full-width field (a 32-bit constant).
    """

    name: str
    segments: tuple[Segment, ...]
    kind: str = "imm"
    signed: bool = False
    shift: int = 0
    regfile: str = "gpr"
    print_hex: bool = False
    wrap: bool = False

    @property
    def width(self) -> int:
        return sum(s.width for s in self.segments)

    @property
    def mask(self) -> int:
        m = 0
        for s in self.segments:
            m |= s.mask
        return m

    def value_range(self) -> tuple[int, int]:
        """Smallest and largest operand value (after shift) the field can hold."""
        w = self.width
        if self.signed:
            lo, hi = -(1 << (w - 1)), (1 << (w - 1)) - 1
        else:
            lo, hi = 0, (1 << w) - 1
            if self.wrap:
                lo = -(1 << (w - 1))
        return lo << self.shift, hi << self.shift

    def raw_to_value(self, raw: int) -> int:
        """Assembled segment bits to the operand value."""
        if self.signed and raw >> (self.width - 1):
            raw -= 1 << self.width
        return raw << self.shift

    def value_to_raw(self, value: int) -> int:
        """Operand value to the segment bits, or ValueError when it does not fit."""
        lo, hi = self.value_range()
        if not lo <= value <= hi:
            raise ValueError(f"value {value} out of range [{lo}, {hi}] for field '{self.name}'")
        if value & ((1 << self.shift) - 1):
            raise ValueError(f"value {value} is not a multiple of {1 << self.shift} for field '{self.name}'")
        return (value >> self.shift) & ((1 << self.width) - 1)


@dataclass(frozen=True)
class FormatSpec:
    """A bit layout shared by several instructions: its length and operand fields."""

    name: str
    length: int
    fields: tuple[str, ...]


@dataclass(frozen=True)
class FlowRule:
    """``flow`` of an instruction when every ``(field, op, value)`` condition holds."""

    conditions: tuple[tuple[str, str, int], ...]
    flow: str

    def matches(self, operands: dict[str, int]) -> bool:
        for name, op, value in self.conditions:
            v = operands[name]
            if (op == "==" and v != value) or (op == "!=" and v == value):
                return False
        return True


@dataclass(frozen=True)
class InstructionSpec:
    """One instruction: encoding, syntax, control flow and declared class."""

    name: str
    pattern: str
    format: FormatSpec
    asm: str
    flow_rules: tuple[FlowRule, ...]
    classes: frozenset[str] = frozenset()
    user_mode: str | None = None
    doc: str = ""
    mask: int = 0
    match: int = 0
    origin: str = ""

    @property
    def length(self) -> int:
        return self.format.length

    @property
    def mnemonic(self) -> str:
        return self.asm.split(None, 1)[0]

    @property
    def static_flow(self) -> str:
        """The flow when no operand-dependent rule applies (the last, unconditional rule)."""
        return self.flow_rules[-1].flow

    def flow_for(self, operands: dict[str, int]) -> str:
        for rule in self.flow_rules:
            if rule.matches(operands):
                return rule.flow
        return self.static_flow

    @property
    def privileged(self) -> bool:
        return PRIVILEGED in self.classes

    @property
    def sensitive(self) -> bool:
        return bool(self.classes & SENSITIVE_TAGS)

    @property
    def user_sensitive(self) -> bool:
        return USER in self.classes

    @property
    def traps_in_user_mode(self) -> bool:
        """What the spec declares: does executing this in user mode trap?"""
        return self.user_mode == "trap" or (self.user_mode is None and self.privileged)


@dataclass(frozen=True)
class AliasSpec:
    """An assembler-only spelling that expands to a base instruction (never disassembled)."""

    name: str
    asm: str
    expands: str
    origin: str = ""

    @property
    def mnemonic(self) -> str:
        return self.asm.split(None, 1)[0]


@dataclass(frozen=True)
class RegisterFile:
    """Register names: canonical (printed) names by number, plus accepted aliases."""

    name: str
    names: tuple[str, ...]
    aliases: dict[str, int] = field(default_factory=dict)

    def lookup(self, text: str) -> int | None:
        t = text.lower()
        if t in self.aliases:
            return self.aliases[t]
        try:
            return self.names.index(t)
        except ValueError:
            return None


@dataclass(frozen=True)
class LengthRule:
    """How the instruction length (bytes) follows from bits of the first parcel."""

    segment: Segment
    lengths: dict[int, int]

    def length_of(self, first_parcel: int) -> int | None:
        return self.lengths.get((first_parcel >> self.segment.lo) & ((1 << self.segment.width) - 1))


@dataclass
class ISA:
    """A whole ISA description (a base spec with any variant overrides applied)."""

    name: str
    description: str
    word_bits: int
    parcel_bytes: int
    endian: str
    alignment: int
    length_rule: LengthRule
    registers: dict[str, RegisterFile]
    csrs: dict[str, int]
    fields: dict[str, FieldSpec]
    formats: dict[str, FormatSpec]
    instructions: dict[str, InstructionSpec]
    aliases: dict[str, AliasSpec]
    target_prefix: str = "0x"
    extends: str | None = None
    lineage: tuple[str, ...] = ()
    """This ISA's name, then the ISA it extends, and so on to the base."""
    system: dict = field(default_factory=dict)
    files: tuple[str, ...] = ()

    @property
    def lengths(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.length_rule.lengths.values())))

    @property
    def max_length(self) -> int:
        return max(self.lengths)

    @property
    def csr_names(self) -> dict[int, str]:
        return {v: k for k, v in self.csrs.items()}

    def by_mnemonic(self) -> dict[str, list[InstructionSpec]]:
        table: dict[str, list[InstructionSpec]] = {}
        for ins in self.instructions.values():
            table.setdefault(ins.mnemonic, []).append(ins)
        return table

    def instructions_with(self, tags: Iterable[str]) -> list[InstructionSpec]:
        wanted = set(tags)
        return [i for i in self.instructions.values() if wanted & i.classes]
