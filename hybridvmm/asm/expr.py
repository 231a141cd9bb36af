"""Assembler expressions: literals, symbols, ``.`` and C operators with C precedence.

Expressions are parsed once (so syntax errors surface in the first pass, on their line)
and evaluated later, when every label has an address.  Evaluation takes a resolver for
symbol names and the value of ``.`` (the current address), so the same parsed expression
serves both passes.

Two GNU forms are parsed here and given meaning by the assembler: relocation operators
``%name(expr)`` (what ``%hi`` and friends compute comes from the ISA spec) and numeric
local labels ``1b``/``1f`` (the nearest ``1:`` backward or forward).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Union

ESCAPES = {
    "n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, "'": 39, '"': 34,
    "a": 7, "b": 8, "f": 12, "v": 11, "e": 27,
}
"""C escapes accepted in character literals and strings (plus ``\\xHH`` and octal)."""

IDENT = r"[A-Za-z_.$][A-Za-z0-9_.$]*"
CHAR_LITERAL = re.compile(r"'(\\x[0-9A-Fa-f]{1,2}|\\[0-7]{1,3}|\\.|[^\\'])'")

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<local>[0-9]+[bBfF])(?![A-Za-z0-9_.$])
      | (?P<num>0[xX][0-9A-Fa-f_]+|0[bB][01_]+|0[oO][0-7_]+|[0-9][0-9_]*)(?P<junk>[A-Za-z0-9_.$]*)
      | (?P<char>'(?:\\x[0-9A-Fa-f]{1,2}|\\[0-7]{1,3}|\\.|[^\\'])')
      | (?P<ident>""" + IDENT + r""")
      | (?P<op><<|>>|[-+*/%&|^~()])
      | (?P<bad>\S)
    )""",
    re.VERBOSE,
)

MAX_TOKENS = 256
MAX_NESTING = 32
MAX_BITS = 512
"""Bounds on one expression (tokens, parentheses and unary operators nested, bits of any
value it computes): far beyond what a program writes, and they keep a hostile line an
error on that line, not a RecursionError or a number of a billion bits."""

# Binary operators by precedence level, lowest first (C order).
_LEVELS: tuple[tuple[str, ...], ...] = (("|",), ("^",), ("&",), ("<<", ">>"), ("+", "-"), ("*", "/", "%"))


class ExprError(Exception):
    """A malformed expression or one that cannot be evaluated (the assembler adds file:line)."""


class UndefinedSymbol(ExprError):
    """A symbol with no value (yet)."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(f"undefined symbol '{name}'")


Node = Union[int, tuple]


def char_value(body: str) -> int:
    """The value of a character literal's body (between the quotes): ``a``, ``\\n``, ``\\x41``."""
    if body.startswith("\\"):
        rest = body[1:]
        if rest[:1] == "x" and len(rest) > 1:
            return int(rest[1:], 16)
        if rest[:1].isdigit() and all(c in "01234567" for c in rest):
            return int(rest, 8)
        if rest in ESCAPES:
            return ESCAPES[rest]
        raise ExprError(f"unknown escape '\\{rest}' in character literal")
    return ord(body)


def _number(text: str) -> int:
    digits = text.replace("_", "")
    if len(digits) > 2 and digits[0] == "0" and digits[1] in "xXbBoO":
        return int(digits, 0)
    return int(digits, 10)


