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
import builtins
import linecache
import textwrap
from typing import Any, Callable

from hybridvmm.isa import Instruction
from hybridvmm.machine.blocks import Piece

_BUILTINS = frozenset(dir(builtins))
_REFUSED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.Nonlocal, ast.Global, ast.Yield, ast.YieldFrom,
            ast.ClassDef)
_cache: dict[tuple, tuple[ast.Module, frozenset]] = {}
NEVER_STORE = frozenset({"load", "tr", "tw", "fault", "misaligned_target", "TrapSignal", "illegal", "_div", "_rem",
                         "_div32", "_rem32", "int", "get"})
"""Callables a piece may call without storing (anything else it calls may overwrite code)."""


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


class _Rename(ast.NodeTransformer):
    """Free variables: integers become literals, objects bound names; module names bound too."""

    def __init__(self, fn: Callable, k: int):
        code = fn.__code__
        cells = fn.__closure__ or ()
        self.free = {name: cell.cell_contents for name, cell in zip(code.co_freevars, cells)}
        self.globals = fn.__globals__
        self.assigned = set(code.co_varnames)
        self.k = k
        self.names: dict[str, Any] = {}
        self.self_name = code.co_name
        self.ok = True

    def visit_Name(self, node: ast.Name) -> ast.AST:
        name = node.id
        if name in self.free:
            value = self.free[name]
            if isinstance(node.ctx, ast.Load) and type(value) is int:
                return ast.copy_location(ast.Constant(value), node)
            alias = f"{name}_{self.k}"
            self.names[alias] = value
            return ast.copy_location(ast.Name(alias, node.ctx), node)
        if name in self.assigned:
            return node                                   # a local temporary of the body
        if name == self.self_name:
            self.ok = False
            return node
        if name in self.globals:
            alias = f"{name}_{self.k}"
            self.names[alias] = self.globals[name]
            return ast.copy_location(ast.Name(alias, node.ctx), node)
        if name not in _BUILTINS:
            self.ok = False
        return node


def inline_piece(ins: Instruction, handler: Callable[[], int], k: int, memo: dict | None = None) -> Piece | None:
    """``handler``'s body as piece ``k`` of a block (None: call it instead).

    ``memo`` (one per machine) remembers the lines made: a handler with the same code and
    the same integers in its cells, at the same place in a block, gives the same lines with
    its own objects bound to the same names — so a block compiled again (its mapping was
    dropped and made again, as a context switch does), or the same instruction elsewhere,
    costs no parsing."""
    if memo is None:
        return _inline(ins, handler, k)
    code = handler.__code__
    try:
        cells = tuple(c.cell_contents for c in handler.__closure__ or ())
    except ValueError:                               # an empty cell
        return _inline(ins, handler, k)
    key = (code, k, ins.next_address, tuple(v if type(v) is int else None for v in cells))
    hit = memo.get(key)
    if hit is None:
        piece = _inline(ins, handler, k)
        memo[key] = hit = (piece, piece and _sources(handler, piece))
    piece, sources = hit
    if piece is None:
        return None
    free = dict(zip(code.co_freevars, cells))
    g = handler.__globals__
    names = {alias: (free[name] if name in free else g[name]) for alias, name in sources.items()}
    return Piece(piece.lines, names, piece.terminal, piece.branch, piece.writes)


def _sources(handler: Callable, piece: Piece) -> dict[str, str]:
    """Each bound name of ``piece`` → the free variable or global of ``handler`` it binds."""
    return {alias: alias.rsplit("_", 1)[0] for alias in piece.names}


def _inline(ins: Instruction, handler: Callable[[], int], k: int) -> Piece | None:
    tree = _body(handler)
    if tree is None or not tree.body:
        return None
    rename = _Rename(handler, k)
    tree = rename.visit(ast.parse(ast.unparse(tree)))     # a private copy of the cached tree
    if not rename.ok:
        return None
    ast.fix_missing_locations(tree)
    writes = any(isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name)
                 and node.func.id.rsplit("_", 1)[0] in NEVER_STORE | _BUILTINS) for node in ast.walk(tree))
    returns = [node for node in ast.walk(tree) if isinstance(node, ast.Return)]
    last = tree.body[-1]
    nxt = ins.next_address
    sequential = (len(returns) == 1 and last is returns[0] and isinstance(last.value, ast.Constant)
                  and last.value.value == nxt)
    if sequential:
        statements = tree.body[:-1] or [ast.Pass()]
        lines = ast.unparse(ast.Module(statements, [])).splitlines()
        return Piece(lines, rename.names, writes=writes)
    branch = None
    if (len(tree.body) == 1 and isinstance(last, ast.Return) and isinstance(last.value, ast.IfExp)
            and isinstance(last.value.body, ast.Constant) and isinstance(last.value.orelse, ast.Constant)):
        branch = (ast.unparse(last.value.test), last.value.body.value, last.value.orelse.value)
    elif (len(tree.body) == 2 and isinstance(tree.body[0], ast.If) and not tree.body[0].orelse
            and len(tree.body[0].body) == 1 and isinstance(tree.body[0].body[0], ast.Return)
            and isinstance(tree.body[0].body[0].value, ast.Constant) and isinstance(last, ast.Return)
            and isinstance(last.value, ast.Constant)):
        branch = (ast.unparse(tree.body[0].test), tree.body[0].body[0].value.value, last.value.value)
    return Piece(ast.unparse(tree).splitlines(), rename.names, terminal=True, branch=branch, writes=writes)
