"""Addresses as ``<symbol+0xoff>``: one place that decides which symbol names an address.

Every output that shows an address — disassembly operands, ``scan`` blocks, ``--dot``
nodes, a run trace — asks a :class:`SymbolTable`.  Two policies:

- :meth:`SymbolTable.label` chooses exactly as GNU objdump does (``find_symbol_for_address``
  over symbols sorted by ``compare_symbols`` in binutils' ``objdump.c``): symbols of the
  section being shown first, then functions, objects, globals; the nearest one at or
  below the address, else the first above it (``<_start-0x7fffe800>``).  The disassembler
  uses it, so ``disasm --style objdump`` can match objdump byte for byte.
- :meth:`SymbolTable.nearest` is the plain rule for blocks and traces: the closest symbol
  at or below the address inside the same section, else nothing.

Mapping symbols (``$x``, ``$d``: where code and data begin) never name an address.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cmp_to_key

from hybridvmm.image import Image

ABS = "*ABS*"
"""The section name of an absolute symbol (as BFD calls it)."""


def is_mapping_symbol(name: str) -> bool:
    """``$x``/``$d`` and ISA-tagged ``$xrv32i2p1…``, ``$d.1``: markers, not places."""
    return name in ("$x", "$d") or name.startswith(("$x", "$d."))


@dataclass(frozen=True)
class Symbol:
    """A symbol with what the choice between several at one address depends on."""

    name: str
    address: int
    section: str = ABS  # name of the section it is defined in
    kind: str = "notype"  # "func", "object" or "notype"
    bind: str = "global"  # "local", "global" or "weak"
    size: int = 0

    @property
    def valid(self) -> bool:
        """May name an address (mapping symbols may not)."""
        return not is_mapping_symbol(self.name)


@dataclass(frozen=True)
class Region:
    """A named address range symbols may belong to (an image or ELF section)."""

    name: str
    start: int
    end: int

    def contains(self, address: int) -> bool:
        return self.start <= address < self.end


def _compare(current: str):
    """binutils' ``compare_symbols`` with ``compare_section`` = ``current``."""

    def cmp(a: Symbol, b: Symbol) -> int:
        if a.address != b.address:
            return -1 if a.address < b.address else 1
        ac, bc = a.section == current, b.section == current
        if ac != bc:
            return -1 if ac else 1
        for test in (
            lambda s: "gnu_compiled" in s.name or "gcc2_compiled" in s.name,  # after the rest
            lambda s: len(s.name) > 2 and s.name[-2] == "." and s.name[-1] in "oa",  # file names after
        ):
            if test(a) != test(b):
                return 1 if test(a) else -1
        for test in (lambda s: s.kind == "func", lambda s: s.kind == "object", lambda s: s.bind != "local", lambda s: s.bind == "global"):
            if test(a) != test(b):
                return -1 if test(a) else 1
        if a.size != b.size:
            return -1 if a.size > b.size else 1
        ad, bd = a.name.startswith("."), b.name.startswith(".")
        if ad != bd:
            return 1 if ad else -1
        an, bn = a.name.encode(), b.name.encode()
        return (an > bn) - (an < bn)

    return cmp


