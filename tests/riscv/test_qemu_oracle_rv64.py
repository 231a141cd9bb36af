"""Sv39 walks against QEMU (``qemu-system-riscv64 -machine virt -bios none``), as
test_qemu_oracle.py does for RV32's privileged behaviour: a guest assembled here sets up Sv39
tables with 4 KiB pages, 2 MiB and 1 GiB superpages and faulting entries, makes loads,
stores, an AMO and instruction fetches from S and U (with and without SUM and MXR), and its
M-mode trap handler records (mcause, mtval, the register the access loaded) for each; then
it dumps the PTEs whose A/D bits the walks set and the data words the stores wrote, prints
every doubleword on the UART and ends through the test finisher.  Both machines must print
the same words, up to the documented differences below.  Skipped where QEMU is absent.

Documented differences:

* ``ebreak``'s mtval: QEMU 7.2 writes 0, this machine the address (either is allowed); the
  guest records 0.
* A PTE outside RAM: the spec raises an access fault (the PTE access violates a PMA), as
  this machine does; QEMU 7.2 raises a page fault (:data:`PTE_OUTSIDE_RAM`).
* A pointer PTE with A set: QEMU faults, as the spec says; this machine translates, a bug
  (:data:`NON_LEAF_A`).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from hybridvmm.asm import assemble
from hybridvmm.isas import build_machine
from hybridvmm.isas.riscv.constants import PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X

QEMU = shutil.which("qemu-system-riscv64")
RAM_MIB = 16
"""RAM on both machines (QEMU ``-m 16M``): physical 0x8000_0000 .. 0x8100_0000."""

START, HANDLER, DUMP, S_CODE, DATA_D, DATA_E, ROOT, L1, L0, U_CODE, RESULTS = (
    0x8000_0000, 0x8000_0200, 0x8000_0600, 0x8000_1000, 0x8000_2000, 0x8000_3000, 0x8000_4000, 0x8000_5000,
    0x8000_6000, 0x8000_7000, 0x8000_8000)
OUTSIDE = 0x9000_0000
"""A physical address outside RAM and every device of QEMU virt."""
SENTINEL = 0x5E5E_5E5E_5E5E_5E5E
D_WORDS = (0x1111_2222_3333_4444, 0x5555_6666_7777_8888, 0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210)
E_WORDS = (0xAAAA_0000_BBBB_0001, 0xCCCC_0002_DDDD_0003)
FETCH_ME = DATA_D + 0x100
"""Code in page D: ``addi t1, zero, 0x77; jalr zero, 0(ra)`` (the fetch tests run it)."""

RWX, AD = PTE_R | PTE_W | PTE_X, PTE_A | PTE_D
MEGA = 1 << 21


def pte(pa: int, flags: int) -> int:
    return (pa >> 12) << 10 | flags


# Virtual addresses and the entries that map them.
U_GIGA, G_MISALIGNED, G_INVALID, G_RESERVED, G_DAU_POINTER = (0x1_0000_0000, 0xC000_0000, 0x1_4000_0000,
                                                              0x1_8000_0000, 0x1_C000_0000)
HIGH = 0xFFFF_FFC0_0000_0000                      # root[256], the first canonical high address
MEGA_USER, MEGA_MISALIGNED, TABLE_4K, MEGA_AD, TABLE_OUTSIDE, MEGA_SUPER = (0x4000_0000 + k * MEGA for k in range(6))
ROOT_PTES = {
    1: pte(L1, PTE_V),
    2: pte(0x8000_0000, PTE_V | RWX | AD),                        # the kernel's gigapage (identity)
    3: pte(0x8020_0000, PTE_V | PTE_R | AD),                      # misaligned gigapage
    4: pte(0x8000_0000, PTE_V | PTE_R | PTE_W | PTE_U | AD),      # user gigapage
    5: 0,
    6: pte(0x8000_0000, PTE_V | PTE_R | AD) | 1 << 54,            # reserved bit 54
    7: pte(L1, PTE_V | PTE_A),                                    # a pointer with A set (reserved there)
    256: pte(0x8000_0000, PTE_V | PTE_R | PTE_W | AD),
}
L1_PTES = {
    0: pte(0x8000_0000, PTE_V | RWX | PTE_U | AD),               # user megapage: U code runs here
    1: pte(0x8000_1000, PTE_V | PTE_R | AD),                      # misaligned megapage
    2: pte(L0, PTE_V),
    3: pte(0x8000_0000, PTE_V | PTE_R | PTE_W | PTE_U),           # A and D clear: the walks set them
    4: pte(OUTSIDE, PTE_V),                                       # the next table is outside RAM
    5: pte(0x8000_0000, PTE_V | PTE_R | PTE_W | AD),              # supervisor megapage
}
L0_PTES = {
    0: pte(DATA_D, PTE_V | PTE_R | PTE_W | PTE_U | AD),
    1: pte(DATA_D, PTE_V | PTE_R | PTE_U | PTE_A),                # read-only
    2: pte(DATA_D, PTE_V | PTE_X | PTE_U | PTE_A),                # execute-only (user)
    3: 0,
    4: pte(DATA_D, PTE_V | PTE_W | AD),                           # W without R: reserved
    5: pte(DATA_E, PTE_V | PTE_R | PTE_W | AD),                   # supervisor page
    6: pte(DATA_D, PTE_V),                                        # a pointer at the last level
    7: pte(DATA_E, PTE_V | PTE_R | PTE_W | PTE_U),                # A and D clear
    8: pte(OUTSIDE, PTE_V | PTE_R | PTE_W | PTE_U | AD),          # the page is outside RAM
    9: pte(DATA_D, PTE_V | PTE_R | PTE_U | AD) | 1 << 58,         # reserved bit 58
    10: pte(DATA_D, PTE_V | RWX | PTE_U | AD),                    # user code and data
    11: pte(DATA_D, PTE_V | PTE_X | PTE_A),                       # execute-only (supervisor)
}


def page(k: int) -> int:
    return TABLE_4K + k * 0x1000


SUM_ON, SUM_OFF, MXR_ON, MXR_OFF = (f"li t2, 0x{bit:x}\n        {op} sstatus, t2"
                                    for bit in (1 << 18, 1 << 19) for op in ("csrs", "csrc"))
S_STEPS = [
    ("ld", DATA_D), ("ld", U_GIGA + 0x2000), ("ld", G_MISALIGNED), ("ld", G_INVALID + 8), ("ld", G_RESERVED + 0x2000),
    ("ld", G_DAU_POINTER + 0x2000), ("ld", HIGH + 0x2000), ("ld", 0x80_0000_2000), ("ld", 0x8000_0000_8000_2000),
    ("ld", 0xFFFF_FF80_0000_0000), ("ld", MEGA_MISALIGNED), ("ld", TABLE_OUTSIDE), ("ld", MEGA_SUPER + 0x2000),
    ("ld", page(5)), ("sd", page(1) + 8, 1), ("ld", page(2)), ("jalr", page(0) + 0x100), ("jalr", FETCH_ME),
    ("ld", page(11)), MXR_ON, ("ld", page(11)), ("ld", page(2)), MXR_OFF,
    ("sd", page(7) + 0x10, 2), SUM_ON, ("ld", U_GIGA + 0x2000), ("ld", page(0)),
    ("sd", page(0) + 8, 0x1122_3344_5566_7788), ("jalr", page(10) + 0x100), ("sd", page(7) + 0x10, 0x99),
    ("ld", page(2)), MXR_ON, ("ld", page(2)), MXR_OFF, SUM_OFF,
    ("ld", page(0)),
]
U_STEPS = [
    ("ld", page(0)), ("ld", page(5)), ("ld", DATA_D), ("ld", U_GIGA + 0x2008), ("ld", page(2)),
    ("jalr", page(10) + 0x100), ("jalr", page(1) + 0x100), ("ld", page(3)), ("ld", page(4)), ("ld", page(6)),
    ("ld", MEGA_AD + 0x2010), ("sd", MEGA_AD + 0x2018, 0xABCD), ("ld", page(7) + 0x10), ("ld", page(8)),
    ("sd", page(8), 3), ("ld", page(9)), ("ld", 0x80_0000_0000), ("amoadd.d", page(0) + 0x10, 5),
    ("lw", MEGA_SUPER + 0x2000), ("ld", G_DAU_POINTER + 0x2000), ("ld", TABLE_OUTSIDE), ("ld", HIGH + 0x2000),
    ("sd", U_GIGA + 0x3008, 0x4242),
]
DUMPED = [DATA_D + 8 * k for k in range(4)] + [DATA_E + 8 * k for k in range(4)] + [
    L1 + 8 * 3, L0 + 8 * 7, L0 + 8 * 0, L0 + 8 * 1, ROOT + 8 * 7]
"""What the walks and stores may have written: data words, and PTEs whose A/D may change."""


def steps_asm(steps: list) -> str:
    out = []
    for step in steps:
        if isinstance(step, str):
            out.append(f"        {step}")
            continue
        op, va, *value = step
        out.append(f"        li t0, 0x{va:x}\n        li t1, 0x{SENTINEL:x}")
        if op in ("ld", "lw"):
            out.append(f"        {op} t1, 0(t0)")
        elif op == "sd":
            out.append(f"        li t2, 0x{value[0]:x}\n        sd t2, 0(t0)")
        elif op == "amoadd.d":
            out.append(f"        li t2, 0x{value[0]:x}\n        amoadd.d t1, t2, (t0)")
        else:
            out.append("        jalr ra, 0(t0)")
        out.append("        ebreak")
    return "\n".join(out)


def source() -> str:
    tables = []
    for base, entries in ((ROOT, ROOT_PTES), (L1, L1_PTES), (L0, L0_PTES)):
        tables.append(f"        .org 0x{base:x}")
        for index in range(max(entries) + 1):
            tables.append(f"        .dword 0x{entries.get(index, 0):x}")
    dump = "\n".join(f"        li t0, 0x{a:x}\n        ld t1, 0(t0)\n        sd t1, 0(s0)\n        addi s0, s0, 8"
                     for a in DUMPED)
    return f"""
