"""Lexical helpers shared by the assembler: comments, quoted text, comma lists, and
asm templates turned into matchers.

A template such as ``ld {ra}, {simm}({rb})`` becomes a list of pieces — literal
punctuation (matched with flexible whitespace) and operand slots.  Matching splits the
operand text at top-level (outside parentheses and quotes) occurrences of the following
literal, backtracking over the candidates, so ``(x+4)(r2)`` splits as ``(x+4)`` / ``r2``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hybridvmm.asm.expr import CHAR_LITERAL, ESCAPES, ExprError
from hybridvmm.isa.spec import TEMPLATE_OPERAND



def _skip_quoted(text: str, pos: int) -> int:
    """Index just past the string or character literal starting at ``pos`` (or pos+1)."""
    ch = text[pos]
    if ch == "'":
        m = CHAR_LITERAL.match(text, pos)
        return m.end() if m else pos + 1
    j = pos + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
            continue
        if text[j] == '"':
            return j + 1
        j += 1
    return len(text)


def source_lines(text: str) -> list[str]:
    """The lines of a source as an editor (and GNU as) numbers them: split at LF only (a
    CR before it dropped), not at the form feeds, separators and NELs ``str.splitlines``
    also breaks at, which would put every later error on the wrong line."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def strip_comment(line: str) -> str:
    """The line without a ``#`` or ``;`` comment (those inside quotes do not count)."""
    pos = 0
    while pos < len(line):
        ch = line[pos]
        if ch in "\"'":
            pos = _skip_quoted(line, pos)
            continue
        if ch in "#;":
            return line[:pos]
        pos += 1
    return line


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside parentheses and quotes; items are stripped."""
    parts: list[str] = []
    depth = 0
    start = pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch in "\"'":
            pos = _skip_quoted(text, pos)
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:pos].strip())
            start = pos + 1
        pos += 1
    parts.append(text[start:].strip())
    return parts


def parse_string(text: str) -> bytes:
    """A double-quoted string with C escapes to bytes (UTF-8 for non-ASCII characters)."""
    text = text.strip()
    if len(text) < 2 or text[0] != '"' or text[-1] != '"' or _skip_quoted(text, 0) != len(text):
        if text.startswith('"') and _skip_quoted(text, 0) >= len(text) and not text.endswith('"'):
            raise ExprError(f"unterminated string {text}")
        raise ExprError(f"expected a double-quoted string, got {text or 'nothing'}")
    body = text[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out += ch.encode("utf-8")
            i += 1
            continue
        if i + 1 >= len(body):
            raise ExprError("string ends in a lone backslash")
        nxt = body[i + 1]
        if nxt == "x":
            m = re.match(r"[0-9A-Fa-f]{1,2}", body[i + 2:])
            if not m:
                raise ExprError("\\x needs hex digits")
            out.append(int(m.group(0), 16))
            i += 2 + m.end()
        elif nxt in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1:])
            assert m is not None
            value = int(m.group(0), 8)
            if value > 255:
                raise ExprError(f"octal escape \\{m.group(0)} is more than a byte")
            out.append(value)
            i += 1 + m.end()
        elif nxt in ESCAPES:
            out.append(ESCAPES[nxt])
            i += 2
        else:
            raise ExprError(f"unknown escape '\\{nxt}' in string")
    return bytes(out)


@dataclass(frozen=True)
class Template:
    """An asm template compiled for matching: mnemonic plus literal/operand pieces."""

    mnemonic: str
    pieces: tuple[tuple[str, str], ...]  # ("lit", chars) | ("op", name) | ("ws", "")
    text: str

    @classmethod
    def compile(cls, asm: str) -> "Template":
        asm = " ".join(asm.split())
        mnemonic, _, rest = asm.partition(" ")
        pieces: list[tuple[str, str]] = []
        pos = 0
        for m in TEMPLATE_OPERAND.finditer(rest):
            lit = "".join(rest[pos:m.start()].split())
            if lit:
                pieces.append(("lit", lit))
            elif pieces and pieces[-1][0] == "op":
                pieces.append(("ws", ""))
            pieces.append(("op", m.group(1)))
            pos = m.end()
        lit = "".join(rest[pos:].split())
        if lit:
            pieces.append(("lit", lit))
        return cls(mnemonic.lower(), tuple(pieces), asm)

    @property
    def operands(self) -> list[str]:
        return [v for k, v in self.pieces if k == "op"]

    def display(self) -> str:
        """The template as users read it: ``addi <rd>,<rs1>,<imm_i>``."""
        return TEMPLATE_OPERAND.sub(lambda m: f"<{m.group(1)}>", self.text)

    def match(self, text: str) -> dict[str, str] | None:
        """Operand texts by name when ``text`` (after the mnemonic) fits, else None."""
        out: dict[str, str] = {}
        return out if _match(self.pieces, 0, text, 0, out) else None


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _match_lit(text: str, pos: int, lit: str) -> int | None:
    for i, c in enumerate(lit):
        if i:
            pos = _skip_ws(text, pos)
        if pos < len(text) and text[pos].lower() == c.lower():
            pos += 1
        else:
            return None
    return pos


def _candidates(text: str, pos: int, piece: tuple[str, str]):
    """Positions after ``pos`` at paren depth 0, outside quotes, where ``piece`` can start."""
    depth = 0
    j = pos
    while j < len(text):
        ch = text[j]
        if depth == 0 and j > pos:
            if piece[0] == "lit" and _match_lit(text, j, piece[1]) is not None:
                yield j
            elif piece[0] == "ws" and ch.isspace():
                yield j
        if ch in "\"'":
            j = _skip_quoted(text, j)
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return
        j += 1


def _match(pieces, i: int, text: str, pos: int, out: dict[str, str]) -> bool:
    pos = _skip_ws(text, pos)
    if i == len(pieces):
        return pos == len(text)
    kind, value = pieces[i]
    if kind == "lit":
        end = _match_lit(text, pos, value)
        return end is not None and _match(pieces, i + 1, text, end, out)
    if kind == "ws":
        return _match(pieces, i + 1, text, pos, out)
    if i + 1 == len(pieces):
        operand = text[pos:].strip()
        if not operand:
            return False
        out[value] = operand
        return True
    for end in _candidates(text, pos, pieces[i + 1]):
        operand = text[pos:end].strip()
        if operand:
            out[value] = operand
            if _match(pieces, i + 1, text, end, out):
                return True
    nxt = pieces[i + 1]
    if nxt[0] == "lit" and nxt[1].startswith("("):
        # an omitted offset before a parenthesis, as in "lw a0,(a1)": the caller decides
        # whether the operand may be empty (an immediate: yes, meaning 0)
        out[value] = ""
        if _match(pieces, i + 1, text, pos, out):
            return True
    out.pop(value, None)
    return False
