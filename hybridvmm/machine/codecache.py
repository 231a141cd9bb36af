"""Translated code: per-address handler closures, one set per address mapping.

A *context* holds the translations valid under one address mapping (for a machine with
relocation, one value of R; for a paged one, one address space): virtual address →
hot-loop entry, exact routine and decoded :class:`~hybridvmm.isa.Instruction`.  Baking
the mapping into the closures means the hot loop never relocates or bounds-checks a
fetch; switching R just switches context.

Every translation records the root (physical) address its bytes came from.  A *linear*
context (``pbase`` set: virtual ``v`` is root ``pbase + v``, as under R) finds the
translations over a written range by arithmetic; a *paged* one (``pbase`` None: each
page maps anywhere) keeps a reverse index root address → virtual addresses.

The :class:`CodeCache` keeps a small LRU of contexts, marks the storage words their
instructions cover, and drops translations when storage under them is written.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Hashable

from hybridvmm.isa import Instruction, overlapping
from hybridvmm.machine.storage import Storage

Handler = Callable[[], int]


class Context:
    """Translations under one mapping.

    ``pbase`` is the root address of virtual 0 for a linear mapping, None for a paged one.
    ``entry`` holds the hot-loop entries (a sync entry where the exact state is needed),
    ``exact`` the routines themselves, ``insns`` the decoded instructions, ``physical``
    each translation's root address.
    """

    __slots__ = ("key", "pbase", "entry", "exact", "insns", "physical", "by_physical", "env", "hot", "blocks", "covers",
                 "sync", "samples", "cold")

    def __init__(self, key: Hashable, pbase: int | None, env: Any = None):
        self.key = key
        self.pbase = pbase
        self.entry: dict[int, Handler] = {}
        self.exact: dict[int, Handler] = {}
        self.insns: dict[int, Instruction] = {}
        self.physical: dict[int, int] = {}
        self.by_physical: dict[int, list[int]] = {}
        """Paged contexts only: root address → the virtual addresses translated from it."""
        self.env = env
        self.hot: dict[int, Handler] = {}
        """``entry`` with compiled blocks at their heads: what the run loop dispatches on
        while this context has blocks (:mod:`hybridvmm.machine.blocks`)."""
        self.blocks: dict[int, Any] = {}
        """Head → compiled block."""
        self.covers: dict[int, set[int]] = {}
        """Virtual address → heads of the blocks that contain its instruction."""
        self.sync: set[int] = set()
        """Addresses whose entry needs the exact state (system instructions, hooked
        addresses): a block stops before them."""
        self.samples: dict[int, int] = {}
        """How often the run loop found itself at each address between chunks (tiering)."""
        self.cold = 0
        """Chunks to run on the plain loop before trying the blocks again (they did not
        cover what ran)."""

    def physical_of(self, vaddr: int) -> int:
        """The root address the translation at ``vaddr`` was made from."""
        return self.physical[vaddr]


class CodeCache:
    """An LRU of contexts over one storage, kept coherent with stores."""

    def __init__(self, storage: Storage, max_length: int, max_contexts: int = 32):
        self.storage = storage
        self.max_length = max_length
        self.max_contexts = max_contexts
        self.contexts: OrderedDict[Hashable, Context] = OrderedDict()
        self.drops = 0
        """Compiled blocks dropped so far (a block checks it to stop after a store into code)."""
        self.written: list[Callable[[int, int], None]] = []
        """Told of every store into translated code (root ``start, end``)."""
        storage.watch(self)

    def get(self, key: Hashable) -> Context | None:
        ctx = self.contexts.get(key)
        if ctx is not None:
            self.contexts.move_to_end(key)
        return ctx

    def put(self, ctx: Context) -> Context:
        self.contexts[ctx.key] = ctx
        self.contexts.move_to_end(ctx.key)
        while len(self.contexts) > self.max_contexts:
            _, old = self.contexts.popitem(last=False)
            self._clear_context(old)
        return ctx

    def add(self, ctx: Context, vaddr: int, paddr: int, ins: Instruction, entry: Handler, exact: Handler) -> None:
        """Record a translation made from root address ``paddr`` and mark the words it covers."""
        if vaddr in ctx.insns:
            self._drop(ctx, vaddr)
        ctx.entry[vaddr] = entry
        ctx.hot[vaddr] = entry
        ctx.exact[vaddr] = exact
        ctx.insns[vaddr] = ins
        ctx.physical[vaddr] = paddr
        if ctx.pbase is None:
            ctx.by_physical.setdefault(paddr, []).append(vaddr)
        self.storage.root.mark_physical(paddr, paddr + len(ins.raw), 1)

    def _drop(self, ctx: Context, vaddr: int) -> None:
        ins = ctx.insns.pop(vaddr)
        ctx.entry.pop(vaddr, None)
        ctx.hot.pop(vaddr, None)
        ctx.exact.pop(vaddr, None)
        ctx.sync.discard(vaddr)
        heads = ctx.covers.pop(vaddr, None)
        if heads:
            for head in heads:
                self.drop_block(ctx, head)
        paddr = ctx.physical.pop(vaddr)
        if ctx.pbase is None:
            users = ctx.by_physical[paddr]
            users.remove(vaddr)
            if not users:
                del ctx.by_physical[paddr]
        self.storage.root.mark_physical(paddr, paddr + len(ins.raw), -1)

    def drop_block(self, ctx: Context, head: int) -> None:
        """Forget the compiled block at ``head`` (its code changed, or was dropped)."""
        block = ctx.blocks.pop(head, None)
        if block is None:
            return
        block.dead = True
        for v in block.addresses:
            users = ctx.covers.get(v)
            if users is not None:
                users.discard(head)
                if not users:
                    del ctx.covers[v]
        if head in ctx.entry:
            ctx.hot[head] = ctx.entry[head]
        self.drops += 1

    def add_block(self, ctx: Context, block: Any) -> None:
        """Install a compiled block: the run loop dispatches ``block.run`` at its head."""
        self.drop_block(ctx, block.head)
        ctx.blocks[block.head] = block
        for v in block.addresses:
            ctx.covers.setdefault(v, set()).add(block.head)
        ctx.hot[block.head] = block.run

    def drop_physical(self, start: int, end: int) -> None:
        """Forget every translation (in every context) overlapping root ``[start, end)``."""
        for listener in self.written:
            listener(start, end)
        for ctx in self.contexts.values():
            if not ctx.insns:
                continue
            if ctx.pbase is not None:
                for v in overlapping(ctx.insns, start - ctx.pbase, end - ctx.pbase, self.max_length):
                    self._drop(ctx, v)
            else:
                by_physical, insns = ctx.by_physical, ctx.insns
                if end - start + self.max_length > len(by_physical):
                    starts = [p for p in by_physical if p < end]
                else:
                    starts = [p for p in range(start - self.max_length + 1, end) if p in by_physical]
                for p in starts:
                    for v in [v for v in by_physical[p] if p + len(insns[v].raw) > start]:
                        self._drop(ctx, v)

    def drop_virtual(self, key: Hashable, start: int, end: int) -> None:
        """Forget the translations of one context at virtual addresses ``[start, end)``
        (a page whose mapping changed, as a TLB shootdown of one entry)."""
        ctx = self.contexts.get(key)
        if ctx is None or not ctx.insns:
            return
        insns = ctx.insns
        if end - start > len(insns):
            doomed = [v for v in insns if start <= v < end]
        else:
            doomed = [v for v in range(start, end) if v in insns]
        for v in doomed:
            self._drop(ctx, v)

    def drop_context(self, key: Hashable) -> None:
        """Forget one context and its translations (its mapping changed under it)."""
        ctx = self.contexts.pop(key, None)
        if ctx is not None:
            self._clear_context(ctx)

    def _clear_context(self, ctx: Context) -> None:
        for v in list(ctx.insns):
            self._drop(ctx, v)
        for head in list(ctx.blocks):
            self.drop_block(ctx, head)
        ctx.samples.clear()

    def clear(self) -> None:
        """Forget every translation (contexts stay, emptied)."""
        for ctx in self.contexts.values():
            self._clear_context(ctx)

    def close(self) -> None:
        """Release the marks and stop watching storage (the machine is discarded)."""
        self.clear()
        self.contexts.clear()
        self.written.clear()
        self.storage.unwatch(self)
