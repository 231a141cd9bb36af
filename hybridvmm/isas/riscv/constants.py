"""RISC-V privileged-architecture numbers shared by the machine, its CSR file, MMU and semantics.

Names follow the privileged specification (and spike's ``encoding.h``); values are for the
fields as they sit in RV32 registers.  Nothing here knows about the code cache or devices.
"""

from __future__ import annotations

from dataclasses import dataclass

USER, SUPERVISOR, MACHINE = 0, 1, 3
"""Privilege levels (``Machine.priv``); 2 is the reserved/hypervisor level and never used."""

MODE_NAMES = {MACHINE: "machine", SUPERVISOR: "supervisor", USER: "user"}

RAM_BASE = 0x8000_0000
"""QEMU ``virt``'s DRAM base: storage byte 0 is this physical address."""


@dataclass(frozen=True)
class Xlen:
    """The register width the semantics are specialised for (RV32 today; RV64 is a setting)."""

    bits: int

    @property
    def mask(self) -> int:
        return (1 << self.bits) - 1

    @property
    def sign(self) -> int:
        return 1 << (self.bits - 1)

    @property
    def shamt_mask(self) -> int:
        return self.bits - 1


# --- exception causes (mcause with the interrupt bit clear) ------------------------------------
MISALIGNED_FETCH = 0
FETCH_ACCESS = 1
ILLEGAL = 2
BREAKPOINT = 3
MISALIGNED_LOAD = 4
LOAD_ACCESS = 5
MISALIGNED_STORE = 6
STORE_ACCESS = 7
ECALL_U = 8
ECALL_S = 9
ECALL_M = 11
FETCH_PAGE = 12
LOAD_PAGE = 13
STORE_PAGE = 15

EXCEPTION_NAMES = {
    MISALIGNED_FETCH: "misaligned-fetch", FETCH_ACCESS: "fetch-access", ILLEGAL: "illegal",
    BREAKPOINT: "breakpoint", MISALIGNED_LOAD: "misaligned-load", LOAD_ACCESS: "load-access",
    MISALIGNED_STORE: "misaligned-store", STORE_ACCESS: "store-access", ECALL_U: "ecall-u",
    ECALL_S: "ecall-s", ECALL_M: "ecall-m", FETCH_PAGE: "fetch-page-fault",
    LOAD_PAGE: "load-page-fault", STORE_PAGE: "store-page-fault",
}

# --- interrupts (mcause = INTERRUPT | code; the same bit numbers in mip/mie) ------------------
SSI, MSI, STI, MTI, SEI, MEI = 1, 3, 5, 7, 9, 11
INTERRUPT_NAMES = {SSI: "s-software", MSI: "m-software", STI: "s-timer", MTI: "m-timer",
                   SEI: "s-external", MEI: "m-external"}
INTERRUPT_PRIORITY = (MEI, MSI, MTI, SEI, SSI, STI)
"""The order the privileged spec takes simultaneous interrupts in (highest first)."""
TIMER_INTERRUPTS = frozenset({MTI, STI})

# --- mstatus fields -------------------------------------------------------------------------------
SIE, MIE = 1 << 1, 1 << 3
SPIE, MPIE = 1 << 5, 1 << 7
SPP = 1 << 8
MPP_SHIFT = 11
MPP = 3 << MPP_SHIFT
MPRV = 1 << 17
SUM = 1 << 18
MXR = 1 << 19
TVM = 1 << 20
TW = 1 << 21
TSR = 1 << 22

MSTATUS_WRITABLE = SIE | MIE | SPIE | MPIE | SPP | MPP | MPRV | SUM | MXR | TVM | TW | TSR
"""mstatus bits this machine implements (FS, VS, XS and SD are read-only zero: no F or V)."""
SSTATUS_VIEW = SIE | SPIE | SPP | SUM | MXR
"""The mstatus bits sstatus shows and writes (UBE, FS, VS, XS, SD read zero here)."""

# --- satp (Sv32 on RV32; Sv39 on RV64, see Satp) -----------------------------------------------------
SATP_ASID = 0x1FF << 22
SATP_PPN = (1 << 22) - 1


@dataclass(frozen=True)
class Satp:
    """satp's fields for one XLEN: RV32 has a 1-bit MODE (1 = Sv32), a 9-bit ASID and a 22-bit
    PPN; RV64 a 4-bit MODE (8 = Sv39; Sv48/57 are not implemented, so WARL refuses them),
    a 16-bit ASID and a 44-bit PPN."""

    mode_shift: int
    mode_bits: int
    asid_mask: int
    ppn_mask: int
    paged_mode: int
    """The MODE value of the one paged regime implemented."""

    def mode(self, satp: int) -> int:
        return satp >> self.mode_shift & ((1 << self.mode_bits) - 1)

    def root(self, satp: int) -> int:
        """The physical address of the root page table."""
        return (satp & self.ppn_mask) << 12

    @property
    def writable(self) -> int:
        return ((1 << self.mode_bits) - 1) << self.mode_shift | self.asid_mask | self.ppn_mask


SATP32 = Satp(31, 1, SATP_ASID, SATP_PPN, 1)
SATP64 = Satp(60, 4, 0xFFFF << 44, (1 << 44) - 1, 8)
UXL_SXL_64 = 2 << 32 | 2 << 34
"""mstatus.UXL and SXL on RV64: read-only 2 (U and S are 64-bit too)."""

# --- Sv32 page-table entries -----------------------------------------------------------------------
PTE_V, PTE_R, PTE_W, PTE_X, PTE_U, PTE_G, PTE_A, PTE_D = (1 << i for i in range(8))
PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT

# --- misa --------------------------------------------------------------------------------------------
def misa_value(xlen: Xlen, extensions: str = "AIMSU") -> int:
    """misa for an implementation with these single-letter extensions."""
    mxl = {32: 1, 64: 2}[xlen.bits]
    value = mxl << (xlen.bits - 2)
    for letter in extensions:
        value |= 1 << (ord(letter) - ord("A"))
    return value
