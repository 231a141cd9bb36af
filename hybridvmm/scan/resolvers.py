"""Resolving indirect jumps and calls: the pluggable interface.

A resolver is asked about an indirect branch whenever the blocks it depends on change
(new predecessors, a split) and answers with a :class:`Resolution`: the targets it found,
whether they account for every path, and which blocks it looked at (so the scanner knows
when to ask again).  Targets accumulate: each is a real path even if a later edge adds
paths the resolver cannot follow, in which case the branch is reported unresolved with
partial targets.  Returning None means "no idea".

Resolvers walk *paths* (:func:`block_paths`): chains of predecessor blocks ending in the
branch's block, each starting where the machine state is unknown (a root, a return site,
a loop, or the depth limit).  Constant propagation (:mod:`hybridvmm.scan.constprop`) is the
bundled one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol

from hybridvmm.isa import ISA, Instruction
from hybridvmm.scan.model import Block

if TYPE_CHECKING:
    from hybridvmm.scan.cfg import ControlFlowGraph

MAX_DEPTH = 3
"""Predecessor levels a path reaches back (beyond the branch's own block)."""
MAX_PATHS = 16
"""Paths looked at per branch; beyond that the branch stays unresolved."""


@dataclass(frozen=True)
class ResolveContext:
    """What a resolver may look at: the ISA, the graph, the branch and its block, the
    program bytes (``read``), a decoder probe (``fetch`` raises on no instruction) and the
    sorted label addresses of the image (table boundaries)."""

    isa: ISA
    cfg: "ControlFlowGraph"
    roots: frozenset[int]
    block: Block
    instruction: Instruction
    read: Callable[[int, int], bytes] | None = None
    fetch: Callable[[int], Instruction] | None = None
    labels: tuple[int, ...] = ()


@dataclass(frozen=True)
class Resolution:
    """Targets found, whether every path gave one, the blocks looked at, the bytes read."""

    targets: frozenset[int]
    complete: bool
    blocks: frozenset[int]
    reads: tuple[tuple[int, int], ...] = ()
    """Byte ranges of the program the answer depends on (a jump table)."""


class Resolver(Protocol):
    """Plug-in interface: ``resolve(ctx)`` → a :class:`Resolution`, or None."""

    name: str

    def resolve(self, ctx: ResolveContext) -> Resolution | None: ...


def block_paths(cfg: "ControlFlowGraph", roots: frozenset[int] | set[int] | dict, start: int,
                max_depth: int = MAX_DEPTH, max_paths: int = MAX_PATHS) -> tuple[list[list[Block]], frozenset[int], bool]:
    """(paths as block lists ending in the branch's block, blocks on them, all enumerated?).

    A path is extended backwards through predecessors along edges that carry the register
    state (not ``return-to``: the callee ran in between) and stops at a root, at a block
    without such predecessors, on a cycle, or at the depth limit.
    """
    graph = cfg.graph
    paths: list[list[Block]] = []
    seen: set[int] = set()
    complete = True

    def walk(start: int, suffix: list[Block], depth: int) -> None:
        nonlocal complete
        if len(paths) >= max_paths:
            complete = False
            return
        block = cfg.blocks[start]
        seen.add(start)
        here = [block] + suffix
        preds = [u for u, d in graph.pred[start].items() if d["kinds"] != ("return-to",)]
        if not preds or start in roots or depth >= max_depth:
            paths.append(here)
            return
        looped = False
        for u in preds:
            if any(b.start == u for b in here):
                looped = True  # around a loop the state is unknown: a path starts here too
            else:
                walk(u, here, depth + 1)
        if looped:
            paths.append(here)

    walk(start, [], 0)
    return paths, frozenset(seen), complete


def default_resolvers(isa: ISA) -> list[Resolver]:
    """Constant propagation when the ISA has a data-flow table; nothing otherwise."""
    from hybridvmm.scan.constprop import constprop_for

    resolver = constprop_for(isa)
    return [resolver] if resolver is not None else []