class SymbolTable:
    """The symbols of one program, sorted once per section they are shown from."""

    def __init__(self, symbols: list[Symbol], regions: list[Region] | None = None):
        self.symbols = [s for s in symbols if s.name]
        self.regions = list(regions or [])
        self._sorted: dict[str, list[Symbol]] = {}
        self._values: dict[str, list[int]] = {}

    @classmethod
    def from_image(cls, image: Image) -> "SymbolTable":
        """An image's symbols, each belonging to the section that holds its address."""
        regions = [Region(s.name, s.address, s.end) for s in image.sections]
        out = []
        for name, address in image.symbols.items():
            home = next((r.name for r in regions if r.contains(address)), ABS)
            out.append(Symbol(name, address, home))
        return cls(out, regions)

    def __bool__(self) -> bool:
        return bool(self.symbols)

    def region_of(self, address: int) -> str | None:
        return next((r.name for r in self.regions if r.contains(address)), None)

    def sorted_for(self, section: str | None) -> list[Symbol]:
        """All symbols in objdump's order while showing ``section``."""
        key = section or ""
        if key not in self._sorted:
            self._sorted[key] = sorted(self.symbols, key=cmp_to_key(_compare(key)))
            self._values[key] = [s.address for s in self._sorted[key]]
        return self._sorted[key]

    # --- objdump's choice ---------------------------------------------------------------
    def find(self, address: int, section: str | None = None, require_section: bool = False) -> Symbol | None:
        """objdump's ``find_symbol_for_address`` for an executable shown from ``section``."""
        syms = self.sorted_for(section)
        values = self._values[section or ""]
        count = len(syms)
        if count < 1:
            return None

        def ok(place: int, want: bool) -> bool:
            if want and syms[place].section != section:
                return False
            return syms[place].valid

        low, high = 0, count
        while low + 1 < high:
            mid = (high + low) // 2
            if values[mid] > address:
                high = mid
            elif values[mid] < address:
                low = mid
            else:
                low = mid
                break
        place = low
        while place > 0 and values[place] == values[place - 1]:
            place -= 1
        probe = place
        while probe < high and values[probe] == values[place]:
            if ok(probe, True):
                return syms[probe]
            probe += 1
        if not ok(place, require_section):
            newplace = None
            for i in range(probe - 1, -1, -1):
                if ok(i, require_section):
                    if newplace is None:
                        newplace = i
                    if values[i] != values[newplace]:
                        break
                    newplace = i
            if newplace is not None:
                place = newplace
            else:
                for i in range(place + 1, count):
                    if ok(i, require_section):
                        place = i
                        break
            if not ok(place, require_section):
                return None
        return syms[place]

    def label(self, address: int, section: str | None = None) -> str:
        """``<sym>``, ``<sym+0x10>`` or ``<sym-0x10>`` as objdump prints after an address.

        ``section`` is the section being shown (default: the one holding ``address``);
        without any usable symbol the section itself names the place.
        """
        if section is None:
            section = self.region_of(address)
        sym = self.find(address, section)
        if sym is None:
            region = next((r for r in self.regions if r.name == section), None)
            if region is None:
                return ""
            return f"<{region.name}{_offset(address - region.start)}>"
        return f"<{sym.name}{_offset(address - sym.address)}>"

    # --- the plain rule ----------------------------------------------------------------
    def nearest(self, address: int) -> str:
        """``<sym>`` / ``<sym+0xoff>`` for the closest symbol at or below ``address`` in its
        section, or ``""`` when there is none (an address outside every section, or
        before the first symbol of its section)."""
        section = self.region_of(address)
        best: Symbol | None = None
        for sym in self.sorted_for(section):
            if sym.address > address:
                break
            if sym.valid and sym.section == section and section is not None:
                if best is None or sym.address > best.address:
                    best = sym
        return "" if best is None else f"<{best.name}{_offset(address - best.address)}>"

    def at(self, address: int) -> list[str]:
        """Names of the (valid) symbols exactly at ``address``, in objdump's order."""
        return [s.name for s in self.sorted_for(self.region_of(address)) if s.address == address and s.valid]


def _offset(delta: int) -> str:
    if delta == 0:
        return ""
    return f"+0x{delta:x}" if delta > 0 else f"-0x{-delta:x}"


def describe(address: int, table: SymbolTable | None, width: int = 0) -> str:
    """``0x100 <boot>``: an address with its nearest symbol, for block and trace listings."""
    text = f"0x{address:0{width}x}" if width else f"0x{address:x}"
    label = table.nearest(address) if table else ""
    return f"{text} {label}" if label else text
