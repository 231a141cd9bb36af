"""Inlining an instruction's handler into a compiled block: its own source, operands as literals.

Every instruction's handler is a small closure made by its semantics' factory: its free
variables hold what the factory baked in (register numbers, immediates, the next pc, the
storage views and slow paths of its mapping) and its body is the instruction's meaning.  The
block compiler needs exactly that body with those values in place, so this module reads the
handler's source (generated semantics register theirs with :mod:`linecache`; hand-written
ones are in their module's file), replaces each free variable that holds an integer by the
integer itself and binds every other name it uses (the register file, a view, a slow path, a
constant of its module) once per block under a name of its own, and decides whether the
instruction falls through (its only ``return`` is its last statement, returning the next pc)
or ends the block.  So there is one semantics: the per-instruction path, the block compiler
and the classifier all run the same lines.

A handler this cannot read faithfully — no source, nested functions, ``nonlocal``, a
reference to itself — is not inlined; the block calls it instead.
"""

from __future__ import annotations

import ast
import copy
import linecache
import textwrap
from dataclasses import dataclass
from typing import Any, Callable

from hybridvmm.isa import Instruction
from hybridvmm.machine.blocks import BUILTIN_NAMES as _BUILTINS, NOT_STORING, Piece, callable_name

_REFUSED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.Nonlocal, ast.Global, ast.Yield, ast.YieldFrom,
            ast.ClassDef)
_cache: dict[tuple, tuple[ast.Module, frozenset]] = {}


def _body(fn: Callable) -> ast.Module | None:
    """The parsed body of ``fn``'s definition (cached per code object), or None."""
    code = fn.__code__
    key = (code.co_filename, code.co_firstlineno, code.co_name)
    hit = _cache.get(key)
    if hit is not None:
        return hit[0]
    lines = linecache.getlines(code.co_filename)
    if not lines or code.co_firstlineno > len(lines):
        return None
    first = code.co_firstlineno - 1
    head = lines[first]
    indent = len(head) - len(head.lstrip())
    if not head.lstrip().startswith("def "):
        return None
    body = []
    for line in lines[first + 1:]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        body.append(line)
    try:
        tree = ast.parse(textwrap.dedent("".join(body)))
    except SyntaxError:
        return None
    if any(isinstance(node, _REFUSED) for node in ast.walk(tree)):
        tree = None
    _cache[key] = (tree, frozenset())
    return tree


INT, SUFFIX = "\x01", "\x03"
"""Markers in a template's text: ``\x01name\x02`` an integer free variable's value, ``\x03``
the piece's number (the suffix of its bound names)."""


class _Rename(ast.NodeTransformer):
    """Free variables: integers become markers for their values, objects bound names; module
    names bound too (the suffix a marker for the piece's number)."""

    def __init__(self, fn: Callable, ints: frozenset[str]):
        code = fn.__code__
        self.free = set(code.co_freevars)
        self.ints = ints
        self.globals = fn.__globals__
        self.assigned = set(code.co_varnames)
        self.aliases: dict[str, str] = {}
        self.self_name = code.co_name
        self.ok = True

    def visit_Name(self, node: ast.Name) -> ast.AST:
        name = node.id
        if name in self.free:
            if isinstance(node.ctx, ast.Load) and name in self.ints:
                return ast.copy_location(ast.Name(f"{INT}{name}\x02", node.ctx), node)
            return self._alias(name, node)
        if name in self.assigned:
            return node                                   # a local temporary of the body
        if name == self.self_name:
            self.ok = False
            return node
        if name in self.globals:
            return self._alias(name, node)
        if name not in _BUILTINS:
            self.ok = False
        return node

    def _alias(self, name: str, node: ast.Name) -> ast.AST:
        alias = f"{name}_{SUFFIX}"
        self.aliases[alias] = name
        return ast.copy_location(ast.Name(alias, node.ctx), node)


