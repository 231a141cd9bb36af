"""Translated code: per-address handler closures, one set per address mapping.

A *context* holds the translations valid under one address mapping (for a machine with
relocation, one value of R): virtual address → hot-loop entry, semantic routine and
decoded :class:`~hybridvmm.isa.Instruction`.  Baking the mapping into the closures means
the hot loop never relocates or bounds-checks a fetch; switching R just switches context.

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
    """Translations under one mapping; ``pbase`` is the root address of virtual 0."""

    __slots__ = ("key", "pbase", "fast", "real", "insns", "env")

    def __init__(self, key: Hashable, pbase: int, env: Any = None):
        self.key = key
        self.pbase = pbase
        self.fast: dict[int, Handler] = {}
        self.real: dict[int, Handler] = {}
        self.insns: dict[int, Instruction] = {}
        self.env = env


class CodeCache:
    """An LRU of contexts over one storage, kept coherent with stores."""

    def __init__(self, storage: Storage, max_length: int, max_contexts: int = 32):
        self.storage = storage
        self.max_length = max_length
        self.max_contexts = max_contexts
        self.contexts: OrderedDict[Hashable, Context] = OrderedDict()
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

    def add(self, ctx: Context, vaddr: int, ins: Instruction, fast: Handler, real: Handler) -> None:
        """Record a translation and mark the storage words it covers."""
        if vaddr in ctx.insns:
            self._drop(ctx, vaddr)
        ctx.fast[vaddr] = fast
        ctx.real[vaddr] = real
        ctx.insns[vaddr] = ins
        self._mark(ctx.pbase + vaddr, len(ins.raw), 1)

    def _drop(self, ctx: Context, vaddr: int) -> None:
        ins = ctx.insns.pop(vaddr)
        ctx.fast.pop(vaddr, None)
        ctx.real.pop(vaddr, None)
        self._mark(ctx.pbase + vaddr, len(ins.raw), -1)

    def _mark(self, p: int, length: int, delta: int) -> None:
        """Count a translation in (or out of) the marks of the storage words it covers."""
        marks = self.storage.marks
        for w in range(p >> 2, ((p + length - 1) >> 2) + 1):
            marks[w] += delta

    def drop_physical(self, start: int, end: int) -> None:
        """Forget every translation (in every context) overlapping root ``[start, end)``."""
        for ctx in self.contexts.values():
            if ctx.insns:
                for v in overlapping(ctx.insns, start - ctx.pbase, end - ctx.pbase, self.max_length):
                    self._drop(ctx, v)

    def _clear_context(self, ctx: Context) -> None:
        for v in list(ctx.insns):
            self._drop(ctx, v)

    def clear(self) -> None:
        """Forget every translation (contexts stay, emptied)."""
        for ctx in self.contexts.values():
            self._clear_context(ctx)

    def close(self) -> None:
        """Release the marks and stop watching storage (the machine is discarded)."""
        self.clear()
        self.contexts.clear()
        self.storage.unwatch(self)