# Sv39 walks from S and U, for comparing this machine with QEMU (generated by
# tests/riscv/test_qemu_oracle_rv64.py).  Every trap goes to M: the handler records
# (mcause, mtval or 0 for ebreak, t1) and skips the access and the ebreak after it; a
# fetch fault returns past the ebreak after the jalr; ecall from S starts the U steps,
# ecall from U the dump.
        .org 0x{START:x}
        .entry start
start:
        li s0, 0x{RESULTS:x}
        li t0, 0x{HANDLER:x}
        csrw mtvec, t0
        li t0, 0x3fffffffffffff
        csrw pmpaddr0, t0
        li t0, 0x1f
        csrw pmpcfg0, t0
        li t0, 0x{8 << 60 | ROOT >> 12:x}
        csrw satp, t0
        sfence.vma zero, zero
        li t0, 0x1800
        csrc mstatus, t0
        li t0, 0x800
        csrs mstatus, t0
        li t0, 0x{S_CODE:x}
        csrw mepc, t0
        mret

        .org 0x{HANDLER:x}
handler:
        csrr s2, mcause
        sd s2, 0(s0)
        csrr s3, mtval
        li s4, 3
        bne s2, s4, keep_tval
        li s3, 0
keep_tval:
        sd s3, 8(s0)
        sd t1, 16(s0)
        addi s0, s0, 24
        li s4, 9
        beq s2, s4, to_user
        li s4, 8
        beq s2, s4, dump
        li s4, 1
        beq s2, s4, fetch_fault
        li s4, 12
        beq s2, s4, fetch_fault
        csrr s3, mepc
        addi s3, s3, 4
        li s4, 3
        beq s2, s4, resume
        addi s3, s3, 4
