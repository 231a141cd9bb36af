"""``run ELF --signature FILE``: the memory a compliance test leaves between two symbols.

As Spike's ``+signature=FILE`` (what riscv-arch-test and RISCOF compare): the words from
the ELF's ``begin_signature`` up to ``end_signature``, one per line as 8 lowercase hex
digits (the little-endian word's value).  Nothing here knows an ISA: the symbols are the
image's, and the words are read through :meth:`Machine.read_physical`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from hybridvmm.cli_support import write_output
from hybridvmm.errors import UserError
from hybridvmm.machine import Machine


def signature_words(machine: Machine, symbols: Mapping[str, int]) -> list[int]:
    """The signature words of the image ``machine`` ran, whose ``symbols`` these are
    (UserError without the two symbols)."""
    begin, end = symbols.get("begin_signature"), symbols.get("end_signature")
    if begin is None or end is None:
        raise UserError("--signature needs an ELF with begin_signature and end_signature symbols")
    if end < begin or (end - begin) % 4:
        raise UserError(f"the signature [0x{begin:x}, 0x{end:x}) is not a whole number of words")
    data = machine.read_physical(begin, end - begin)
    if data is None:
        raise UserError(f"the signature [0x{begin:x}, 0x{end:x}) is not in the machine's memory")
    return [int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4)]


def write_signature(machine: Machine, symbols: Mapping[str, int], path: str | Path) -> None:
    """Write :func:`signature_words` to ``path``, one 8-digit hex word per line."""
    write_output(path, "".join(f"{w:08x}\n" for w in signature_words(machine, symbols)).encode("ascii"))
