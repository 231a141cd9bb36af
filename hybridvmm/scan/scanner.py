"""Recursive-descent scanning into basic blocks, incrementally.

The scanner knows nothing about a particular ISA: it reads instruction sizes, flow kinds
(none / jump / branch / call / return / indirect-jump / indirect-call / trap / halt),
static targets, alignment and the trap-vector table from the spec.  It follows every
edge from its roots (entry point, trap vectors, symbols or addresses given); a block ends
at a control-flow instruction or where another edge enters, and an edge into the middle
of a block splits it.  An edge into the middle of an instruction — or an instruction that
would cover the start of one already decoded — is recorded as an ``overlap`` problem and
not followed, so nothing is silently mis-decoded.

Edges per flow kind: ``branch`` → taken + fallthrough; ``jump`` → jump; ``call`` → call +
return-to (the callee is assumed to return); ``trap`` → return-to (the handler is assumed
to return after the trap, as ``svc`` does; a trap that never returns, like an exit call,
leaves whatever follows it to be decoded — undecodable bytes there are reported, not
followed); ``return`` and ``halt`` → nothing; ``indirect-*`` → whatever the resolvers find
(edges of kind ``indirect``) plus return-to for calls.

The same object serves the monitor at run time: :meth:`Scanner.scan` adds roots to an
existing graph, and :mod:`hybridvmm.scan.incremental` provides ``invalidate`` (drop the
blocks a write touched, remember the edges into them) and ``rescan`` (follow them again,
collect what is unreachable, re-join needless splits) — so the graph after invalidate +
rescan equals a fresh scan of the new bytes.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator

from hybridvmm.isa import ISA, Instruction
from hybridvmm.scan.cfg import ControlFlowGraph
from hybridvmm.scan.incremental import Maintenance
from hybridvmm.scan.memory import CodeSource, FetchError
from hybridvmm.scan.model import Block, IndirectBranch, Problem
from hybridvmm.scan.resolvers import ResolveContext, Resolver, default_resolvers
from hybridvmm.scan.vectors import RootFinder

Work = tuple[int, "int | None", str]
"""A pending edge: (target, source instruction or None for a root, kind)."""


PROMOTE_AFTER = 5000
"""Instructions decoded in one run above which their records go straight to the oldest
garbage-collector generation (see :func:`_gc_paused`)."""


@contextmanager
def _gc_paused(scanner: "Scanner") -> Iterator[None]:
    """Pause the cyclic garbage collector while a scan allocates its (acyclic) records.

    A scan creates one Instruction per address; with the collector running, its repeated
    passes over the growing heap cost as much as the decoding itself.  After a large
    scan the new, long-lived records are handed to the oldest generation directly
    (``gc.freeze(); gc.unfreeze()``) rather than have the next young collection walk
    every one of them; small run-time scans just resume collecting.
    """
    enabled = gc.isenabled()
    before = scanner.decoded
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if scanner.decoded - before > PROMOTE_AFTER:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


class Scanner(Maintenance):
    """A CFG under construction over one code source; see the module docstring."""

    def __init__(
        self,
        isa: ISA,
        memory: CodeSource,
        resolvers: Iterable[Resolver] | None = None,
        read: Callable[[int, int], bytes] | None = None,
        root_finders: Iterable[RootFinder] = (),
        labels: Iterable[int] = (),
        base: int = 0,
    ):
        """``memory`` supplies instructions; ``resolvers`` default to the ISA's constant
        propagation; ``root_finders`` add roots from the graph (vector stores); ``labels``
        are the image's label addresses (jump-table boundaries); ``base`` is where this
        address space sits in storage (0 unless scanning a relocated region)."""
        self.isa = isa
        self.memory = memory
        self.cfg = ControlFlowGraph()
        self.resolvers: list[Resolver] = default_resolvers(isa) if resolvers is None else list(resolvers)
        self.root_finders: list[RootFinder] = list(root_finders)
        self.read = read if read is not None else getattr(memory, "read", None)
        self.labels = tuple(sorted(set(labels)))
        self.base = base
        self.roots: dict[int, tuple[str, str]] = {}
        self.indirect: dict[int, IndirectBranch] = {}
        self.problems: dict[tuple[int | None, int, str], Problem] = {}
        self.decoded = 0
        self._work: list[Work] = []
        self._repair: list[Work] = []
        self._dirty: set[int] = set()
        self._watch: dict[int, set[int]] = {}
        self._found_roots: set[int] = set()
        self.block_log: list[int] = []
        """Start of every block as it is created, split off or joined (for root finders)."""
        self._candidates: set[int] = set()
        self._align = isa.alignment
        self._step = isa.parcel_bytes
        self._maxlen = isa.max_length
        self._mask = (1 << isa.word_bits) - 1

    # --- convenient views -------------------------------------------------------------
    @property
    def graph(self):
        return self.cfg.graph

    @property
    def blocks(self) -> dict[int, Block]:
        return self.cfg.blocks

    @property
    def instructions(self) -> dict[int, Instruction]:
        return self.cfg.instructions

    def unresolved(self) -> list[IndirectBranch]:
        """Indirect branches whose targets are not (all) known, by address."""
        return [b for a, b in sorted(self.indirect.items()) if not b.resolved]

    def block_at(self, address: int) -> Block | None:
        """The block holding the instruction that starts at ``address``, if scanned."""
        return self.cfg.block_containing(address)

    # --- roots and scanning -------------------------------------------------------------
    def add_root(self, address: int, kind: str = "address", name: str = "") -> None:
        """Queue ``address`` as a place where execution may begin (scanned by :meth:`run`)."""
        address &= self._mask
        self.roots.setdefault(address, (kind, name))
        self._work.insert(0, (address, None, "root"))  # roots are explored in the order given

    def scan(self, *addresses: int) -> Block | None:
        """Scan from more addresses into the existing graph; the block of the first."""
        for a in addresses:
            self.add_root(a)
        self.run()
        return self.block_at(addresses[0] & self._mask) if addresses else None

    def run(self) -> None:
        """Follow every queued edge, resolving indirect branches, until nothing is new."""
        with _gc_paused(self):
            while True:
                self._drain()
                if self._dirty:
                    self._resolve()
                    continue
                for finder in self.root_finders:
                    for address, kind, name in finder.find(self):
                        if (address & self._mask) not in self.roots:
                            self.add_root(address, kind, name)
                            self._found_roots.add(address & self._mask)
                if not self._work:
                    return

    def _drain(self) -> None:
        """Follow queued edges until none is left: the hot loop, kept in one function.

        Per edge: a known target is split if needed; a new one is checked (alignment, not
        inside an instruction) and decoded into a block until a control-flow instruction
        or known code, each new instruction checked not to cover a known one's start.
        """
        work = self._work
        cfg = self.cfg
        insns = cfg.instructions
        block_of = cfg.block_of
        blocks = cfg.blocks
        graph = cfg.graph
        add_edge = cfg.add_edge
        fetch = self.memory.fetch
        problem = self._problem
        watch = self._watch
        log = self.block_log.append
        step, align, maxlen = self._step, self._align, self._maxlen
        back = tuple(range(step, maxlen, step))
        decoded = 0
        while work:
            target, source, kind = work.pop()
            if target in insns:
                if block_of[target] != target:
                    self._split(target)
                if source is not None:
                    add_edge(source, target, kind)
                    if target in watch:
                        self._touch(target)
                continue
            if target % align:
                problem(target, "misaligned", source, kind, detail=f"not a multiple of {align}")
                continue
            host = None
            for d in back:
                ins = insns.get(target - d)
                if ins is not None and len(ins.raw) > d:
                    host = target - d
                    break
            if host is not None:
                problem(target, "overlap", source, kind, conflicts_with=host, detail=f"inside the instruction at 0x{host:x}")
                continue
            addr = target
            block = None
            append = None
            while True:
                try:
                    ins = fetch(addr)
                except FetchError as exc:
                    if block is None:
                        problem(target, exc.reason, source, kind, detail=exc.detail)
                    else:
                        problem(addr, exc.reason, block.instructions[-1].address, "fallthrough", detail=exc.detail)
                    break
                nxt = addr + len(ins.raw)
                if nxt - addr > step:
                    conflict = next((a for a in range(addr + step, nxt, step) if a in insns), None)
                    if conflict is not None:
                        detail = f"would cover the start of the instruction at 0x{conflict:x}"
                        if block is None:
                            problem(target, "overlap", source, kind, conflicts_with=conflict, detail=detail)
                        else:
                            problem(addr, "overlap", block.instructions[-1].address, "fallthrough",
                                    conflicts_with=conflict, detail=detail)
                        break
                if block is None:
                    block = blocks[target] = Block(target)
                    append = block.instructions.append
                    log(target)
                insns[addr] = ins
                block_of[addr] = target
                append(ins)
                decoded += 1
                flow = ins.flow
                if flow == "none":
                    if nxt in insns:
                        work.append((nxt, addr, "fallthrough"))
                        break
                    addr = nxt
                    continue
                # A block-ending instruction: queue its edges (LIFO, so fallthrough first).
                if flow == "branch":
                    work.append((ins.target, addr, "taken"))
                    work.append((nxt, addr, "fallthrough"))
                elif flow == "jump" and ins.target is not None:
                    work.append((ins.target, addr, "jump"))
                elif flow == "call" and ins.target is not None:
                    work.append((ins.target, addr, "call"))
                    work.append((nxt, addr, "return-to"))
                elif flow == "trap":
                    work.append((nxt, addr, "return-to"))
                elif flow not in ("return", "halt"):  # indirect, or direct without a target
                    calls = flow.endswith("call")
                    self.indirect[addr] = IndirectBranch(addr, "indirect-call" if calls else "indirect-jump")
                    self._dirty.add(addr)
                    if calls:
                        work.append((nxt, addr, "return-to"))
                break
            if block is None:
                continue
            if source is None:
                graph.add_node(target)
            else:
                add_edge(source, target, kind)
                if target in watch:
                    self._touch(target)
        self.decoded += decoded

    def _problem(self, address: int, reason: str, source: int | None, kind: str,
                 conflicts_with: int | None = None, detail: str = "") -> None:
        self.problems[(source, address, kind)] = Problem(address, reason, source, kind, conflicts_with, detail)

    def _touch(self, block: int) -> None:
        """Block ``block`` changed (new predecessor, split, merge, drop): re-ask its watchers."""
        watchers = self._watch.get(block)
        if watchers:
            self._dirty.update(watchers)

    def _split(self, address: int) -> None:
        old = self.cfg.block_of[address]
        self._touch(old)
        self.cfg.split(address)
        self.block_log.append(old)
        self.block_log.append(address)

    def _resolve(self) -> None:
        """Ask the resolvers about every indirect branch whose blocks changed."""
        dirty, self._dirty = sorted(self._dirty), set()
        cfg = self.cfg
        roots = frozenset(self.roots)
        for a in dirty:
            site = self.indirect.get(a)
            if site is None or a not in cfg.block_of:
                continue
            block = cfg.blocks[cfg.block_of[a]]
            ctx = ResolveContext(self.isa, cfg, roots, block, block.instructions[-1], self.read, self.memory.fetch, self.labels)
            result, name = None, None
            for resolver in self.resolvers:
                result = resolver.resolve(ctx)
                if result is not None:
                    name = resolver.name
                    break
            for b in site.depends:
                self._watch.get(b, set()).discard(a)
            site.depends = (result.blocks if result is not None else frozenset()) | {block.start}
            for b in site.depends:
                self._watch.setdefault(b, set()).add(a)
            site.resolved = result is not None and result.complete
            site.reads = result.reads if result is not None else ()
            if result is not None and result.targets:
                site.resolver = name
            for t in sorted(result.targets if result is not None else ()):
                t &= self._mask
                if t not in site.targets:
                    site.targets.add(t)
                    self._work.append((t, a, "indirect"))