resume:
        csrw mepc, s3
        mret
fetch_fault:
        addi s3, ra, 4
        csrw mepc, s3
        mret
to_user:
        li s3, 0x1800
        csrc mstatus, s3
        li s3, 0x{U_CODE - 0x8000_0000 + MEGA_USER:x}
        csrw mepc, s3
        mret

        .org 0x{DUMP:x}
dump:
{dump}
        li a0, 0x{RESULTS:x}
        li a5, 0x10000000
print:
        bgeu a0, s0, finish
        ld a1, 0(a0)
        li a2, 60
nibble:
        srl a3, a1, a2
        andi a3, a3, 15
        li a4, 10
        blt a3, a4, digit
        addi a3, a3, 87
        j emit
digit:
        addi a3, a3, 48
emit:
        sb a3, 0(a5)
        addi a2, a2, -4
        bge a2, zero, nibble
        li a3, 10
        sb a3, 0(a5)
        addi a0, a0, 8
        j print
finish:
        li t5, 0x100000
        li t6, 0x5555
        sw t6, 0(t5)
spin:
        j spin

        .org 0x{S_CODE:x}
{steps_asm(S_STEPS)}
        ecall

        .org 0x{DATA_D:x}
        .dword {", ".join(hex(w) for w in D_WORDS)}
        .org 0x{FETCH_ME:x}
        addi t1, zero, 0x77
        jalr zero, 0(ra)
        .org 0x{DATA_E:x}
        .dword {", ".join(hex(w) for w in E_WORDS)}
{chr(10).join(tables)}

        .org 0x{U_CODE:x}
{steps_asm(U_STEPS)}
        ecall
        .org 0x{RESULTS:x}
        .dword 0
