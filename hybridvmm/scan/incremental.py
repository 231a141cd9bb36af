"""Incremental maintenance of a scanned graph: invalidate, rescan, collect, re-join.

Mixed into :class:`~hybridvmm.scan.scanner.Scanner`.  The monitor scans lazily at run time
and must rescan after self-modifying writes: :meth:`Maintenance.invalidate` drops every
block a write touched and keeps the edges that led into them; :meth:`Maintenance.rescan`
follows those edges again, drops blocks no root reaches any more, and re-joins blocks that
were split only for edges that are gone — so the graph equals a fresh scan of the new
bytes (the property tests check exactly that).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hybridvmm.isa import overlapping

if TYPE_CHECKING:
    from hybridvmm.scan.scanner import Scanner


class Maintenance:
    """invalidate / rescan / collect for :class:`Scanner` (see the module docstring)."""

    def invalidate(self: "Scanner", start: int, end: int) -> list[int]:
        """Forget every block with an instruction overlapping ``[start, end)``.

        The edges that entered those blocks (and every edge that could not be followed)
        are kept for :meth:`rescan`; indirect branches whose resolution read the written
        bytes (a jump table) are asked again.  Returns the starts of the dropped blocks.
        """
        hit = overlapping(self.cfg.instructions, start, end, self._maxlen)
        invalidate = getattr(self.memory, "invalidate", None)
        if invalidate is not None:
            invalidate(start, end)
        readers = {a for a, b in self.indirect.items() if any(lo < end and start < hi for lo, hi in b.reads)}
        if not hit:
            # No code changed: retry only the edges that ended at the written bytes.
            for key, p in list(self.problems.items()):
                if start - self._maxlen < p.address < end:
                    del self.problems[key]
                    if p.source is not None:  # (roots not scanned are retried anyway)
                        self._repair.append((p.address, p.source, p.kind))
            self._forget(readers, set())
            return []
        dropped = sorted({self.cfg.block_of[a] for a in hit})
        self._drop(dropped, repair=True, also=readers)
        # Roots the finders derived from code may no longer hold: derive them again.
        for a in self._found_roots:
            del self.roots[a]
        self._found_roots.clear()
        for finder in self.root_finders:
            reset = getattr(finder, "reset", None)
            if reset is not None:
                reset()
        return dropped

    def _forget(self: "Scanner", sites: set[int], doomed: set[int]) -> None:
        """Indirect branches start over: targets forgotten (edges removed), asked again."""
        for a in sorted(sites):
            site = self.indirect.get(a)
            if site is None:
                continue
            for target in site.targets:
                if target not in doomed:
                    self.cfg.remove_edge_kind(a, target, "indirect")
                    self._candidates.add(target)
            site.targets = set()
            site.resolved = False
            self._dirty.add(a)
        for key, p in list(self.problems.items()):
            if p.kind == "indirect" and p.source in sites:
                del self.problems[key]

    def _drop(self: "Scanner", starts: list[int], repair: bool, also: set[int] = frozenset()) -> None:
        """Remove blocks; with ``repair`` keep the edges into them to follow again.

        Indirect branches whose resolution looked at a dropped block, or that led into
        one (and those in ``also``), start over, so a rewritten address load yields the
        new target and not the old one as well.
        """
        cfg = self.cfg
        g = cfg.graph
        doomed = set(starts)
        removed: set[int] = set()
        affected: set[int] = set(also)
        for s in starts:
            removed.update(i.address for i in cfg.blocks[s].instructions)
            self._candidates.update(v for v in g.successors(s) if v not in doomed)
            affected.update(self._watch.pop(s, ()))
        affected.update(a for a, site in self.indirect.items() if site.targets & doomed)
        incoming: list[tuple[int, int, str]] = []
        for s in starts:
            incoming.extend(cfg.drop_block(s))
        for a in [a for a in self.indirect if a in removed]:
            del self.indirect[a]
            self._dirty.discard(a)
        self._forget(affected - removed, doomed)
        if self._repair and removed:
            # edges kept by an earlier invalidate whose source is gone now: nothing to follow
            self._repair = [w for w in self._repair if w[1] is None or w[1] not in removed]
        if repair:
            self._repair.extend((dst, src, kind) for src, dst, kind in incoming if src not in removed and kind != "indirect")
        for key, p in list(self.problems.items()):
            if p.source is None:
                if repair:  # rescan retries every root that is not a block
                    del self.problems[key]
            elif p.source in removed:
                del self.problems[key]
            elif repair:
                del self.problems[key]
                self._repair.append((p.address, p.source, p.kind))

    def rescan(self: "Scanner", collect: bool = True) -> None:
        """Scan again after :meth:`invalidate`: follow the kept edges and the roots.

        With ``collect`` (the default) blocks no longer reachable from a root are dropped
        and blocks split only for edges that are gone are joined again.
        """
        for a in self.roots:
            if a not in self.cfg.blocks:
                self._work.append((a, None, "root"))
        self._candidates.update(t for t, _, _ in self._repair)
        self._work.extend(self._repair)
        self._repair.clear()
        self.run()
        while collect:
            self.collect()
            self._join()
            if not (self._dirty or self._work):
                break
            self.run()

    def collect(self: "Scanner") -> list[int]:
        """Drop blocks that no root reaches any more; return their starts."""
        g = self.cfg.graph
        seen: set[int] = set()
        stack = [a for a in self.roots if a in self.cfg.blocks]
        while stack:
            b = stack.pop()
            if b not in seen:
                seen.add(b)
                stack.extend(g.successors(b))
        dead = sorted(b for b in self.cfg.blocks if b not in seen)
        if dead:
            self._drop(dead, repair=False)
        return dead

    def _join(self: "Scanner") -> None:
        """Re-join blocks whose only entry is a plain fallthrough from the block above."""
        cfg = self.cfg
        g = cfg.graph
        for b in sorted(self._candidates, reverse=True):
            if b not in cfg.blocks or b in self.roots or g.in_degree(b) != 1:
                continue
            (u, _, data), = g.in_edges(b, data=True)
            if u == b or data["kinds"] != ("fallthrough",) or cfg.blocks[u].instructions[-1].flow != "none":
                continue
            self._touch(u)
            self._touch(b)
            cfg.merge(u, b)
            self.block_log.append(u)
            last = cfg.blocks[u].instructions[-1].address
            if last in self.indirect:
                self._dirty.add(last)
        self._candidates.clear()