@dataclass(frozen=True)
class Expr:
    """A parsed expression: its source text and tree (ints, symbol names, operator tuples)."""

    text: str
    tree: Node

    @classmethod
    def parse(cls, text: str) -> "Expr":
        return cls(text.strip(), _Parser(text).parse())

    def symbols(self) -> set[str]:
        """Every symbol name the expression mentions (``.`` excluded)."""
        out: set[str] = set()

        def walk(node: Node) -> None:
            if isinstance(node, tuple):
                if node[0] == "sym":
                    out.add(node[1])
                elif node[0] == "reloc":
                    walk(node[2])
                elif node[0] != "local":
                    for child in node[1:]:
                        walk(child)

        walk(self.tree)
        return out

    def relocations(self) -> list[tuple[str, "Expr"]]:
        """The ``%name(arg)`` operators in the expression, outermost first."""
        out: list[tuple[str, Expr]] = []

        def walk(node: Node) -> None:
            if isinstance(node, tuple):
                if node[0] == "reloc":
                    out.append((node[1], Expr(self.text, node[2])))
                    walk(node[2])
                elif node[0] not in ("sym", "local"):
                    for child in node[1:]:
                        walk(child)

        walk(self.tree)
        return out

    def map_locals(self, name_of: Callable[[int, str], str]) -> "Expr":
        """The expression with each local label reference ``Nb``/``Nf`` replaced by the
        symbol ``name_of(N, "b" or "f")``."""

        def walk(node: Node) -> Node:
            if not isinstance(node, tuple):
                return node
            if node[0] == "local":
                return ("sym", name_of(node[1], node[2]))
            if node[0] == "sym":
                return node
            if node[0] == "reloc":
                return ("reloc", node[1], walk(node[2]))
            return (node[0], *(walk(child) for child in node[1:]))

        return Expr(self.text, walk(self.tree))

    def evaluate(self, resolve: Callable[[str], int], dot: Callable[[], int] | int,
                 reloc: Callable[[str, int, Callable[[], int] | int], int] | None = None) -> int:
        """The value, asking ``resolve`` for symbols; ``dot`` is ``.`` (or a function giving
        it); ``reloc(name, argument value, dot)`` computes a ``%name(...)`` operator."""
        return _eval(self.tree, resolve, dot, reloc)


def _eval(node: Node, resolve: Callable[[str], int], dot, reloc=None) -> int:
    value = _compute(node, resolve, dot, reloc)
    if value.bit_length() > MAX_BITS:  # (.equ chains can square a value line after line)
        raise ExprError(f"value of {value.bit_length()} bits is too large (at most {MAX_BITS})")
    return value


def _compute(node: Node, resolve: Callable[[str], int], dot, reloc=None) -> int:
    if isinstance(node, int):
        return node
    op = node[0]
    if op == "sym":
        return resolve(node[1])
    if op == "dot":
        return dot() if callable(dot) else dot
    if op == "local":
        raise ExprError(f"local label {node[1]}{node[2]} cannot be used here")
    if op == "reloc":
        if reloc is None:
            raise ExprError(f"%{node[1]}(...) cannot be used here")
        return reloc(node[1], _eval(node[2], resolve, dot, reloc), dot)
    if op == "neg":
        return -_eval(node[1], resolve, dot, reloc)
    if op == "not":
        return ~_eval(node[1], resolve, dot, reloc)
    a = _eval(node[1], resolve, dot, reloc)
    b = _eval(node[2], resolve, dot, reloc)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op in ("/", "%"):
        if b == 0:
            raise ExprError("division by zero")
        q = abs(a) // abs(b)
        q = q if (a >= 0) == (b >= 0) else -q  # C: truncate toward zero
        return q if op == "/" else a - q * b
    if op == "<<":
        if b < 0 or b > 256:
            raise ExprError(f"shift count {b} out of range")
        return a << b
    if op == ">>":
        if b < 0:
            raise ExprError(f"shift count {b} out of range")
        return a >> b
    if op == "&":
        return a & b
    if op == "|":
        return a | b
    if op == "^":
        return a ^ b
    raise ExprError(f"unknown operator {op}")  # pragma: no cover - the parser makes only these


