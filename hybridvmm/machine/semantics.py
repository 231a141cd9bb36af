"""Instruction semantics as data, for every ISA family: one :class:`Semantic` per instruction,
and the generator that compiles one-line expressions through format templates into factories.

A *factory* ``factory(m, ins, env)`` returns the handler of one decoded instruction instance:
a closure over its operands, the state object ``m`` and the mapping ``env``, returning the
next pc.  Most instructions are one expression in a table (``"add": "(a + b) & M"``), which
:func:`expand` puts into the template of its format and :func:`generate` compiles once.  The
source is registered with :mod:`linecache`, so tracebacks show it and the block compiler
(:mod:`hybridvmm.machine.inline`) inlines the handler's body: the per-instruction path, the
block compiler and the classifier all run these same lines.

A template keeps that contract: each handler is one ``def`` whose body is the instruction,
with no nested functions, ``nonlocal`` or reference to itself (anything else is called).
"""

from __future__ import annotations

import keyword
import linecache
import re
from dataclasses import dataclass
from typing import Any, Callable

from hybridvmm.isa import Instruction
from hybridvmm.machine.codecache import Handler

Factory = Callable[[Any, Instruction, Any], Handler]
"""``factory(m, ins, env)`` → the handler of ``ins`` on the state ``m`` under the mapping ``env``."""


@dataclass(frozen=True)
class Semantic:
    """How to build an instruction's handler; ``system``: it needs the exact machine state
    (privilege, interrupts, the timer, devices), so it runs off the hot loop.

    ``entry(m, ins, handler)``, for a system instruction, may give a hot-loop entry for an
    instance that does not need the exact state after all (a read of ``sstatus``), or None."""

    factory: Factory
    system: bool = False
    entry: Callable[[Any, Instruction, Handler], Handler | None] | None = None


def registrar(table: dict[str, Semantic]) -> Callable[..., Callable[[Factory], Factory]]:
    """A ``@semantic(*names, system=False)`` decorator that registers a hand-written factory
    (system instructions, where a template would not help) under each name in ``table``."""
    def semantic(*names: str, system: bool = False) -> Callable[[Factory], Factory]:
        def register(factory: Factory) -> Factory:
            for n in names:
                table[n] = Semantic(factory, system)
            return factory
        return register
    return semantic


def substitute(expr: str, names: dict[str, str]) -> str:
    """``expr`` with each whole word that is a key of ``names`` replaced by its value, in one
    pass (``{"a": "r[rs1]"}`` turns the operand ``a`` into a register read)."""
    if not names:
        return expr
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    return pattern.sub(lambda mt: names[mt.group(1)], expr)


def fill(template: str, **parts: str) -> str:
    """``template`` with each placeholder (a whole word such as ``ADDRESS``) replaced by its
    part; a part of several lines put where the placeholder starts a line keeps its
    indentation, and an empty part alone on its line takes the line away."""
    if not parts:
        return template
    for key in [k for k, v in parts.items() if not v]:       # an empty part alone on its line: no line
        template = re.sub(rf"(?m)^[ \t]*{re.escape(key)}[ \t]*\n", "", template)

    def put(mt: re.Match) -> str:
        part = parts[mt.group(1)]
        indent = mt.string[mt.string.rfind("\n", 0, mt.start()) + 1:mt.start()]
        return part.replace("\n", "\n" + indent) if not indent.strip() else part
    return re.sub(r"\b(" + "|".join(map(re.escape, parts)) + r")\b", put, template)


def let(bindings: dict[str, str], body: str) -> str:
    """``body`` with each ``name: value`` of ``bindings`` in force: a value that is a single
    name or number is put in place, any other is computed once into the local first (so
    ``{"a": "r[ra]", "b": "I"}`` gives ``a = r[ra]`` and a body that uses ``I`` itself)."""
    direct = {k: v for k, v in bindings.items() if re.fullmatch(r"\w+", v)}
    computed = [f"{k} = {v}\n" for k, v in bindings.items() if k not in direct]
    return "".join(computed) + substitute(body, direct)


def expand(table: dict[str, str], template: str, placeholder: str = "EXPR") -> dict[str, str]:
    """The source of each ``name: expression`` of ``table`` put into ``template``."""
    return {name: template.replace(placeholder, expr) for name, expr in table.items()}


def generate(name: str, source: str, ns: dict[str, Any], family: str, tag: str = "") -> Factory:
    """Compile the ``factory`` that ``source`` defines (``NAME`` in it names the handler after
    the instruction), seeing ``ns``; registered in :mod:`linecache` as
    ``<family-semantics:name tag>``."""
    ident = re.sub(r"\W", "_", name)
    if keyword.iskeyword(ident):
        ident += "_"
    source = source.replace("NAME", ident)
    filename = f"<{family}-semantics:{name}{tag}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    scope = dict(ns)
    exec(compile(source, filename, "exec"), scope)
    factory = scope["factory"]
    factory.__name__ = f"{ident}_factory"
    return factory


__all__ = ["Factory", "Semantic", "expand", "fill", "generate", "let", "registrar", "substitute"]
