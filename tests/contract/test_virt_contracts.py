"""Both families pass the monitor's contract (``virt_contract.VirtContract``)."""

from __future__ import annotations

from virt_contract import VirtContract


class TestPgmVirtContract(VirtContract):
    ISA = "pgm-x86"
    GUESTS = ("redpill", "stopwatch", "syscalls")


class TestPgmVirtVariantContract(VirtContract):
    ISA = "pgm-virt"
    GUESTS = ("minios",)


class TestRv32VirtContract(VirtContract):
    ISA = "rv32"
    GUESTS = ("rvminios", "rvcounters", "rvloop")
