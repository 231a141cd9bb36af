"""Spec-driven assembler and disassembler: any ISA in ``isa_specs/`` gets both.

Assembler syntax (the same for every ISA; operand syntax comes from the spec's templates):

- one statement per line; ``#`` or ``;`` starts a comment (not inside quotes);
  ``name:`` labels, several per line allowed; mnemonics and directives case-insensitive,
  symbols case-sensitive; register names cannot be symbols.
- operands follow the instruction's asm template with flexible whitespace; registers by
  name or alias, CSRs by name or number, fence sets as letters ``iorw`` (or ``0``);
  immediates and targets are expressions; a PC-relative operand is the absolute target.
  An omitted offset before ``(`` means 0 (``lw a0,(a1)``).  Aliases from the spec expand.
- expressions: decimal, ``0x``, ``0b``, ``0o`` numbers (``_`` separators allowed),
  character literals (``'a'``, ``'\\n'``, ``'\\0'``, ``'\\\\'``, ``'\\''``, ``'\\x41'``),
  symbols, ``.`` (address of the statement), ``+ - * / % << >> & | ^ ~``, unary minus,
  parentheses, C precedence; ``/`` and ``%`` truncate toward zero as in C.
- directives: ``.isa NAME`` (first), ``.equ NAME, EXPR`` / ``.set`` / ``NAME = EXPR``,
  ``.org EXPR`` (absolute; first in a section sets its address, later it pads forward),
  ``.align N`` / ``.balign N`` (N-byte boundary), ``.p2align N`` (2**N), both with an
  optional fill byte, ``.byte/.half/.word`` lists, ``.ascii/.asciz`` (``.string``) strings
  with C escapes, ``.space N[, FILL]`` (``.skip``), ``.text``, ``.data``,
  ``.section NAME[, "FLAGS"]`` (GNU letters: ``x`` code, ``w`` writable, ``a`` accepted), ``.entry EXPR``, ``.global/.globl NAMES`` (no effect).
- layout: ``.text`` starts at the spec's ``system.load_address`` (else 0) unless ``.org``;
  other sections without ``.org`` follow the previous one on a 4-byte boundary (or their
  own ``.align``); entry is ``.entry``, else ``_start``, else ``start``, else ``.text``.
"""

from hybridvmm.asm.assembler import assemble, assemble_file
from hybridvmm.asm.disassembler import Line, disassemble, format_instruction, render, to_source

__all__ = ["Line", "assemble", "assemble_file", "disassemble", "format_instruction", "render", "to_source"]
