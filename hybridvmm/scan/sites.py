"""Sensitive sites: the reached instructions a monitor must not run directly.

A site is an instruction whose class, in the variant being scanned, is sensitive
(control- or behavior-sensitive) and not privileged — Popek–Goldberg's troublemakers,
which neither trap nor behave the same under a monitor.  Those also declared
``user-sensitive`` are marked: they misbehave even in user mode, so the hybrid monitor has
to patch them in user code too.

"Class" means the classes the spec *declares* for the variant (``InstructionSpec.classes``)
unless the caller passes ``classes_of``, which is asked about each decoded instruction (its
operands may decide its class: a RISC-V CSR instruction's CSR).  The classifier's derived
classes plug in there (:func:`hybridvmm.classify.derived.derived_classes`) without the
scanner changing; a ``classes_of`` with a ``prepare(instructions)`` method is told every
instruction it will be asked about first, so that it can derive their classes in one go.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Union

from hybridvmm.isa import Instruction, InstructionSpec
from hybridvmm.isa.spec import USER, is_sensitive_unprivileged
from hybridvmm.scan.cfg import ControlFlowGraph

ClassesOf = Callable[[Instruction], frozenset[str]]
"""The classes of one decoded instruction."""


def declared_classes(ins: Union[Instruction, InstructionSpec]) -> frozenset[str]:
    """The classes the variant's spec declares (the default classification)."""
    return ins.classes if isinstance(ins, InstructionSpec) else ins.spec.classes


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


def site_specs(specs: Iterable[InstructionSpec]) -> dict[str, frozenset[str]]:
    """Name → declared classes of every instruction spec that makes a site."""
    out = {}
    for spec in specs:
        classes = frozenset(spec.classes)
        if is_site_class(classes):
            out[spec.name] = classes
    return out


def _site_classes(instructions: Iterable[Instruction], specs: Iterable[InstructionSpec],
                  classes_of: ClassesOf) -> Callable[[Instruction], frozenset[str] | None]:
    """``ins`` → its classes if it is a site, else None (declared classes by spec name, fast)."""
    if classes_of is declared_classes:
        wanted = site_specs(specs)
        return lambda ins: wanted.get(ins.spec.name)
    prepare = getattr(classes_of, "prepare", None)
    if prepare is not None:
        prepare(instructions)

    def site(ins: Instruction) -> frozenset[str] | None:
        classes = frozenset(classes_of(ins))
        return classes if is_site_class(classes) else None
    return site


def find_sites(cfg: ControlFlowGraph, specs: Iterable[InstructionSpec], classes_of: ClassesOf = declared_classes,
               base: int = 0) -> list[Site]:
    """Every site among the reached instructions of ``cfg``, by address (``base``: where
    the scanned space sits in storage)."""
    site = _site_classes(cfg.instructions.values(), specs, classes_of)
    block_of = cfg.block_of
    out = []
    for a, ins in sorted(cfg.instructions.items()):
        classes = site(ins)
        if classes is not None:
            out.append(Site(ins, classes, block_of[a], base))
    return out


def hidden_sites(scanner, specs: Iterable[InstructionSpec], classes_of: ClassesOf = declared_classes,
                 base: int = 0) -> list[Site]:
    """Sites the scanner refused to put in the graph because they overlap a decoded
    instruction (an edge into the middle of one, or an instruction that would cover the
    start of one).  The guest can still reach them, so a patcher must trap them too; each
    carries the block of the instruction it overlaps."""
    if classes_of is declared_classes and not site_specs(specs):
        return []
    hidden: dict[int, tuple[Instruction, int]] = {}
    block_of = scanner.cfg.block_of
    for p in scanner.problems.values():
        if p.reason != "overlap" or p.address in scanner.cfg.instructions or p.address in hidden:
            continue
        try:
            ins = scanner.memory.fetch(p.address)
        except Exception:  # noqa: BLE001 - whatever cannot be fetched is not a site
            continue
        hidden[p.address] = (ins, block_of.get(p.conflicts_with, -1))
    if not hidden:
        return []
    site = _site_classes([ins for ins, _ in hidden.values()], specs, classes_of)
    out = []
    for a in sorted(hidden):
        ins, block = hidden[a]
        classes = site(ins)
        if classes is not None:
            out.append(Site(ins, classes, block, base))
    return out
