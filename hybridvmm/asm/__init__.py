"""Spec-driven assembler and disassembler: any ISA in ``isa_specs/`` gets both.

Assembler syntax (the same for every ISA; operand syntax comes from the spec's templates):

- one statement per line; ``#`` or ``;`` starts a comment (not inside quotes);
  ``name:`` labels, several per line allowed, and GNU's numeric local labels (``1:``,
  referred to as ``1b``/``1f``: the nearest one backward/forward; they stay out of the
  image's symbols); mnemonics and directives case-insensitive, symbols case-sensitive;
  register names cannot be symbols.
- operands follow the instruction's asm template with flexible whitespace; registers by
  name or alias, CSRs by name or number, fence sets as letters ``iorw`` (or ``0``);
  immediates and targets are expressions; a PC-relative operand is the absolute target.
  An omitted offset before ``(`` means 0 (``lw a0,(a1)``).  Aliases from the spec expand,
  and so do its value-dependent pseudo-instructions (``li``, ``[system.asm.pseudo]``).
- expressions: decimal, ``0x``, ``0b``, ``0o`` numbers (``_`` separators allowed),
  character literals (``'a'``, ``'\\n'``, ``'\\0'``, ``'\\\\'``, ``'\\''``, ``'\\x41'``),
  symbols, ``.`` (address of the statement), ``+ - * / % << >> & | ^ ~``, unary minus,
  parentheses, C precedence; ``/`` and ``%`` truncate toward zero as in C; relocation
  operators ``%name(expr)`` as the spec defines them (RISC-V ``%hi``, ``%lo``,
  ``%pcrel_hi``, ``%pcrel_lo``).
- directives: ``.isa NAME`` (first), ``.equ NAME, EXPR`` / ``.set`` / ``NAME = EXPR``,
  ``.org EXPR`` (absolute; first in a section sets its address, later it pads forward),
  ``.align N`` (an N-byte boundary, or 2**N where the spec says so, as GNU as on RISC-V),
  ``.balign N`` (N bytes), ``.p2align N`` (2**N), all with an optional fill byte (code
  sections pad with the spec's ``code_fill``), ``.byte``, ``.half/.2byte/.short``,
  ``.word/.4byte/.long``, ``.dword/.8byte/.quad`` lists, ``.ascii/.asciz`` (``.string``)
  strings with C escapes, ``.space N[, FILL]`` (``.skip``, ``.zero``), ``.text``,
  ``.data``, ``.section NAME[, "FLAGS"]`` (GNU letters: ``x`` code, ``w`` writable, ``a``
  accepted), ``.entry EXPR``, ``.global/.globl/.weak/.local NAMES``, ``.type``, ``.size``,
  ``.file``, ``.ident``, ``.attribute`` (no effect), ``.option WORD`` (the words the
  spec lists as harmless) and ``.include "FILE"`` (FILE's lines read in place of the line:
  looked for beside the including file, then in ``asm --include-dir`` directories, then
  among the bundled guests, so ``.include "klib.s"`` finds theirs; an included file may
  start with its own ``.isa`` of the same family; cycles and nesting deeper than 16 are
  errors).
- errors: every error of a source is collected and raised as one ``AsmErrors``, each
  ``file:line: message`` (the file and line where it is, an included file's own).
- layout: ``.text`` starts at the spec's ``system.load_address`` (else 0) unless ``.org``;
  other sections without ``.org`` follow the previous one on a 4-byte boundary (or their
  own ``.align``); entry is ``.entry``, else ``_start``, else ``start``, else ``.text``.
"""

from hybridvmm.asm.assembler import AsmErrors, assemble, assemble_file, uses_directives
from hybridvmm.asm.disassembler import Line, disassemble, format_instruction, render, to_source

__all__ = ["AsmErrors", "Line", "assemble", "assemble_file", "disassemble", "format_instruction", "render", "to_source", "uses_directives"]
