"""The report's CFG figures: each sensitive site and patch in a drawing that fits a page.

The image is scanned as ``scan`` scans it, together with the user tasks of a minios-family
image as relocated spaces (where the hybrid monitor's patches land).  Each site or patch is
shown in its function when that is small (at most :data:`MAX_BLOCKS` blocks), else in its
neighbourhood, as deep as still fits; a place already drawn is not drawn again, nor is a
drawing identical to one before (minios copies its trampoline into every task).  With no
site and no patch (the RISC-V guests: every sensitive instruction they run is privileged) the
entry and the trap vectors are shown, privileged instructions tinted: that is where trap-and-emulate exits.
Graphviz lays the figures out; without it each is a listing, and the page says how to get
the drawings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hybridvmm.asm.disassembler import format_instruction
from hybridvmm.guests import task_regions
from hybridvmm.image import Image, PatchRecord
from hybridvmm.isa import ISA
from hybridvmm.report.svg import inline
from hybridvmm.scan import Scanner, Site, Space, scan_program, to_dot
from hybridvmm.scan.dot import instruction_mark
from hybridvmm.scan.excerpt import block_at, function_blocks, function_entries, neighbourhood, owning_function
from hybridvmm.scan.graphviz import have_dot, render_svg
from hybridvmm.symbols import Region, Symbol, SymbolTable, describe

MAX_BLOCKS = 14
"""Blocks in one figure at most (a function larger than this is shown by neighbourhoods)."""
MAX_FIGURES = 12
DEPTHS = (2, 1, 0)
"""Neighbourhood depths tried, deepest first, until one fits."""


@dataclass
class Listing:
    """A figure as text, where Graphviz is absent: blocks with their marked instructions."""

    blocks: list[tuple[str, list[tuple[str, str, str]], list[str]]] = field(default_factory=list)
    """(block title, [(text, mark kind, tag)], ["kind -> target"])."""


@dataclass
class CfgFigure:
    title: str
    caption: str
    svg: str | None = None
    listing: Listing | None = None
    also: list[str] = field(default_factory=list)
    """Other places with the same drawing."""


@dataclass
class View:
    """One scanned view of the image: its storage, or a relocated task."""

    label: str
    scanner: Scanner
    sites: list[Site]
    symbols: SymbolTable | None


@dataclass
class CfgSection:
    figures: list[CfgFigure]
    note: str
    """What was drawn and why (sites or no sites, figures left out)."""
    graphviz: bool


def patch_marks(image: Image, runtime: dict[str, list[PatchRecord]]) -> dict[int, str]:
    """Storage address → how it was patched: in the image, and/or at run time by which modes."""
    modes: dict[int, list[str]] = {}
    for mode, records in runtime.items():
        for r in records:
            modes.setdefault(r.address, []).append(mode)
    marks = {p.address: "patched in the image" for p in image.patches}
    for address, names in modes.items():
        run = "patched at run time by " + ", ".join(names)
        marks[address] = f"{marks[address]}; {run}" if address in marks else run
    return marks


def views_of(image: Image, isa: ISA) -> list[View]:
    """The image's storage view, and one per user task of a minios-family image."""
    spaces = [Space(base, bound, (entry,)) for base, bound, entry in task_regions(image)]
    scanned = scan_program(image, isa, spaces=spaces)
    table = SymbolTable.from_image(image)
    views = [View("storage addresses", scanned.main, scanned.main_sites, table)]
    for space, sub, sites in scanned.spaces:
        shifted = relocated_symbols(table, space.base, space.bound)
        names = sorted({r.name for r in shifted.regions})
        task = f"user task {'/'.join(names)} at" if names else "user task at"
        views.append(View(f"{task} 0x{space.base:x} (virtual addresses)", sub, sites, shifted))
    return views


def relocated_symbols(table: SymbolTable, base: int, bound: int) -> SymbolTable:
    """The symbols and sections inside storage ``[base, base + bound)``, at the virtual
    addresses code relocated there sees (``base`` is its 0)."""
    regions = [Region(r.name, r.start - base, r.end - base) for r in table.regions if base <= r.start < base + bound]
    symbols = [Symbol(s.name, s.address - base, s.section) for s in table.symbols
               if base <= s.address < base + bound and any(r.name == s.section for r in regions)]
    return SymbolTable(symbols, regions)


