"""The platform-level interrupt controller of QEMU ``virt`` (SiFive PLIC), for one hart.

==========================  ==========================================================
offset (base 0x0c00_0000)   register (32-bit accesses only; others are access faults)
==========================  ==========================================================
0x000000 + 4·irq            priority of source ``irq`` (1..95; 3 bits, WARL: value % 8;
                            source 0 does not exist and reads 0)
0x001000 + 4·word           pending bits (read-only)
0x002000 + 0x80·ctx + 4·w   enable bits of context ``ctx``
0x200000 + 0x1000·ctx       priority threshold of context ``ctx`` (value % 8)
0x200004 + 0x1000·ctx       claim (read) / complete (write)
==========================  ==========================================================

Contexts, as QEMU ``virt`` numbers them for hart 0: 0 is M-mode, 1 is S-mode.  Other
offsets inside the aperture read 0 and ignore writes, as QEMU's do.

The gateways behave as QEMU's: a device *signals* its line level whenever its interrupt
state is updated, and the source's pending bit takes that level; a claim clears the
pending bit and marks the source claimed (not eligible) until its completion.  So a UART
whose transmitter stays empty raises one request per character written, not a storm.
A context's output is high while some pending, enabled, unclaimed source has a priority
above its threshold (the highest wins; ties go to the lowest id).

The outputs drive the hart (:class:`HartLines`): context 0 is ``mip.MEIP`` (read-only
there), context 1 the hardware part of ``mip.SEIP``, which the privileged spec ORs with
the software-writable SEIP bit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hybridvmm.isas.riscv.constants import MEI, SEI

if TYPE_CHECKING:
    from hybridvmm.isas.riscv.machine import RiscvMachine

SOURCES = 96
"""QEMU virt's ``VIRT_IRQCHIP_NUM_SOURCES``: source 0 (none) and irqs 1..95."""
WORDS = (SOURCES + 31) // 32
PRIORITY_MASK = 7
"""Three priority bits (``VIRT_IRQCHIP_NUM_PRIO_BITS``)."""
CONTEXTS = 2
M_CONTEXT, S_CONTEXT = 0, 1
PENDING, ENABLE, ENABLE_STRIDE = 0x1000, 0x2000, 0x80
CONTEXT, CONTEXT_STRIDE = 0x20_0000, 0x1000


class HartLines:
    """The PLIC's two outputs into one hart's ``mip``.

    MEIP is set and cleared in ``mip`` directly (software cannot write it).  SEIP is the
    OR of the software-writable bit and the PLIC's line: ``mip`` holds the OR (so every
    read and the interrupt logic see it), and writes to ``mip``/``sip`` go through
    :meth:`write_mip`, which keeps the software bit apart.  A write changes the software
    bit when it writes a SEIP value other than the one read, so a read-modify-write of
    another bit (``csrs mip, ...``) never latches the line into it; writing 1 while the
    line is already high leaves the software bit as it was (the one case this cannot tell
    apart from a read-modify-write).
    """

    def __init__(self, machine: "RiscvMachine"):
        self.m = machine
        self.seip_line = 0
        self.seip_soft = 0
        machine.csr._set_mip = self.write_mip  # the CSR file's single path for mip/sip writes

    def _soft(self) -> int:
        """The software SEIP bit: while the line is low it is what ``mip`` shows (whoever set
        ``mip`` — a CSR write, a restored state, a probe), while it is high the one kept."""
        if not self.seip_line:
            self.seip_soft = self.m.csr.mip >> SEI & 1
        return self.seip_soft

    def write_mip(self, value: int) -> None:
        c = self.m.csr
        soft = self._soft()
        if (value ^ c.mip) >> SEI & 1:
            soft = self.seip_soft = value >> SEI & 1
        c.mip = (value & ~(1 << SEI)) | (soft | self.seip_line) << SEI

    def drive(self, meip: bool, seip: bool) -> None:
        c = self.m.csr
        soft = self._soft()
        self.seip_line = int(seip)
        mip = c.mip & ~(1 << MEI | 1 << SEI)
        c.mip = mip | int(meip) << MEI | (soft | self.seip_line) << SEI

    def state(self) -> dict[str, int]:
        return {"seip_soft": self.seip_soft, "seip_line": self.seip_line}

    def set_state(self, state: dict[str, int]) -> None:
        self.seip_soft, self.seip_line = state["seip_soft"], state["seip_line"]

    def reset(self) -> None:
        self.seip_soft = self.seip_line = 0