"""


def image():
    return assemble(source(), "rv64")


def ours() -> list[int]:
    m = build_machine("rv64", image=image(), storage_size=RAM_MIB << 20)
    result = m.run(2_000_000)
    assert result.halted and m.exit_code == 0, m.console.text()[-400:]
    return [int(line, 16) for line in m.console.text().split()]


def qemu(tmp_path: Path) -> list[int]:
    img = image()
    lo = min(s.address for s in img.sections)
    blob = bytearray(max(s.end for s in img.sections) - lo)
    for s in img.sections:
        blob[s.address - lo:s.end - lo] = s.data
    raw = tmp_path / "sv39.bin"
    raw.write_bytes(bytes(blob))
    done = subprocess.run([QEMU, "-machine", "virt", "-cpu", "rv64,c=false,h=false,f=false,d=false",
                           "-m", f"{RAM_MIB}M", "-bios", "none", "-kernel", str(raw), "-nographic", "-monitor", "none"],
                          capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return [int(line, 16) for line in done.stdout.decode().split()]


def records(words: list[int]) -> tuple[list[tuple[int, int, int]], list[int]]:
    """(the (mcause, mtval, t1) records, the dumped words)."""
    n = len(words) - len(DUMPED)
    return [tuple(words[k:k + 3]) for k in range(0, n, 3)], words[n:]


def steps() -> list[str]:
    """Words for each record, in order."""
    out = []
    for mode, listed in (("S", S_STEPS), ("U", U_STEPS)):
        out += [f"{mode}: {op} 0x{va:x}" for op, va, *_ in (t for t in listed if not isinstance(t, str))]
        out.append(f"ecall from {mode}")
    return out


def index_of(mode: str, op: str, va: int) -> int:
    return steps().index(f"{mode}: {op} 0x{va:x}")


NON_LEAF_A = index_of("U", "ld", G_DAU_POINTER + 0x2000)
"""The U-mode load through root[7], a pointer PTE with A set: D, A and U are reserved in
non-leaf PTEs (privileged spec 4.3.1-4.3.2, step 3), so QEMU (and spike) raise a load page
fault; this machine's walk ignores them and translates (mmu.py's ``Regime._find``)."""
PTE_OUTSIDE_RAM = {k for k, words in enumerate(steps()) if f"0x{TABLE_OUTSIDE:x}" in words}
"""Loads whose walk reads a PTE outside RAM.  The spec makes that an access fault (step 2:
the PTE access violates a PMA); QEMU 7.2 raises a page fault instead (its walk returns
TRANSLATE_FAIL when the PTE read fails), a documented deviation normalised here."""


def normalise_qemu(recs: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    out = list(recs)
    for k in PTE_OUTSIDE_RAM:
        cause, tval, value = out[k]
        if cause == 13:
            out[k] = (5, tval, value)
    return out


def test_the_guest_records_what_the_spec_says():
    recs, dumped = records(ours())
    assert len(recs) == len(steps())
    at: dict[str, tuple[int, int, int]] = {}
    for words, rec in zip(steps(), recs):
        at.setdefault(words, rec)                      # a step repeated: its first record
    assert at[f"S: ld 0x{DATA_D:x}"] == (3, 0, D_WORDS[0])                           # the kernel's gigapage
    assert at[f"S: ld 0x{HIGH + 0x2000:x}"] == (3, 0, D_WORDS[0])                   # a high canonical address
    assert at[f"U: ld 0x{HIGH + 0x2000:x}"][0] == 13                                # ... of a supervisor page
    assert at[f"S: ld 0x{0x80_0000_2000:x}"] == (13, 0x80_0000_2000, SENTINEL)       # not canonical
    assert at[f"S: ld 0x{MEGA_SUPER + 0x2000:x}"] == (3, 0, D_WORDS[0])              # a 2 MiB superpage
    assert at[f"S: ld 0x{U_GIGA + 0x2000:x}"][0] == 13                               # a user 1 GiB superpage
    assert at[f"U: ld 0x{U_GIGA + 0x2008:x}"] == (3, 0, 0x1122_3344_5566_7788)
    assert at[f"U: ld 0x{page(0):x}"] == (3, 0, D_WORDS[0])                          # a 4 KiB page
    assert at[f"S: ld 0x{TABLE_OUTSIDE:x}"] == (5, TABLE_OUTSIDE, SENTINEL)          # the PTE is not in RAM
    assert at[f"U: ld 0x{page(8):x}"] == (5, page(8), SENTINEL)                      # the page is not in RAM
    assert at[f"S: jalr 0x{FETCH_ME:x}"] == (3, 0, 0x77)
    assert at[f"S: jalr 0x{page(10) + 0x100:x}"][0] == 12                          # S never runs U pages
    assert at[f"U: jalr 0x{page(10) + 0x100:x}"] == (3, 0, 0x77)
    assert [r[0] for r in recs].count(3) > 15 and {13, 15, 12, 5, 7} <= {r[0] for r in recs}
    pte_l1_3, pte_l0_7 = dumped[8], dumped[9]
    assert pte_l1_3 & (PTE_A | PTE_D) == PTE_A | PTE_D and pte_l0_7 & (PTE_A | PTE_D) == PTE_A | PTE_D


def test_a_pointer_pte_with_a_set_is_a_page_fault():
    """Regression: the walk followed a pointer PTE with A set instead of raising a page fault."""
    recs, _ = records(ours())
    assert recs[NON_LEAF_A] == (13, G_DAU_POINTER + 0x2000, SENTINEL)


@pytest.mark.skipif(QEMU is None, reason="qemu-system-riscv64 not installed (Debian qemu-system-misc)")
def test_sv39_walks_agree_with_qemu(tmp_path):
    (a, a_dumped), (b, b_dumped) = records(ours()), records(qemu(tmp_path))
    b = normalise_qemu(b)
    assert len(a) == len(b) == len(steps())
    for k, (words, x, y) in enumerate(zip(steps(), a, b)):
        assert x == y, f"record {k} ({words}): ours {tuple(map(hex, x))}, QEMU {tuple(map(hex, y))}"
    for address, x, y in zip(DUMPED, a_dumped, b_dumped):
        assert x == y, f"the doubleword at 0x{address:x}: ours 0x{x:x}, QEMU 0x{y:x}"


@pytest.mark.skipif(QEMU is None, reason="qemu-system-riscv64 not installed (Debian qemu-system-misc)")
def test_qemu_faults_on_a_pointer_pte_with_a_set(tmp_path):
    """What the test above expects is what QEMU does."""
    recs, _ = records(qemu(tmp_path))
    assert recs[NON_LEAF_A] == (13, G_DAU_POINTER + 0x2000, SENTINEL)
