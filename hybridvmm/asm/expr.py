"""Assembler expressions: literals, symbols, ``.`` and C operators with C precedence.

Expressions are parsed once (so syntax errors surface in the first pass, on their line)
and evaluated later, when every label has an address.  Evaluation takes a resolver for
symbol names and the value of ``.`` (the current address), so the same parsed expression
serves both passes.
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
        (?P<num>0[xX][0-9A-Fa-f_]+|0[bB][01_]+|0[oO][0-7_]+|[0-9][0-9_]*)(?P<junk>[A-Za-z0-9_.$]*)
      | (?P<char>'(?:\\x[0-9A-Fa-f]{1,2}|\\[0-7]{1,3}|\\.|[^\\'])')
      | (?P<ident>""" + IDENT + r""")
      | (?P<op><<|>>|[-+*/%&|^~()])
      | (?P<bad>\S)
    )""",
    re.VERBOSE,
)

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
                else:
                    for child in node[1:]:
                        walk(child)

        walk(self.tree)
        return out

    def evaluate(self, resolve: Callable[[str], int], dot: Callable[[], int] | int) -> int:
        """The value, asking ``resolve`` for symbols; ``dot`` is ``.`` (or a function giving it)."""
        return _eval(self.tree, resolve, dot)


def _eval(node: Node, resolve: Callable[[str], int], dot) -> int:
    if isinstance(node, int):
        return node
    op = node[0]
    if op == "sym":
        return resolve(node[1])
    if op == "dot":
        return dot() if callable(dot) else dot
    if op == "neg":
        return -_eval(node[1], resolve, dot)
    if op == "not":
        return ~_eval(node[1], resolve, dot)
    a = _eval(node[1], resolve, dot)
    b = _eval(node[2], resolve, dot)
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
            if m.group("num") is not None:
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
            operand = self.unary()
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
        if value == "(":
            node = self.binary(0)
            close = self.peek()
            if close != ("op", ")"):
                raise ExprError(f"missing ')' in '{self.text.strip()}'")
            self.pos += 1
            return node
        raise ExprError(f"unexpected '{value}' in '{self.text.strip()}'")
