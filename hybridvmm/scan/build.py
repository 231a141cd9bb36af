"""Scanning a whole image: its roots (entry, trap vectors, symbols, addresses) and a run.

Roots: the entry point, every trap vector the image holds, the vectors its code installs
in storage or in vector registers, and the trap-return targets it sets
(:class:`~hybridvmm.scan.vectors.VectorStoreFinder`), and any symbols or addresses given.
A :class:`Space` scans a relocated region instead — code that runs under R = (base,
bound), such as a user task — with virtual addresses, as that code sees itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from hybridvmm.errors import UserError
from hybridvmm.image import Image
from hybridvmm.isa import ISA, load_isa, shared_decoder
from hybridvmm.scan.memory import ImageMemory
from hybridvmm.scan.resolvers import Resolver
from hybridvmm.scan.scanner import Scanner
from hybridvmm.scan.sites import ClassesOf, Site, declared_classes, find_sites, hidden_sites
from hybridvmm.scan.vectors import vector_roots, vector_store_finder

@dataclass(frozen=True)
class Space:
    """A relocated region to scan: storage ``[base, base + bound)`` seen at ``[0, bound)``,
    entered at the virtual ``roots`` (numbers, or symbols of the image taken as storage
    addresses and translated)."""

    base: int
    bound: int
    roots: tuple[int | str, ...]
    name: str = ""

    @classmethod
    def parse(cls, text: str) -> "Space":
        """``BASE:BOUND:ROOT[,ROOT...]`` (numbers in any base; roots may be symbols)."""
        parts = text.split(":")
        try:
            if len(parts) != 3:
                raise ValueError
            base, bound = (int(p.replace("_", ""), 0) for p in parts[:2])
            roots = tuple(_number_or_name(r) for r in parts[2].split(",") if r)
        except ValueError:
            raise UserError(f"--space {text}: want BASE:BOUND:ROOT[,ROOT...]") from None
        if not roots or bound <= 0:
            raise UserError(f"--space {text}: want BASE:BOUND:ROOT[,ROOT...] with a bound > 0")
        return cls(base, bound, roots, text)


def _number_or_name(text: str) -> int | str:
    try:
        return int(text.replace("_", ""), 0)
    except ValueError:
        return text


def resolve_root(image: Image, root: int | str, base: int = 0) -> tuple[int, str, str]:
    """A root given as a number or a symbol of the image; (address, kind, name)."""
    if isinstance(root, int):
        return root, "address", ""
    if root in image.symbols:
        return image.symbols[root] - base, "symbol", root
    value = _number_or_name(root)
    if isinstance(value, int):
        return value, "address", ""
    raise UserError(f"root '{root}': neither a symbol of the image nor a number")


def scan_image(
    image: Image,
    isa: ISA | None = None,
    roots: Iterable[str | int] = (),
    resolvers: Iterable[Resolver] | None = None,
    vectors: bool = True,
    space: Space | None = None,
) -> Scanner:
    """Scan ``image`` (its original bytes, through any patch table) from all its roots.

    Without ``space``: from the entry point, the trap vectors (held or installed, unless
    ``vectors`` is false) and ``roots``.  With ``space``: the relocated region alone,
    from its roots and ``roots``.
    """
    isa = isa or load_isa(image.isa)
    base = space.base if space else 0
    memory = ImageMemory(image, shared_decoder(isa), base=base, bound=space.bound if space else None)
    labels = [a - base for a in image.symbols.values() if space is None or 0 <= a - base < space.bound]
    finder = vector_store_finder(isa) if vectors and space is None else None
    scanner = Scanner(isa, memory, resolvers=resolvers, read=memory.read,
                      root_finders=[finder] if finder else [], labels=labels, base=base)
    if space is None:
        scanner.add_root(image.entry, "entry")
        if vectors:
            for address, cause in vector_roots(isa, memory.read):
                scanner.add_root(address, "vector", cause)
    for r in space.roots if space else ():
        address, kind, name = resolve_root(image, r, base)
        scanner.add_root(address, "entry" if kind == "address" else kind, name)
    for r in roots:
        address, kind, name = resolve_root(image, r, base)
        scanner.add_root(address, kind, name)
    scanner.run()
    return scanner


@dataclass
class ProgramScan:
    """An image scanned whole: the scan from its roots, one scan per relocated space, and
    the sensitive sites found in each."""

    main: Scanner
    main_sites: list[Site]
    spaces: list[tuple[Space, Scanner, list[Site]]] = field(default_factory=list)

    @property
    def sites(self) -> list[Site]:
        """Every site of every view, in storage order (storage reached through two views
        yields a site from each)."""
        every = list(self.main_sites)
        for _, _, sites in self.spaces:
            every += sites
        return sorted(every, key=lambda s: s.physical)


def scan_program(
    image: Image,
    isa: ISA | None = None,
    roots: Iterable[str | int] = (),
    spaces: Iterable[Space] = (),
    vectors: bool = True,
    classes_of: ClassesOf = declared_classes,
) -> ProgramScan:
    """Scan ``image`` from its roots and each relocated ``space``, and find the sites of each."""
    isa = isa or load_isa(image.isa)
    specs = list(isa.instructions.values())
    main = scan_image(image, isa, roots=roots, vectors=vectors)
    subs = [(space, scan_image(image, isa, space=space)) for space in spaces]
    prepare = getattr(classes_of, "prepare", None)
    if prepare is not None:  # derive the classes of every view's instructions in one go
        prepare([ins for sc in (main, *(sub for _, sub in subs)) for ins in sc.cfg.instructions.values()])
    result = ProgramScan(main, _all_sites(main, specs, classes_of, 0))
    for space, sub in subs:
        result.spaces.append((space, sub, _all_sites(sub, specs, classes_of, space.base)))
    return result


def _all_sites(scanner: Scanner, specs: list, classes_of: ClassesOf, base: int) -> list[Site]:
    """The graph's sites and those hidden in overlapping instructions, by address."""
    sites = find_sites(scanner.cfg, specs, classes_of, base=base) + hidden_sites(scanner, specs, classes_of, base=base)
    return sorted(sites, key=lambda s: s.address)