def _fit(scanner: Scanner, address: int, entries: set[int]) -> tuple[set[int], int | None, int]:
    """The blocks to draw for ``address``: (blocks, the function's entry, or None and the
    neighbourhood's depth)."""
    entry = owning_function(scanner, address, entries)
    if entry is not None:
        body = function_blocks(scanner, entry, entries)
        if len(body) <= MAX_BLOCKS:
            return body, entry, 0
    for depth in DEPTHS:
        blocks = neighbourhood(scanner, address, depth)
        if len(blocks) <= MAX_BLOCKS:
            break
    return blocks, None, depth


def _name(view: View, address: int) -> str:
    return describe(address, view.symbols)


def cfg_section(image: Image, isa: ISA, runtime: dict[str, list[PatchRecord]], prefix: str) -> CfgSection:
    """The figures for ``image`` (``runtime``: mode → patches the monitor applied)."""
    marks = patch_marks(image, runtime)
    views = views_of(image, isa)
    focus: list[tuple[View, int, str]] = []
    for view in views:
        base = view.scanner.base
        places = {s.address: "site" for s in view.sites}
        for physical in marks:
            if physical - base in view.scanner.cfg.instructions:
                places.setdefault(physical - base, "patch")
        focus += [(view, a, why) for a, why in sorted(places.items())]
    sites = sum(len(v.sites) for v in views)
    if focus:
        note = (f"{sites} sensitive-unprivileged site{'' if sites == 1 else 's'} and {len(marks)} patched "
                f"instruction{'' if len(marks) == 1 else 's'}; each drawn in its function, or its neighbourhood "
                f"where the function is larger than {MAX_BLOCKS} blocks.")
    else:
        main = views[0]
        focus = [(main, a, "root") for a in sorted(main.scanner.roots) if a in main.scanner.cfg.blocks]
        note = ("The scan found no sensitive-unprivileged instruction in this code and nothing was patched: every "
                "sensitive instruction it reached is privileged, so it traps when deprivileged. Shown instead: the "
                "entry point and the trap vectors, privileged instructions tinted, which is where trap-and-emulate's "
                "exits come from.")
    figures: list[CfgFigure] = []
    drawn: dict[int, set[int]] = {}
    seen: dict[str, CfgFigure] = {}
    left_out = 0
    entries_of = {id(v): function_entries(v.scanner) for v in views}
    graphviz = have_dot()
    for view, address, why in focus:
        start = block_at(view.scanner, address)
        if start is None or start in drawn.setdefault(id(view), set()):
            continue
        blocks, entry, depth = _fit(view.scanner, address, entries_of[id(view)])
        if entry is not None:
            how = f"function {_name(view, entry)}"
        else:
            how = f"around {_name(view, address)} ({depth} edge{'' if depth == 1 else 's'} either way)"
        drawn[id(view)] |= blocks
        dot = to_dot(view.scanner, view.sites, name="cfg", symbols=view.symbols, blocks=blocks, patches=marks,
                     privileged=True)
        place = f"{_name(view, address)}, {view.label}"
        if dot in seen:
            seen[dot].also.append(place)
            continue
        if len(figures) >= MAX_FIGURES:
            left_out += 1
            continue
        what = {"site": "sensitive site", "patch": "patch", "root": "scan root"}[why]
        figure = CfgFigure(f"{how} — {view.label}",
                           f"{what} at {_name(view, address)}; {len(blocks)} block{'' if len(blocks) == 1 else 's'}")
        if graphviz:
            figure.svg = inline(render_svg(dot), f"{prefix}-{len(figures) + 1}")
        else:
            figure.listing = _listing(view, blocks, marks)
        seen[dot] = figure
        figures.append(figure)
    if left_out:
        note += f" {left_out} more place{'' if left_out == 1 else 's'} not drawn (at most {MAX_FIGURES} figures)."
    return CfgSection(figures, note, graphviz)


def _listing(view: View, blocks: set[int], marks: dict[int, str]) -> Listing:
    scanner = view.scanner
    cfg = scanner.cfg
    by_address = {s.address: s for s in view.sites}
    out = Listing()
    for start in sorted(blocks):
        rows = []
        for ins in cfg.blocks[start].instructions:
            kind, tag = instruction_mark(ins, by_address.get(ins.address), marks.get(scanner.base + ins.address), True)
            rows.append((f"{ins.address:08x}  {format_instruction(ins, scanner.isa)}", kind, tag))
        edges = [f"{kind} → {_name(view, v)}" for v, data in sorted(cfg.graph[start].items()) for kind in data["kinds"]]
        out.blocks.append((_name(view, start), rows, edges))
    return out
