"""hybridvmm: Popek-Goldberg virtualization theory made executable.

ISAs are described declaratively in ``isa_specs/``; from one description come the
decoder/encoder (construct), assembler and disassembler.  Later layers (machine,
scanner, patcher, monitor, classifier) read only that description and per-ISA
semantics modules.
"""

__version__ = "0.1.0"
