"""pgm constants, the lazy NZCV flag cells, and the storage environment baked into handlers.

:class:`PgmEnv` is one address mapping (R): the load/store closures a handler calls, with
relocation, bounds and alignment checks and the invalidation of decoded code on stores.
The semantics (:mod:`hybridvmm.isas.pgm.semantics`) and the machine
(:mod:`hybridvmm.isas.pgm.machine`) share these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hybridvmm.machine.traps import TrapSignal

if TYPE_CHECKING:
    from hybridvmm.isas.pgm.machine import PgmMachine


M32 = 0xFFFFFFFF
NBIT = 0x80000000
NZ_BOTH = 1 << 32
"""The N/Z cell value meaning N = 1 and Z = 1 at once (only popf/PSW loads produce it)."""

SP = 15
REGISTERS = 16
DEFAULT_STORAGE = 1 << 20
MIN_STORAGE = 0x100
PSW_WORDS = ("status", "pc", "base", "bound")
"""A PSW is four words in this order (status, pc, R.base, R.bound)."""

STATUS_M = 1
STATUS_IE = 2
FLAGS_SHIFT = 4
CAUSE_SHIFT = 8
CODE_SHIFT = 16


# --- flags ---------------------------------------------------------------------------
# The flags live in a two-element list ``F`` shared by every handler of a machine:
#   F[0]  N/Z: N = F[0] >= 0x80000000, Z = (F[0] & 0xFFFFFFFF) == 0
#         (a 32-bit result, or NZ_BOTH for the combination no result can produce);
#   F[1]  C/V, lazily: a tuple (a, b, s) of the last addition s = a + b (+ carry), with
#         C = s >> 32 and V = ((a ^ s) & (b ^ s)) >> 31 & 1.
# Producers store results without computing flags; branches derive what they test.

def _cv_record(c: int, v: int) -> tuple[int, int, int]:
    """A (a, b, s) record whose derived C and V are the given bits."""
    return (v << 31, v << 31, c << 32)


def set_carry(F: list, c: int) -> None:
    """C = c, V unchanged (what a shift by a non-zero count does to C and V)."""
    a, b, s = F[1]
    v = (((a ^ s) & (b ^ s)) >> 31) & 1
    F[1] = _cv_record(c, v)


def flags_from_cells(F: list) -> int:
    """NZCV (N=8, Z=4, C=2, V=1) from a flags cell."""
    nz = F[0]
    a, b, s = F[1]
    n = 1 if nz >= NBIT else 0
    z = 0 if nz & M32 else 1
    c = (s >> 32) & 1
    v = (((a ^ s) & (b ^ s)) >> 31) & 1
    return n << 3 | z << 2 | c << 1 | v


def set_flag_cells(F: list, nzcv: int) -> None:
    """Store NZCV (N=8, Z=4, C=2, V=1) into a flags cell."""
    n, z = nzcv >> 3 & 1, nzcv >> 2 & 1
    F[0] = NZ_BOTH if n and z else NBIT if n else 0 if z else 1
    F[1] = _cv_record(nzcv >> 1 & 1, nzcv & 1)


# --- the per-mapping environment baked into handlers ------------------------------------
class PgmEnv:
    """Storage access under one R: what every handler of that mapping bakes in.

    ``eb`` is the effective bound (R.bound clipped to the storage behind R.base);
    ``pb`` the root storage index of virtual address 0; ``words`` the native word view
    when it can serve aligned word accesses at this base, else None.

    ``overlay`` (a monitor's patches, when some lie under this mapping) makes every load
    serve the *original* bytes of patched words: ``overlay.patched[w]`` is non-zero for a
    root word holding patched bytes, ``overlay.original_word(p)`` / ``original_byte(p)``
    give what the guest stored there.  The load handlers of such a mapping test that one
    array element per load; mappings without patches pay nothing.
    """

    __slots__ = ("base", "bound", "eb", "pb", "mem", "words", "marks", "invalidate",
                 "fault", "load32", "store32", "load8", "store8", "overlay")

    def __init__(self, machine: "PgmMachine", base: int, bound: int, overlay: Any = None):
        st = machine.storage
        self.base, self.bound = base, bound
        self.eb = eb = max(0, min(bound, st.size - base))
        self.pb = pb = st.offset + base
        self.mem = mem = st.data
        self.marks = marks = st.marks
        self.overlay = overlay
        self.invalidate = inval = machine.store_invalidator(st)

        words = st.words if st.words is not None and pb % 4 == 0 else None
        self.words = words
        if overlay is not None:
            patched, original_word, original_byte = overlay.patched, overlay.original_word, overlay.original_byte
        c_mis, c_bnd = machine.cause["misaligned"], machine.cause["bounds"]

        def fault(a: int, size: int, pc: int, name: str) -> None:
            cause = c_mis if size > 1 and a % size else c_bnd
            raise TrapSignal(cause, pc, pc, 0, name, a)

        self.fault = fault
        eb4 = eb - 4

        if words is not None:
            if overlay is not None:
                def load32(a: int, pc: int, name: str) -> int:
                    if a & 3 or a > eb4:
                        fault(a, 4, pc, name)
                    w = (pb + a) >> 2
                    return original_word(w << 2) if patched[w] else words[w]
            else:
                def load32(a: int, pc: int, name: str) -> int:
                    if a & 3 or a > eb4:
                        fault(a, 4, pc, name)
                    return words[(pb + a) >> 2]

            def store32(a: int, v: int, pc: int, name: str) -> None:
                if a & 3 or a > eb4:
                    fault(a, 4, pc, name)
                w = (pb + a) >> 2
                words[w] = v
                if marks[w]:
                    inval(w << 2, (w << 2) + 4)
        else:
            if overlay is not None:
                def load32(a: int, pc: int, name: str) -> int:
                    if a & 3 or a > eb4:
                        fault(a, 4, pc, name)
                    p = pb + a
                    if patched[p >> 2]:
                        return original_word(p)
                    return int.from_bytes(mem[p:p + 4], "little")
            else:
                def load32(a: int, pc: int, name: str) -> int:
                    if a & 3 or a > eb4:
                        fault(a, 4, pc, name)
                    p = pb + a
                    return int.from_bytes(mem[p:p + 4], "little")

            def store32(a: int, v: int, pc: int, name: str) -> None:
                if a & 3 or a > eb4:
                    fault(a, 4, pc, name)
                p = pb + a
                mem[p:p + 4] = v.to_bytes(4, "little")
                if marks[p >> 2] or marks[(p + 3) >> 2]:
                    inval(p, p + 4)

        if overlay is not None:
            def load8(a: int, pc: int, name: str) -> int:
                if a >= eb:
                    fault(a, 1, pc, name)
                p = pb + a
                if patched[p >> 2]:
                    return original_byte(p)
                return mem[p]
        else:
            def load8(a: int, pc: int, name: str) -> int:
                if a >= eb:
                    fault(a, 1, pc, name)
                return mem[pb + a]

        def store8(a: int, v: int, pc: int, name: str) -> None:
            if a >= eb:
                fault(a, 1, pc, name)
            p = pb + a
            mem[p] = v & 0xFF
            if marks[p >> 2]:
                inval(p, p + 1)

        self.load32, self.store32, self.load8, self.store8 = load32, store32, load8, store8

