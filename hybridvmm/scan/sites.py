"""Sensitive sites: the reached instructions a monitor must not run directly.

A site is an instruction whose class, in the variant being scanned, is sensitive
(control- or behavior-sensitive) and not privileged — Popek–Goldberg's troublemakers,
which neither trap nor behave the same under a monitor.  Those also declared
``user-sensitive`` are marked: they misbehave even in user mode, so the hybrid monitor has
to patch them in user code too.

"Class" means the classes the spec *declares* for the variant (``InstructionSpec.classes``)
unless the caller passes ``classes_of``; the classifier (which derives classes by executing
the semantics) plugs in there without the scanner changing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from hybridvmm.isa import Instruction, InstructionSpec
from hybridvmm.isa.spec import USER, is_sensitive_unprivileged
from hybridvmm.scan.cfg import ControlFlowGraph

ClassesOf = Callable[[InstructionSpec], frozenset[str]]


def declared_classes(spec: InstructionSpec) -> frozenset[str]:
    """The classes the variant's spec declares (the default classification)."""
    return spec.classes


def is_site_class(classes: frozenset[str]) -> bool:
    """Sensitive and not privileged."""
    return is_sensitive_unprivileged(classes)


@dataclass(frozen=True)
class Site:
    """A sensitive-unprivileged instruction found by the scanner, and its block."""

    instruction: Instruction
    classes: frozenset[str]
    block: int
    base: int = 0
    """Where the scanned address space sits in storage (non-zero for a relocated space)."""

    @property
    def address(self) -> int:
        """The address as the scanned code sees it (virtual in a relocated space)."""
        return self.instruction.address

    @property
    def physical(self) -> int:
        """The storage address: where a patch goes."""
        return self.base + self.instruction.address

    @property
    def name(self) -> str:
        return self.instruction.name

    @property
    def length(self) -> int:
        return len(self.instruction.raw)

    @property
    def user_sensitive(self) -> bool:
        return USER in self.classes


def site_specs(specs: Iterable[InstructionSpec], classes_of: ClassesOf = declared_classes) -> dict[str, frozenset[str]]:
    """Name → classes of every instruction spec that makes a site."""
    out = {}
    for spec in specs:
        classes = frozenset(classes_of(spec))
        if is_site_class(classes):
            out[spec.name] = classes
    return out


def find_sites(cfg: ControlFlowGraph, specs: Iterable[InstructionSpec], classes_of: ClassesOf = declared_classes,
               base: int = 0) -> list[Site]:
    """Every site among the reached instructions of ``cfg``, by address (``base``: where
    the scanned space sits in storage)."""
    wanted = site_specs(specs, classes_of)
    if not wanted:
        return []
    block_of = cfg.block_of
    return [
        Site(ins, wanted[ins.spec.name], block_of[a], base)
        for a, ins in sorted(cfg.instructions.items())
        if ins.spec.name in wanted
    ]


def hidden_sites(scanner, specs: Iterable[InstructionSpec], classes_of: ClassesOf = declared_classes,
                 base: int = 0) -> list[Site]:
    """Sites the scanner refused to put in the graph because they overlap a decoded
    instruction (an edge into the middle of one, or an instruction that would cover the
    start of one).  The guest can still reach them, so a patcher must trap them too; each
    carries the block of the instruction it overlaps."""
    wanted = site_specs(specs, classes_of)
    if not wanted:
        return []
    out: dict[int, Site] = {}
    block_of = scanner.cfg.block_of
    for p in scanner.problems.values():
        if p.reason != "overlap" or p.address in scanner.cfg.instructions or p.address in out:
            continue
        try:
            ins = scanner.memory.fetch(p.address)
        except Exception:  # noqa: BLE001 - whatever cannot be fetched is not a site
            continue
        if ins.spec.name in wanted:
            out[p.address] = Site(ins, wanted[ins.spec.name], block_of.get(p.conflicts_with, -1), base)
    return [out[a] for a in sorted(out)]
