"""RISC-V semantics, written once as handler factories: one line per instruction, expanded by a mechanism.

``factory(m, ins, env)`` returns a closure performing one decoded instruction instance on
the hart ``m`` (a :class:`~hybridvmm.isas.riscv.machine.RiscvMachine`: ``m.x``, ``m.priv``,
``m.csr`` …) with data accesses through ``env`` (:class:`~hybridvmm.isas.riscv.mmu.Env`), and
returning the next pc.  Register numbers, immediates, targets and the mapping are baked in.

Most instructions are one expression in a table (``"add": "(a + b) & M"``, as spike's
``riscv/insns/*.h`` are one line each); :func:`generate` substitutes it into the template of
its format and compiles one factory per instruction once, at import (the source is
registered with :mod:`linecache`, so tracebacks show it).  Names in expressions: ``a``/``b``
are ``rs1``/``rs2`` (for AMOs ``a`` is the word in memory), ``i`` the signed immediate, ``I``
its unsigned value, ``M``/``S``/``SH`` the XLEN mask, sign bit and shift mask.

``system=True`` marks instructions that need the exact machine state (CSR accesses, xRET,
``wfi``, ``sfence.vma``, ``fence.i``): they leave the hot loop, and check privilege inside
the semantics, raising :class:`~hybridvmm.machine.traps.TrapSignal` as spike's
``require_privilege`` does.  The same factories serve the bare machine, a monitor's virtual
hart and the classifier.
"""

from __future__ import annotations

import keyword
import linecache
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from hybridvmm.isa import Instruction
from hybridvmm.isas.riscv.constants import ILLEGAL, MISALIGNED_FETCH, Xlen
from hybridvmm.machine.codecache import Handler
from hybridvmm.machine.traps import TrapSignal

if TYPE_CHECKING:
    from hybridvmm.isas.riscv.machine import RiscvMachine
    from hybridvmm.isas.riscv.mmu import Env

Factory = Callable[["RiscvMachine", Instruction, "Env"], Handler]

XLEN = Xlen(32)
"""The width these tables are compiled for."""


@dataclass(frozen=True)
class Semantic:
    """How to build an instruction's handler; ``system``: needs the exact machine state."""

    factory: Factory
    system: bool = False


SEMANTICS: dict[str, Semantic] = {}
"""Instruction name → semantics (ordering spellings such as ``amoadd.w.aq`` share their base
name's entry: see :func:`semantic_for`).  A machine may be built with overrides."""

ORDERING_SUFFIXES = (".aqrl", ".aq", ".rl")


def base_name(name: str) -> str:
    """``amoadd.w.aqrl`` → ``amoadd.w``: one hart sees no difference between the orderings."""
    for suffix in ORDERING_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def semantic_for(table: dict[str, Semantic], name: str) -> Semantic | None:
    return table.get(name) or table.get(base_name(name))


def semantic(*names: str, system: bool = False) -> Callable[[Factory], Factory]:
    """Register a hand-written factory (system instructions, where a template would not help)."""
    def register(factory: Factory) -> Factory:
        for n in names:
            SEMANTICS[n] = Semantic(factory, system)
        return factory
    return register


def illegal(ins: Instruction) -> TrapSignal:
    """The illegal-instruction trap of ``ins`` (tval = the instruction bits)."""
    return TrapSignal(ILLEGAL, ins.address, ins.address, int.from_bytes(ins.raw, "little"), ins.name)


def misaligned_target(pc: int, name: str, target: int) -> TrapSignal:
    """A taken jump or branch to a target that is not 4-byte aligned (no C extension):
    reported on the jump, tval = the target."""
    return TrapSignal(MISALIGNED_FETCH, pc, pc, 0, name, target)


NAMESPACE: dict[str, Any] = {
    "M": XLEN.mask, "S": XLEN.sign, "SH": XLEN.shamt_mask, "XLEN": XLEN.bits,
    "TrapSignal": TrapSignal, "misaligned_target": misaligned_target,
}
"""What every generated factory sees (helpers such as ``div`` are added by their modules)."""

_OPERAND_NAMES = re.compile(r"\b(a|b)\b")


def substitute(expr: str, names: dict[str, str]) -> str:
    """``expr`` with the operand names ``a``/``b`` replaced (e.g. by ``r[rs1]``)."""
    return _OPERAND_NAMES.sub(lambda mt: names.get(mt.group(1), mt.group(1)), expr)


def generate(name: str, source: str, **extra: Any) -> Factory:
    """Compile the factory ``factory`` defined by ``source`` (its handler named after ``name``)."""
    ident = re.sub(r"\W", "_", name)
    if keyword.iskeyword(ident):
        ident += "_"
    source = source.replace("NAME", ident)
    filename = f"<riscv-semantics:{name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = dict(NAMESPACE, **extra)
    exec(compile(source, filename, "exec"), namespace)
    factory = namespace["factory"]
    factory.__name__ = f"{ident}_factory"
    return factory


def define(table: dict[str, str], template: str, *, system: bool = False, **extra: Any) -> None:
    """Register every ``name: expression`` of ``table`` through ``template`` (which holds
    ``EXPR`` where the expression goes)."""
    for name, expr in table.items():
        SEMANTICS[name] = Semantic(generate(name, template.replace("EXPR", expr), **extra), system)


from hybridvmm.isas.riscv.semantics import a, m, rv32i, system, zicsr  # noqa: E402,F401  (they register)

__all__ = ["Factory", "SEMANTICS", "Semantic", "base_name", "define", "generate", "illegal", "semantic",
           "semantic_for"]
