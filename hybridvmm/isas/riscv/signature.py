"""``run ELF --signature FILE``: the memory a compliance test leaves between two symbols.

As Spike's ``+signature=FILE`` (what riscv-arch-test and RISCOF compare): the words from
the ELF's ``begin_signature`` up to ``end_signature``, one per line as 8 lowercase hex
digits (the little-endian word's value).
"""

from __future__ import annotations

from pathlib import Path

from hybridvmm.cli_support import write_output
from hybridvmm.errors import UserError
from hybridvmm.machine import Machine


def signature_words(machine: Machine) -> list[int]:
    """The signature words of the image ``machine`` ran (UserError without the symbols)."""
    symbols = getattr(machine, "symbols", {}) or {}
    begin, end = symbols.get("begin_signature"), symbols.get("end_signature")
    if begin is None or end is None:
        raise UserError("--signature needs an ELF with begin_signature and end_signature symbols")
    if end < begin or (end - begin) % 4:
        raise UserError(f"the signature [0x{begin:x}, 0x{end:x}) is not a whole number of words")
    read = getattr(machine, "read_physical", None)
    data = read(begin, end - begin) if read is not None else None
    if data is None:
        raise UserError(f"the signature [0x{begin:x}, 0x{end:x}) is not in the machine's memory")
    return [int.from_bytes(data[i:i + 4], "little") for i in range(0, len(data), 4)]


def write_signature(machine: Machine, path: str | Path) -> None:
    """Write :func:`signature_words` to ``path``, one 8-digit hex word per line."""
    write_output(path, "".join(f"{w:08x}\n" for w in signature_words(machine)).encode("ascii"))