@dataclass(frozen=True)
class _Template:
    """A handler's body made once per code object (and which of its cells hold integers):
    its text with markers, and its shape."""

    lines: list[str]
    sequential_lines: list[str] | None
    """The body without its final ``return`` (when that is its only one)."""
    returns: Any
    """What that final ``return`` returns: an int, the name of an int cell, or None."""
    branch: tuple[str, Any, Any] | None
    writes: bool
    aliases: dict[str, str]


def _value(node: ast.AST) -> Any:
    """A constant int, the name of an int cell (a marker), or None."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.Name) and node.id.startswith(INT):
        return node.id[1:-1]
    return None


def _make_template(handler: Callable, ints: frozenset[str]) -> _Template | None:
    tree = _body(handler)
    if tree is None or not tree.body:
        return None
    rename = _Rename(handler, ints)
    tree = rename.visit(copy.deepcopy(tree))
    if not rename.ok:
        return None
    ast.fix_missing_locations(tree)
    writes = any(isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name)
                 and callable_name(node.func.id) in NOT_STORING) for node in ast.walk(tree))
    returns = [node for node in ast.walk(tree) if isinstance(node, ast.Return)]
    last = tree.body[-1]
    single = len(returns) == 1 and last is returns[0] and last.value is not None
    sequential_lines = None
    if single:
        statements = tree.body[:-1] or [ast.Pass()]
        sequential_lines = ast.unparse(ast.Module(statements, [])).splitlines()
    branch = None
    if (len(tree.body) == 1 and isinstance(last, ast.Return) and isinstance(last.value, ast.IfExp)
            and _value(last.value.body) is not None and _value(last.value.orelse) is not None):
        branch = (ast.unparse(last.value.test), _value(last.value.body), _value(last.value.orelse))
    elif (len(tree.body) == 2 and isinstance(tree.body[0], ast.If) and not tree.body[0].orelse
            and len(tree.body[0].body) == 1 and isinstance(tree.body[0].body[0], ast.Return)
            and tree.body[0].body[0].value is not None and _value(tree.body[0].body[0].value) is not None
            and isinstance(last, ast.Return) and last.value is not None and _value(last.value) is not None):
        branch = (ast.unparse(tree.body[0].test), _value(tree.body[0].body[0].value), _value(last.value))
    return _Template(ast.unparse(tree).splitlines(), sequential_lines,
                     _value(last.value) if single else None, branch, writes, dict(rename.aliases))


_templates: dict[tuple, _Template | None] = {}


def inline_piece(ins: Instruction, handler: Callable[[], int], k: int) -> Piece | None:
    """``handler``'s body as piece ``k`` of a block (None: call it instead).

    The body is parsed and analysed once per handler code (and which of its cells hold
    integers): a template whose markers are filled with this instruction's integers and
    piece number, its other cells and module names bound under names of the piece's own —
    so compiling a block costs string work, not parsing."""
    code = handler.__code__
    try:
        cells = tuple(c.cell_contents for c in handler.__closure__ or ())
    except ValueError:                               # an empty cell
        return None
    free = dict(zip(code.co_freevars, cells))
    ints = frozenset(name for name, v in free.items() if type(v) is int)
    key = (code, ints)
    try:
        t = _templates[key]
    except KeyError:
        t = _templates[key] = _make_template(handler, ints)
    if t is None:
        return None
    g = handler.__globals__
    suffix = str(k)
    names = {alias.replace(SUFFIX, suffix): (free[name] if name in free else g[name]) for alias, name in t.aliases.items()}
    markers = [(f"{INT}{name}\x02", f"({v})" if v < 0 else str(v)) for name, v in free.items() if name in ints]

    def fill(line: str) -> str:
        for marker, text in markers:
            if marker in line:
                line = line.replace(marker, text)
        return line.replace(SUFFIX, suffix)

    def value(v: Any) -> int | None:
        return free[v] if isinstance(v, str) else v

    if t.sequential_lines is not None and value(t.returns) == ins.next_address:
        return Piece([fill(line) for line in t.sequential_lines], names, writes=t.writes)
    branch = (fill(t.branch[0]), value(t.branch[1]), value(t.branch[2])) if t.branch else None
    return Piece([fill(line) for line in t.lines], names, terminal=True, branch=branch, writes=t.writes)
