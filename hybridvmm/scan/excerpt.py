"""Parts of a scanned CFG small enough to draw: one function, or a place's neighbourhood.

A kernel's whole CFG (minios: 212 blocks) fits neither a page nor a slide, so drawings
(``scan --dot/--svg --function/--around``, the report's figures) pick the blocks to show:

- a *function* is what its entry reaches without calling: fallthrough, taken, jump,
  indirect-jump and return-to edges (the block after a call belongs to the caller),
  stopping at another function's entry (a tail jump leads out).  Entries are the scan's
  roots and the targets of calls, direct or indirect (a resolved ``jalr ra``);
- a *neighbourhood* is every block within ``depth`` edges of the block holding an address,
  whichever way the edges point.

Only blocks are chosen here; :func:`~hybridvmm.scan.dot.to_dot` draws them.
"""

from __future__ import annotations

from collections import deque

from hybridvmm.scan.scanner import Scanner

INTRA = frozenset({"fallthrough", "taken", "jump", "indirect", "return-to"})
"""Edge kinds that stay inside a function."""


def block_at(scanner: Scanner, address: int) -> int | None:
    """The start of the block holding ``address`` (an instruction's start, or a byte inside
    one), or None when the scan never reached it."""
    cfg = scanner.cfg
    start = cfg.block_of.get(address)
    if start is not None:
        return start
    for start, block in cfg.blocks.items():
        if start <= address < block.end:
            return start
    return None


def _is_call(scanner: Scanner, data: dict) -> bool:
    """Whether a graph edge is a call: a direct one, or a resolved target of an indirect call
    (``jalr ra, ...``), whose edge kind is ``indirect`` like a jump table's."""
    kinds = data["kinds"]
    if "call" in kinds:
        return True
    branch = scanner.indirect.get(data["address"])
    return "indirect" in kinds and branch is not None and branch.kind == "indirect-call"


def _stays(scanner: Scanner, data: dict) -> bool:
    """Whether a graph edge stays inside the function (a call's return-to edge does)."""
    kinds = set(data["kinds"])
    if "indirect" in kinds and _is_call(scanner, data) and "call" not in kinds:
        kinds.discard("indirect")
    return bool(INTRA & kinds)


def function_entries(scanner: Scanner) -> set[int]:
    """Block starts that begin a function: the scan's roots and every target of a call."""
    graph = scanner.cfg.graph
    entries = {a for a in scanner.roots if a in scanner.cfg.blocks}
    entries |= {v for _, v, data in graph.edges(data=True) if _is_call(scanner, data)}
    return entries


def function_blocks(scanner: Scanner, address: int, entries: set[int] | None = None) -> set[int]:
    """The blocks of the function entered at the block holding ``address`` (empty when the
    scan never reached it).  ``entries``: :func:`function_entries`, if already known."""
    start = block_at(scanner, address)
    if start is None:
        return set()
    entries = function_entries(scanner) if entries is None else entries
    graph = scanner.cfg.graph
    seen = {start}
    work = deque([start])
    while work:
        u = work.popleft()
        for v, data in graph[u].items():
            if v in seen or v in entries or not _stays(scanner, data):
                continue
            seen.add(v)
            work.append(v)
    return seen


def neighbourhood(scanner: Scanner, address: int, depth: int) -> set[int]:
    """The blocks within ``depth`` edges (either direction) of the block holding ``address``."""
    start = block_at(scanner, address)
    if start is None:
        return set()
    graph = scanner.cfg.graph
    seen = {start}
    frontier = [start]
    for _ in range(max(0, depth)):
        nxt = []
        for u in frontier:
            for v in (*graph.successors(u), *graph.predecessors(u)):
                if v not in seen:
                    seen.add(v)
                    nxt.append(v)
        frontier = nxt
    return seen


def owning_function(scanner: Scanner, address: int, entries: set[int] | None = None) -> int | None:
    """The entry of a function holding ``address``: of the entries whose body holds its
    block (found by walking back along in-function edges), the nearest at or below it,
    else the nearest above; None if no entry reaches it."""
    start = block_at(scanner, address)
    if start is None:
        return None
    entries = function_entries(scanner) if entries is None else entries
    graph = scanner.cfg.graph
    owners, seen, work = set(), {start}, deque([start])
    while work:
        v = work.popleft()
        if v in entries:
            owners.add(v)
            continue
        for u, data in graph.pred[v].items():
            if u not in seen and _stays(scanner, data):
                seen.add(u)
                work.append(u)
    if not owners:
        return None
    below = [e for e in owners if e <= start]
    return max(below) if below else min(owners)
