"""The control-flow graph: a ``networkx.DiGraph`` of block start addresses plus the blocks.

Nodes are block start addresses (ints), as in BARF; :class:`Block` objects live beside the
graph in ``blocks``.  Every edge carries ``kind`` (see
:data:`~hybridvmm.scan.model.EDGE_KINDS`) and ``address``, the instruction making it
(always the last instruction of the source block).  A DiGraph holds one edge per pair, so
when one instruction makes two edges to the same block (a branch to the next instruction,
a call of the next instruction) ``kind`` is the first and ``kinds`` lists them all.

This module only keeps the structure consistent (split, drop, merge); what to scan is the
scanner's business.
"""

from __future__ import annotations

from bisect import bisect_left
from operator import attrgetter
from typing import Iterator

import networkx as nx

from hybridvmm.isa import Instruction
from hybridvmm.scan.model import Block, Edge


_address = attrgetter("address")


class ControlFlowGraph:
    """Blocks, the instruction → block index, and the graph, kept in step."""

    def __init__(self) -> None:
        self.graph = nx.DiGraph()
        self.blocks: dict[int, Block] = {}
        self.instructions: dict[int, Instruction] = {}
        self.block_of: dict[int, int] = {}

    # --- queries --------------------------------------------------------------------
    def block_containing(self, address: int) -> Block | None:
        """The block holding the instruction that starts at ``address``."""
        start = self.block_of.get(address)
        return None if start is None else self.blocks[start]

    def edges(self) -> Iterator[Edge]:
        """Every edge as a record (one per kind when a pair carries several)."""
        for u, v, data in self.graph.edges(data=True):
            for kind in data["kinds"]:
                yield Edge(u, v, kind, data["address"])

    def __len__(self) -> int:
        return len(self.blocks)

    # --- construction -----------------------------------------------------------------
    def add_edge(self, src_instruction: int, dst: int, kind: str) -> None:
        """Edge from the block ending with ``src_instruction`` to block ``dst``."""
        u = self.block_of[src_instruction]
        data = self.graph.get_edge_data(u, dst)
        if data is None:
            self.graph.add_edge(u, dst, kind=kind, kinds=(kind,), address=src_instruction)
        elif kind not in data["kinds"]:
            data["kinds"] = data["kinds"] + (kind,)

    def remove_edge_kind(self, src_instruction: int, dst: int, kind: str) -> None:
        """Forget that ``src_instruction`` makes a ``kind`` edge to ``dst`` (others stay)."""
        u = self.block_of.get(src_instruction)
        data = None if u is None else self.graph.get_edge_data(u, dst)
        if data is None or kind not in data["kinds"]:
            return
        kinds = tuple(k for k in data["kinds"] if k != kind)
        if kinds:
            data["kinds"], data["kind"] = kinds, kinds[0]
        else:
            self.graph.remove_edge(u, dst)

    def split(self, address: int) -> Block:
        """Split the block holding ``address`` so that a block starts there.

        The upper part keeps its start and gains a fallthrough edge; the new block takes
        the tail instructions and the old block's out-edges.
        """
        old = self.blocks[self.block_of[address]]
        k = bisect_left(old.instructions, address, key=_address)
        tail = old.instructions[k:]
        del old.instructions[k:]
        new = Block(address, tail)
        self.blocks[address] = new
        block_of = self.block_of
        for ins in tail:
            block_of[ins.address] = address
        g = self.graph
        g.add_node(address)
        moved = list(g.succ[old.start].items())
        g.remove_edges_from([(old.start, v) for v, _ in moved])
        g.add_edges_from((address, v, data) for v, data in moved)
        g.add_edge(old.start, address, kind="fallthrough", kinds=("fallthrough",), address=old.last.address)
        return new

    def merge(self, upper: int, lower: int) -> None:
        """Join block ``lower`` onto ``upper`` (its only predecessor, by fallthrough)."""
        a, b = self.blocks[upper], self.blocks.pop(lower)
        a.instructions.extend(b.instructions)
        for ins in b.instructions:
            self.block_of[ins.address] = upper
        g = self.graph
        g.remove_edge(upper, lower)
        for _, v, data in list(g.out_edges(lower, data=True)):
            g.add_edge(upper, upper if v == lower else v, **data)
        g.remove_node(lower)

    def drop_block(self, start: int) -> list[tuple[int, int, str]]:
        """Remove a block and its instructions; return the in-edges from other blocks.

        The returned ``(source instruction, target, kind)`` triples are the edges that
        led into the dropped block, so the caller can follow them again after a rescan.
        """
        block = self.blocks.pop(start)
        g = self.graph
        incoming = [
            (data["address"], start, kind)
            for u, _, data in g.in_edges(start, data=True)
            if u != start
            for kind in data["kinds"]
        ]
        g.remove_node(start)
        for ins in block.instructions:
            del self.instructions[ins.address]
            del self.block_of[ins.address]
        return incoming