class Plic:
    """QEMU virt's PLIC with the M and S contexts of hart 0 (see the module docstring)."""

    name = "plic"
    base = 0x0C00_0000
    size = 0x60_0000

    def __init__(self, machine: "RiscvMachine"):
        self.m = machine
        self.lines = HartLines(machine)
        self.reset()

    def reset(self) -> None:
        self.priority = [0] * SOURCES
        self.pending = 0
        self.claimed = 0
        self.enable = [0] * CONTEXTS
        self.threshold = [0] * CONTEXTS
        self.lines.reset()

    # --- the sources' side ----------------------------------------------------------------
    def signal(self, irq: int, level: bool) -> None:
        """Device ``irq`` updated its interrupt state: the pending bit takes ``level``."""
        bit = 1 << irq
        pending = self.pending | bit if level else self.pending & ~bit
        if pending != self.pending:
            self.pending = pending
            self.update()

    # --- the hart's side --------------------------------------------------------------------
    def best(self, ctx: int) -> int:
        """The source context ``ctx`` would claim now (0: none)."""
        ready = self.pending & ~self.claimed & self.enable[ctx]
        best, top = 0, self.threshold[ctx]
        while ready:
            low = ready & -ready
            irq = low.bit_length() - 1
            if self.priority[irq] > top:
                best, top = irq, self.priority[irq]
            ready ^= low
        return best

    def update(self) -> None:
        self.lines.drive(self.best(M_CONTEXT) != 0, self.best(S_CONTEXT) != 0)

    def claim(self, ctx: int) -> int:
        irq = self.best(ctx)
        if irq:
            self.pending &= ~(1 << irq)
            self.claimed |= 1 << irq
        self.update()
        return irq

    def complete(self, irq: int) -> None:
        if irq < SOURCES:
            self.claimed &= ~(1 << irq)
            self.update()

    # --- registers -------------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int | None:
        if size != 4 or offset & 3:
            return None
        if offset < 4 * SOURCES:
            return self.priority[offset >> 2]
        if PENDING <= offset < PENDING + 4 * WORDS:
            return self.pending >> 32 * ((offset - PENDING) >> 2) & 0xFFFF_FFFF
        if ENABLE <= offset < ENABLE + ENABLE_STRIDE * CONTEXTS:
            ctx, at = divmod(offset - ENABLE, ENABLE_STRIDE)
            return self.enable[ctx] >> 8 * at & 0xFFFF_FFFF if at < 4 * WORDS else 0
        if CONTEXT <= offset < CONTEXT + CONTEXT_STRIDE * CONTEXTS:
            ctx, reg = divmod(offset - CONTEXT, CONTEXT_STRIDE)
            if reg == 0:
                return self.threshold[ctx]
            if reg == 4:
                return self.claim(ctx)
        return 0

    def write(self, offset: int, size: int, value: int) -> bool:
        if size != 4 or offset & 3:
            return False
        value &= 0xFFFF_FFFF
        if offset < 4 * SOURCES:
            if offset:
                self.priority[offset >> 2] = value & PRIORITY_MASK
                self.update()
        elif ENABLE <= offset < ENABLE + ENABLE_STRIDE * CONTEXTS:
            ctx, at = divmod(offset - ENABLE, ENABLE_STRIDE)
            if at < 4 * WORDS:
                shift = 8 * at                                       # at: a word-aligned byte offset
                bits = (self.enable[ctx] & ~(0xFFFF_FFFF << shift)) | value << shift
                self.enable[ctx] = bits & ((1 << SOURCES) - 2)      # source 0 cannot be enabled
                self.update()
        elif CONTEXT <= offset < CONTEXT + CONTEXT_STRIDE * CONTEXTS:
            ctx, reg = divmod(offset - CONTEXT, CONTEXT_STRIDE)
            if reg == 0:
                self.threshold[ctx] = value & PRIORITY_MASK
                self.update()
            elif reg == 4:
                self.complete(value)
        return True

    def state(self) -> dict[str, Any]:
        return {"priority": list(self.priority), "pending": self.pending, "claimed": self.claimed,
                "enable": list(self.enable), "threshold": list(self.threshold), "lines": self.lines.state()}

    def set_state(self, state: dict[str, Any]) -> None:
        self.priority = list(state["priority"])
        self.pending, self.claimed = state["pending"], state["claimed"]
        self.enable, self.threshold = list(state["enable"]), list(state["threshold"])
        self.lines.set_state(state["lines"])
