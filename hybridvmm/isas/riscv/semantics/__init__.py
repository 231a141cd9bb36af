"""RISC-V semantics, written once as handler factories: one line per instruction, expanded by a mechanism.

``factory(m, ins, env)`` returns a closure performing one decoded instruction instance on
the hart ``m`` (a :class:`~hybridvmm.isas.riscv.machine.RiscvMachine`: ``m.x``, ``m.priv``,
``m.csr`` …) with data accesses through ``env`` (:class:`~hybridvmm.isas.riscv.mmu.Env`), and
returning the next pc.  Register numbers, immediates, targets and the mapping are baked in.

Most instructions are one expression in a table (``"add": "(a + b) & M"``, as spike's
``riscv/insns/*.h`` are one line each); the mechanism every family shares
(:mod:`hybridvmm.machine.semantics`) substitutes it into the template of its format and
compiles one factory per instruction and XLEN (the source is registered with
:mod:`linecache`, so tracebacks show it).  What is RISC-V's own stays here: the XLEN
namespace, the definitions per XLEN, the bare/paged choice and the ordering suffixes.  Names in expressions: ``a``/``b``
are ``rs1``/``rs2`` (for AMOs ``a`` is the word in memory), ``i`` the signed immediate, ``I``
its unsigned value, ``M``/``S``/``SH`` the XLEN mask, sign bit and shift mask.

``system=True`` marks instructions that need the exact machine state (CSR accesses, xRET,
``wfi``, ``sfence.vma``, ``fence.i``): they leave the hot loop, and check privilege inside
the semantics, raising :class:`~hybridvmm.machine.traps.TrapSignal` as spike's
``require_privilege`` does.  The same factories serve the bare machine, a monitor's virtual
hart and the classifier.
"""

from __future__ import annotations

from typing import Any, Callable

from hybridvmm.isa import Instruction
from hybridvmm.isas.riscv.constants import ILLEGAL, MISALIGNED_FETCH, Xlen
from hybridvmm.machine.semantics import Factory, Semantic, expand, generate, registrar, substitute
from hybridvmm.machine.traps import TrapSignal

HANDWRITTEN: dict[str, Semantic] = {}
"""Factories written by hand (system instructions, CSR access, LR/SC): XLEN-independent."""

DEFINITIONS: list[tuple[str, tuple[str, ...], bool, tuple[int, ...]]] = []
"""(name, template sources, system, XLENs) of every generated factory: compiled for each of
its XLENs.  With two sources the first serves bare contexts and the second paged ones.  A
later definition of a name for an XLEN replaces an earlier one (RV64's ``lw`` sign-extends
where RV32's need not)."""

ALL_XLENS = (32, 64)

HELPERS: list[Callable[[Xlen], dict[str, Any]]] = []
"""Builders of the helper functions generated code calls (``_div`` …), per XLEN."""

ORDERING_SUFFIXES = (".aqrl", ".aq", ".rl")


def base_name(name: str) -> str:
    """``amoadd.w.aqrl`` → ``amoadd.w``: one hart sees no difference between the orderings."""
    for suffix in ORDERING_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def semantic_for(table: dict[str, Semantic], name: str) -> Semantic | None:
    return table.get(name) or table.get(base_name(name))


semantic = registrar(HANDWRITTEN)
"""``@semantic(*names, system=False)``: register a hand-written factory (XLEN-independent)."""


def illegal(ins: Instruction) -> TrapSignal:
    """The illegal-instruction trap of ``ins`` (tval = the instruction bits)."""
    return TrapSignal(ILLEGAL, ins.address, ins.address, int.from_bytes(ins.raw, "little"), ins.name)


def misaligned_target(pc: int, name: str, target: int) -> TrapSignal:
    """A taken jump or branch to a target that is not 4-byte aligned (no C extension):
    reported on the jump, tval = the target."""
    return TrapSignal(MISALIGNED_FETCH, pc, pc, 0, name, target)


def namespace(xlen: Xlen) -> dict[str, Any]:
    """What every generated factory for ``xlen`` sees."""
    ns: dict[str, Any] = {"M": xlen.mask, "S": xlen.sign, "SH": xlen.shamt_mask, "XLEN": xlen.bits,
                          "TrapSignal": TrapSignal, "misaligned_target": misaligned_target}
    for build in HELPERS:
        ns.update(build(xlen))
    return ns


def define(table: dict[str, str], template: str, *, system: bool = False, xlens: tuple[int, ...] = ALL_XLENS) -> None:
    """Define every ``name: expression`` of ``table`` through ``template`` (which holds
    ``EXPR`` where the expression goes), for harts of the given XLENs."""
    for name, source in expand(table, template).items():
        DEFINITIONS.append((name, (source,), system, xlens))


def define_per_mapping(name: str, bare: str, paged: str, xlens: tuple[int, ...] = ALL_XLENS) -> None:
    """Define one instruction with a bare and a paged specialisation, picked per context."""
    DEFINITIONS.append((name, (bare, paged), False, xlens))


def _per_mapping(name: str, bare: Factory, paged: Factory) -> Factory:
    def factory(m, ins, env):
        return (paged if env.paged else bare)(m, ins, env)
    factory.__name__ = f"{name}_factory"
    return factory


_COMPILED: dict[int, dict[str, Semantic]] = {}


def semantics_for(xlen: Xlen) -> dict[str, Semantic]:
    """Instruction name → semantics for harts of width ``xlen`` (compiled once per width)."""
    table = _COMPILED.get(xlen.bits)
    if table is None:
        ns = namespace(xlen)
        table = dict(HANDWRITTEN)
        for name, sources, system, xlens in DEFINITIONS:
            if xlen.bits not in xlens:
                continue
            tag = f"/rv{xlen.bits}"
            if len(sources) == 1:
                table[name] = Semantic(generate(name, sources[0], ns, "riscv", tag), system)
            else:
                bare, paged = (generate(name, src, ns, "riscv", f"{tag}/{kind}")
                               for src, kind in zip(sources, ("bare", "paged")))
                table[name] = Semantic(_per_mapping(name, bare, paged), system)
        _COMPILED[xlen.bits] = table
    return table


import hybridvmm.isas.riscv.semantics.a  # noqa: E402,F401  (each module registers its semantics)
import hybridvmm.isas.riscv.semantics.m  # noqa: E402,F401
import hybridvmm.isas.riscv.semantics.rv32i  # noqa: E402,F401
import hybridvmm.isas.riscv.semantics.rv64  # noqa: E402,F401  (after rv32i: it replaces a few for XLEN 64)
import hybridvmm.isas.riscv.semantics.system  # noqa: E402,F401
import hybridvmm.isas.riscv.semantics.zicsr  # noqa: E402,F401

SEMANTICS: dict[str, Semantic] = semantics_for(Xlen(32))
"""The RV32 table (a machine may be built with overrides: a mutated ISA for the classifier)."""

__all__ = ["Factory", "HANDWRITTEN", "SEMANTICS", "Semantic", "base_name", "define", "define_per_mapping",
           "generate", "illegal", "semantic", "semantic_for", "semantics_for"]
