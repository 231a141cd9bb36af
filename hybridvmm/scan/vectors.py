"""Trap vectors as scan roots: the ones an image holds, and the ones its code installs.

The spec's ``[system] vectors`` table (``table``, ``stride``, ``pc_offset``, ``first``,
``count``) names the new-PSW pc words a trap loads.  Handler code is often reachable no
other way: an image may hold the vectors (:func:`vector_roots`), or the kernel may store
them at boot (``movl r5, handler … st r5, 4(r3)``), which :class:`VectorStoreFinder` sees
by evaluating the blocks that store words with the constant-propagation evaluator.

Where trap vectors are registers instead, ``[system] code_registers`` names them
(``{ mtvec = { kind = "vector", mask = 0xfffffffc } }``) by the spec's register names
(``[csrs]``), together with the registers a trap return jumps to (``kind =
"trap-return"``: code reached only by an ``xret`` whose target the code set).  A constant
the code writes there (``la t0, handler; csrw mtvec, t0``: a ``sysreg_write`` of the
data-flow table) is a root, its address bits kept by ``mask``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol

from hybridvmm.isa import ISA
from hybridvmm.scan.dataflow import Evaluator, Value
from hybridvmm.scan.resolvers import block_paths

if TYPE_CHECKING:
    from hybridvmm.scan.scanner import Scanner


def vector_slots(isa: ISA) -> dict[int, str]:
    """Address of each vector's pc word → the cause's name."""
    spec = isa.system.get("vectors")
    if not isinstance(spec, dict):
        return {}
    names = {v: k for k, v in dict(isa.system.get("causes", {})).items()}
    first = int(spec.get("first", 0))
    out = {}
    for cause in range(first, first + int(spec.get("count", 0))):
        where = int(spec["table"]) + int(spec["stride"]) * cause + int(spec.get("pc_offset", 0))
        out[where] = names.get(cause, str(cause))
    return out


def code_registers(isa: ISA) -> dict[int, tuple[str, str, int]]:
    """System-register number → (root kind, register name, address mask) of every register
    ``[system] code_registers`` names (see the module docstring)."""
    spec = isa.system.get("code_registers")
    if not isinstance(spec, dict):
        return {}
    out = {}
    full = (1 << isa.word_bits) - 1
    for name, entry in spec.items():
        entry = entry if isinstance(entry, dict) else {}
        number = isa.csrs.get(name)
        if number is not None:
            out[number] = (str(entry.get("kind", "vector")), name, int(entry.get("mask", full)))
    return out


def vector_roots(isa: ISA, read: Callable[[int, int], bytes]) -> list[tuple[int, str]]:
    """(handler address, cause name) for every non-zero vector the program bytes hold."""
    width = isa.word_bits // 8
    out = []
    for where, cause in vector_slots(isa).items():
        word = read(where, width)
        if len(word) == width:
            value = int.from_bytes(word, isa.endian)
            if value:
                out.append((value, cause))
    return out


class RootFinder(Protocol):
    """Plug-in interface: more roots from the graph so far, as (address, kind, name)."""

    name: str

    def find(self, scanner: "Scanner") -> list[tuple[int, str, str]]: ...


class VectorStoreFinder:
    """Roots from constant stores into the trap-vector pc words, and from constant writes
    to the code registers.

    Each new block holding a word store or a system-register write (the scanner logs new
    and split blocks) is evaluated once per shape (start, length) along the paths from its
    immediate predecessors, which is where a boot loop gets its pointer.
    """

    name = "vector-stores"
    DEPTH = 1
    PATHS = 4

    def __init__(self, evaluator: Evaluator, slots: dict[int, str], registers: dict[int, tuple[str, str, int]] | None = None):
        self.evaluator = evaluator
        self.slots = slots
        self.registers = registers or {}
        self._seen: set[tuple[int, int]] = set()  # (start, length) of blocks looked at
        self._cursor = 0

    def reset(self) -> None:
        """Look at every block again (after code changed)."""
        self._seen.clear()
        self._cursor = 0

    def find(self, scanner: "Scanner") -> list[tuple[int, str, str]]:
        found: list[tuple[int, str, str]] = []
        log = scanner.block_log
        fresh, self._cursor = log[self._cursor:], len(log)
        slots = self.slots
        if scanner.base:  # stores of a relocated space go through R: not the absolute vectors
            slots = {}
            if not self.registers:
                return found
        registers = self.registers
        cfg = scanner.cfg
        storing = (self.evaluator.storing if slots else set()) | (self.evaluator.sysreg_writing if registers else set())
        step = self.evaluator.step
        read = scanner.read
        plausible = (lambda a: bool(read(a, 1))) if read is not None else (lambda a: False)
        blocks = cfg.blocks
        seen = self._seen
        for start in fresh:
            block = blocks.get(start)
            if block is None:
                continue
            key = (start, len(block.instructions))
            if key in seen:
                continue
            seen.add(key)
            for ins in block.instructions:
                if ins.spec.name in storing:
                    break
            else:
                continue
            paths, _, _ = block_paths(cfg, scanner.roots, start, self.DEPTH, self.PATHS)
            for path in paths:
                regs: dict[int, Value] = {}
                ctx = self.evaluator.context(plausible)
                for b in path[:-1]:
                    for ins in b.instructions:
                        step(ins, regs, ctx)
                ctx.stores, ctx.sysregs = [], []
                for ins in path[-1].instructions:
                    step(ins, regs, ctx)
                for where, value in ctx.stores:
                    if isinstance(where, int) and isinstance(value, int) and value and where in slots:
                        found.append((value, "vector", slots[where]))
                for number, value in ctx.sysregs:
                    target = registers.get(number) if isinstance(number, int) else None
                    if target is not None and isinstance(value, int) and value & target[2]:
                        found.append((value & target[2], target[0], target[1]))
        return found


def vector_store_finder(isa: ISA) -> VectorStoreFinder | None:
    """The finder for ``isa`` if it has vectors and a data-flow table with word stores, or
    code registers and a table with system-register writes."""
    from hybridvmm.scan.constprop import dataflow_facts

    slots, registers = vector_slots(isa), code_registers(isa)
    facts = dataflow_facts(isa)
    if not (slots or registers) or facts is None:
        return None
    evaluator = Evaluator(isa, facts)
    if not ((slots and evaluator.storing) or (registers and evaluator.sysreg_writing)):
        return None
    return VectorStoreFinder(evaluator, slots if evaluator.storing else {}, registers if evaluator.sysreg_writing else {})
