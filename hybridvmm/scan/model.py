"""The scanner's records: basic blocks, indirect branches, and what could not be scanned.

Kept apart from the algorithms so that the monitor, the patcher and the reports can use
them without pulling in the scanner.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hybridvmm.isa import Instruction

EDGE_KINDS = ("fallthrough", "taken", "jump", "call", "return-to", "indirect")
"""Edge kinds of the CFG.

``fallthrough``: to the next instruction (a block split, or a branch not taken);
``taken``: a conditional branch taken; ``jump``: an unconditional direct jump;
``call``: a direct call to its callee; ``return-to``: from a call (direct or indirect) or a
trap to the instruction after it, where control comes back; ``indirect``: a resolved
target of an indirect jump or call.
"""

ROOT_KINDS = ("entry", "vector", "symbol", "address")
"""Why an address is a scan root."""


@dataclass(eq=False, slots=True)
class Block:
    """A basic block: straight-line instructions entered only at ``start``.

    Every instruction but the last falls through (flow ``none``); the block ends at a
    control-flow instruction or where another edge enters the next instruction.
    """

    start: int
    instructions: list[Instruction] = field(default_factory=list)

    @property
    def end(self) -> int:
        """First address after the block."""
        return self.instructions[-1].next_address

    @property
    def last(self) -> Instruction:
        return self.instructions[-1]

    @property
    def size(self) -> int:
        return self.end - self.start

    def __len__(self) -> int:
        return len(self.instructions)

    def __repr__(self) -> str:
        return f"Block(0x{self.start:x}-0x{self.end:x}, {len(self.instructions)} insns)"


@dataclass
class IndirectBranch:
    """An indirect jump or call and what the resolvers made of it.

    ``targets`` accumulates every target found (each becomes an ``indirect`` edge);
    ``resolved`` says whether the last resolution accounted for every path into the
    branch.  A site that is not resolved is reported as unresolved, with whatever partial
    targets it has.
    """

    address: int
    kind: str
    targets: set[int] = field(default_factory=set)
    resolved: bool = False
    resolver: str | None = None
    depends: frozenset[int] = frozenset()
    """Blocks the last resolution looked at: a change to any of them asks again."""
    reads: tuple[tuple[int, int], ...] = ()
    """Byte ranges the last resolution read (jump tables): a write there asks again."""


@dataclass(frozen=True)
class Problem:
    """An edge (or root) that could not be followed.

    ``reason`` is ``overlap`` (the target is inside an already-decoded instruction, or the
    instruction there would cover the start of one: ``conflicts_with`` names it),
    ``undecodable``, ``outside`` (no image bytes there) or ``misaligned``.
    ``source`` is the instruction making the edge (None for a root).
    """

    address: int
    reason: str
    source: int | None
    kind: str
    conflicts_with: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class Edge:
    """One CFG edge as a plain record (what reports and tests compare)."""

    src: int
    dst: int
    kind: str
    address: int