class _Parser:
    """Recursive descent over the token list, one function per C precedence level."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = self._tokenize(text)
        self.pos = 0
        self.depth = 0
        if len(self.tokens) > MAX_TOKENS:
            raise ExprError(f"expression of {len(self.tokens)} tokens is too long (at most {MAX_TOKENS})")

    def _nest(self) -> None:
        """One level deeper (a parenthesis, a unary operator, a ``%name(``)."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ExprError(f"nested more than {MAX_NESTING} deep")

    def _tokenize(self, text: str) -> list[tuple[str, object]]:
        tokens: list[tuple[str, object]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if m is None:  # pragma: no cover - the pattern ends with a catch-all
                raise ExprError(f"cannot read '{text[pos:].strip()}'")
            pos = m.end()
            if m.group("local") is not None:
                text_ = m.group("local")
                tokens.append(("local", (int(text_[:-1]), text_[-1].lower())))
            elif m.group("num") is not None:
                if m.group("junk"):
                    raise ExprError(f"bad number '{m.group('num')}{m.group('junk')}'")
                try:
                    tokens.append(("num", _number(m.group("num"))))
                except ValueError:
                    raise ExprError(f"bad number '{m.group('num')}'") from None
            elif m.group("char") is not None:
                tokens.append(("num", char_value(m.group("char")[1:-1])))
            elif m.group("ident") is not None:
                name = m.group("ident")
                tokens.append(("dot", None) if name == "." else ("sym", name))
            elif m.group("op") is not None:
                tokens.append(("op", m.group("op")))
            else:
                ch = m.group("bad")
                if ch == "'":
                    raise ExprError("bad character literal (want 'c', '\\n', '\\0', '\\\\' or '\\'')")
                raise ExprError(f"unexpected '{ch}'")
        return tokens

    def peek(self) -> tuple[str, object] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def parse(self) -> Node:
        if not self.tokens:
            raise ExprError("missing expression")
        node = self.binary(0)
        tok = self.peek()
        if tok is not None:
            raise ExprError(f"unexpected '{tok[1] if tok[0] != 'num' else tok[1]}' in '{self.text.strip()}'")
        return node

    def binary(self, level: int) -> Node:
        if level == len(_LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while True:
            tok = self.peek()
            if tok is None or tok[0] != "op" or tok[1] not in _LEVELS[level]:
                return node
            self.pos += 1
            node = (tok[1], node, self.binary(level + 1))

    def unary(self) -> Node:
        tok = self.peek()
        if tok is not None and tok[0] == "op" and tok[1] in ("-", "~", "+"):
            self.pos += 1
            self._nest()
            operand = self.unary()
            self.depth -= 1
            if tok[1] == "+":
                return operand
            if isinstance(operand, int):
                return -operand if tok[1] == "-" else ~operand
            return ("neg" if tok[1] == "-" else "not", operand)
        return self.primary()

    def primary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise ExprError(f"expression '{self.text.strip()}' ends too early")
        self.pos += 1
        kind, value = tok
        if kind == "num":
            return value  # type: ignore[return-value]
        if kind == "sym":
            return ("sym", value)
        if kind == "dot":
            return ("dot",)
        if kind == "local":
            number, direction = value  # type: ignore[misc]
            return ("local", number, direction)
        if value == "%":
            name = self.peek()
            if name is None or name[0] != "sym" or self.tokens[self.pos + 1:self.pos + 2] != [("op", "(")]:
                raise ExprError(f"'%' must be followed by an operator name and '(' in '{self.text.strip()}'")
            self.pos += 2
            self._nest()
            node = self.binary(0)
            self.depth -= 1
            if self.peek() != ("op", ")"):
                raise ExprError(f"missing ')' in '{self.text.strip()}'")
            self.pos += 1
            return ("reloc", name[1], node)
        if value == "(":
            self._nest()
            node = self.binary(0)
            self.depth -= 1
            close = self.peek()
            if close != ("op", ")"):
                raise ExprError(f"missing ')' in '{self.text.strip()}'")
            self.pos += 1
            return node
        raise ExprError(f"unexpected '{value}' in '{self.text.strip()}'")
