"""The constant-propagation resolver: "load an address, then jump through the register".

Covers pgm ``movl r1, label; jmpr r1``, RISC-V ``auipc/lui + addi + jalr``, switch-like
code where each predecessor loads a different address, and jump tables (``table + k*i``,
loaded, jumped through).  What instructions compute comes from
the spec's ``[system.dataflow]`` table via
:class:`~hybridvmm.scan.dataflow.Evaluator`; what each operand *means* comes from the spec's
field kinds.  Every path of :func:`~hybridvmm.scan.resolvers.block_paths` is evaluated from
an unknown register state, so a target found holds whatever came before the path.

A jump table's extent is not known statically: entries are read from its start while
they are aligned addresses of decodable instructions, up to the next label of the image,
known code, or :data:`MAX_TABLE` entries.  The branch counts as resolved only when a
label or known code ended the table; otherwise its targets are reported as partial.
"""

from __future__ import annotations

from bisect import bisect_right

from hybridvmm.isa import ISA
from hybridvmm.scan.dataflow import Entry, Evaluator, Value
from hybridvmm.scan.memory import FetchError
from hybridvmm.scan.resolvers import Resolution, ResolveContext, block_paths

MAX_TABLE = 256
"""Most entries read from one jump table."""


def dataflow_facts(isa: ISA) -> dict | None:
    """The data-flow table of ``isa``: its spec's ``[system.dataflow]`` (variants inherit it)."""
    return isa.system.get("dataflow")


def plausible_address(ctx: ResolveContext):
    """An address is plausible when the program has bytes there."""
    read = ctx.read
    return (lambda a: bool(read(a, 1))) if read is not None else (lambda a: False)


class ConstantPropagationResolver:
    """Path-wise constant propagation over registers, with jump tables."""

    name = "constprop"

    def __init__(self, isa: ISA, facts: dict):
        self.isa = isa
        self.evaluator = Evaluator(isa, facts)

    def resolve(self, ctx: ResolveContext) -> Resolution | None:
        paths, blocks, complete = block_paths(ctx.cfg, ctx.roots, ctx.block.start)
        ectx = self.evaluator.context(plausible_address(ctx))
        step = self.evaluator.step
        targets: set[int] = set()
        reads: list[tuple[int, int]] = []
        for path in paths:
            regs: dict[int, Value] = {}
            feasible = True
            for block, succ in zip(path, path[1:]):
                jumps_to: Value = None
                for ins in block.instructions:
                    jumps_to = step(ins, regs, ectx)
                # An indirect branch that provably goes elsewhere cannot lead along this path.
                if isinstance(jumps_to, int) and jumps_to != succ.start:
                    feasible = False
                    break
            if not feasible:
                continue
            for ins in path[-1].instructions[:-1]:
                step(ins, regs, ectx)
            target = step(ctx.instruction, regs, ectx)
            if isinstance(target, int):
                targets.add(target)
            elif isinstance(target, Entry):
                found, bounded, end = self.table(ctx, target.base)
                targets |= found
                complete = complete and bounded
                reads.append((target.base, end))
            else:
                complete = False
        return Resolution(frozenset(targets), complete, blocks, tuple(reads))

    def table(self, ctx: ResolveContext, base: int) -> tuple[set[int], bool, int]:
        """Entries of the jump table at ``base``, whether a clear boundary ended it, and
        the end of the bytes read."""
        if ctx.read is None or ctx.fetch is None:
            return set(), False, base
        isa = self.isa
        width = isa.word_bits // 8
        k = bisect_right(ctx.labels, base)
        limit = ctx.labels[k] if k < len(ctx.labels) else None
        insns = ctx.cfg.instructions
        targets: set[int] = set()
        address = base
        for _ in range(MAX_TABLE):
            if (limit is not None and address >= limit) or address in insns:
                return targets, bool(targets), address
            word = ctx.read(address, width)
            if len(word) < width:
                break
            target = int.from_bytes(word, isa.endian)
            if target % isa.alignment or not self._decodes(ctx, target):
                break
            targets.add(target)
            address += width
        return targets, False, address + width

    def _decodes(self, ctx: ResolveContext, address: int) -> bool:
        if address in ctx.cfg.instructions:
            return True
        try:
            ctx.fetch(address)
        except FetchError:
            return False
        return True


def constprop_for(isa: ISA) -> ConstantPropagationResolver | None:
    """The resolver for ``isa`` if it has a data-flow table."""
    facts = dataflow_facts(isa)
    return ConstantPropagationResolver(isa, facts) if facts is not None else None
