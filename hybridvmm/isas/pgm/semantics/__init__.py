"""pgm semantics: one line per instruction, expanded through a handful of format templates.

``factory(m, ins, env)`` returns a closure that performs one decoded instruction instance on
the state object ``m`` (a :class:`~hybridvmm.isas.pgm.machine.PgmMachine`: the bare machine,
a VM's virtual CPU or the classifier's) with storage reached through the mapping ``env``
(:class:`~hybridvmm.isas.pgm.env.PgmEnv`), and returns the next pc.  The mechanism is the one
every family shares (:mod:`hybridvmm.machine.semantics`), so the per-instruction path, the
block compiler and the classifier run the same generated lines.

Each instruction is a row of a table: the statements of its handler, ``;`` between them.  The
names they use: ``r`` the registers, ``F`` the lazy flag cells (:mod:`hybridvmm.isas.pgm.env`),
``ra``/``rb`` register numbers, ``k`` the signed immediate, ``I`` the immediate as a word,
``NOT_I`` its complement, ``N`` it as a shift count, ``code``; ``pc``, ``nxt`` and ``target``
the instruction's address, the next one and its static target; ``M32``, ``NBIT``, ``SP``.
"""

from __future__ import annotations

from hybridvmm.isas.pgm.env import M32, NBIT, SP, set_carry
from hybridvmm.machine.semantics import Semantic, fill, generate, registrar
from hybridvmm.machine.traps import TrapSignal

SEMANTICS: dict[str, Semantic] = {}
"""Instruction name → semantics.  A machine may be built with overrides (a mutated ISA)."""

semantic = registrar(SEMANTICS)
"""``@semantic(*names, system=False)``: register a hand-written factory."""

NAMESPACE = {"M32": M32, "NBIT": NBIT, "SP": SP, "TrapSignal": TrapSignal, "set_carry": set_carry}
"""What every generated factory sees."""

OPERANDS = {
    "N": "",
    "C8": 'code = ops["code"]',
    "R1": 'ra = ops["ra"]',
    "R2": 'ra, rb = ops["ra"], ops["rb"]',
    "I16": 'ra, k = ops["ra"], ops["simm"]; I = k & M32; NOT_I = I ^ M32',
    "RRI": 'ra, rb, k = ops["ra"], ops["rb"], ops["simm"]; I = k & M32; N = I & 31',
    "L32": 'ra, I = ops["ra"], ops["imm32"] & M32',
    "B16": "",
    "J32": "",
}
"""Format → how a factory reads its fields (the targets of B16 and J32 are ``target``)."""

HANDLER = """
def factory(m, ins, env):
    r, F, ops, pc, nxt, target = m.regs, m.flag_cells, ins.operands, ins.address, ins.next_address, ins.target
    OPERANDS

    def NAME():
        BODY
    return NAME
"""
"""The template of an instruction that touches no storage: ``BODY`` is its row."""


def define(name: str, fmt: str, template: str = HANDLER, *, system: bool = False, **parts: str) -> None:
    """Compile ``template`` for the instruction ``name`` of format ``fmt``, with its
    placeholders filled from ``parts`` (statements separated by ``;``) and register it."""
    lines = {key: value.replace("; ", "\n") for key, value in parts.items()}
    source = fill(template, OPERANDS=OPERANDS[fmt].replace("; ", "\n"), **lines)
    SEMANTICS[name] = Semantic(generate(name, source, NAMESPACE, "pgm"), system)


import hybridvmm.isas.pgm.semantics.alu  # noqa: E402,F401  (each module registers its semantics)
import hybridvmm.isas.pgm.semantics.control  # noqa: E402,F401
import hybridvmm.isas.pgm.semantics.storage  # noqa: E402,F401
import hybridvmm.isas.pgm.semantics.system  # noqa: E402,F401
from hybridvmm.isas.pgm.semantics.system import privileged_entry, privileged_guard  # noqa: E402

__all__ = ["HANDLER", "NAMESPACE", "OPERANDS", "SEMANTICS", "Semantic", "define", "privileged_entry",
           "privileged_guard", "semantic"]
