"""The NS16550A UART of QEMU ``virt`` (0x1000_0000, PLIC irq 10): console output and input.

=======  ===================  =========================================================
offset   read                 write
=======  ===================  =========================================================
0        RBR: the next        THR: the byte goes to the console at once (the line is
         received byte        infinitely fast: THRE and TEMT always read 1)
         (DLAB: DLL)          (DLAB: DLL)
1        IER (DLAB: DLM)      IER: bit 0 received data, bit 1 THR empty (bits 2-3 kept,
                              never raised) — (DLAB: DLM)
2        IIR: the pending     FCR: bit 0 enables the FIFOs, bit 1 clears the receive
         source, 0xC0 with    FIFO, bits 6-7 the receive trigger level (1, 4, 8, 14)
         FIFOs on
3        LCR (bit 7: DLAB)    LCR
4        MCR                  MCR (bit 4: loopback, THR bytes come back as input and
                              the console's do not come in)
5        LSR: DR, THRE, TEMT  —
6        MSR: DCD|DSR|CTS     —
7        SCR                  SCR
=======  ===================  =========================================================

Receiving.  The receive FIFO (16 bytes; 1 with FIFOs off) is filled from what the console
has *released* (:mod:`hybridvmm.machine.console`), as far as it has room — the console
holds the rest back, as QEMU's character backend does, so input is never overrun.  Under
the ``interval`` rule this device paces the console: when the FIFO and the console's
released bytes are both empty and input is queued, the next byte is released
``interval`` retired instructions later, an exact timed event (:mod:`events
<hybridvmm.isas.riscv.events>`), so the first byte arrives ``interval`` instructions after
the input was queued and each next one ``interval`` instructions after the guest read (or
cleared) the previous one.  Why "after the previous one was read" rather than a fixed
rate: the guest sets the pace, so no byte is ever dropped or overrun however slowly it
reads, and the same input gives the same run on any machine, bare or monitored.  The
interval counts retired instructions, the time the countdown counts; a ``wfi`` that
waits for the timer moves ``mtime`` but retires nothing, so it does not bring input
sooner (one with no timer armed completes at once, and the input comes as the guest
goes on).

Interrupts, as QEMU computes them, by priority: received data (IIR 0x04 when the FIFO
holds at least the trigger level, else 0x0C, the character timeout, which here is
immediate), then THR empty (0x02: set after every transmitted byte and on every IER
write, cleared by writing THR or by reading IIR while it is the reported source).  The
output is level ``IIR != no interrupt``, signalled to the PLIC whenever the state is
updated, where QEMU signals it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hybridvmm.isas.riscv.machine import RiscvMachine

IRQ = 10
"""QEMU virt's ``UART0_IRQ``."""
FIFO_SIZE = 16
RBR_THR, IER, IIR_FCR, LCR, MCR, LSR, MSR, SCR = range(8)
LSR_DR, LSR_THRE, LSR_TEMT = 0x01, 0x20, 0x40
IER_RDI, IER_THRI = 0x01, 0x02
IIR_NONE, IIR_THRI, IIR_RDI, IIR_CTI, IIR_FIFO = 0x01, 0x02, 0x04, 0x0C, 0xC0
FCR_FE, FCR_RFR = 0x01, 0x02
DLAB = 0x80
MCR_LOOP = 0x10
MSR_LINES = 0xB0
"""DCD, DSR and CTS: what QEMU's MSR reads with nothing attached to the modem lines."""
TRIGGER = (1, 4, 8, 14)
RX_EVENT = "uart-rx"


class Uart:
    """An NS16550A (see the module docstring)."""

    name = "uart"
    base = 0x1000_0000
    size = 0x100
    irq = IRQ

    def __init__(self, machine: "RiscvMachine"):
        self.m = machine
        self.reset()
        machine.events.register(RX_EVENT, self._deliver)
        machine.console.receiver = self

    def reset(self) -> None:
        self.regs = {"ier": 0, "fcr": 0, "lcr": 0, "mcr": 0, "scr": 0, "dll": 0, "dlm": 0}
        self.rx = bytearray()
        self.thr_pending = False
        self.iir = IIR_NONE

    # --- receiving ----------------------------------------------------------------------------
    def _room(self) -> int:
        return (FIFO_SIZE if self.regs["fcr"] & FCR_FE else 1) - len(self.rx)

    def _fill(self) -> bool:
        """Move released console bytes into the FIFO while it has room (none in loopback,
        which disconnects the line, as on QEMU); True if any moved."""
        console, moved = self.m.console, False
        if self.regs["mcr"] & MCR_LOOP:
            return False
        while self._room() > 0:
            b = console.read_byte()
            if b is None:
                break
            self.rx.append(b)
            moved = True
        return moved

    def _pace(self) -> None:
        """Interval rule: with nothing left to read, schedule the next byte's release."""
        console, events = self.m.console, self.m.events
        if (console.paced() and not self.rx and not console.remaining() and console.unreleased()
                and not events.pending(RX_EVENT)):
            events.schedule(RX_EVENT, console.interval)

    def _deliver(self) -> None:
        self.m.console.release(1)

    def _drained(self) -> None:
        """The guest took bytes from the FIFO or reshaped it: refill, update, pace."""
        self._fill()
        self.update()
        self._pace()

    def input_changed(self) -> None:
        """The console queued or released input (feed, a prompt seen, a paced release)."""
        if self._fill():
            self.update()
        self._pace()

    # --- interrupts ---------------------------------------------------------------------------
    def _source(self) -> int:
        ier = self.regs["ier"]
        if ier & IER_RDI and self.rx:
            fifo = self.regs["fcr"] & FCR_FE
            return IIR_RDI if not fifo or len(self.rx) >= TRIGGER[self.regs["fcr"] >> 6] else IIR_CTI
        if ier & IER_THRI and self.thr_pending:
            return IIR_THRI
        return IIR_NONE

    def update(self) -> None:
        """Recompute IIR and signal the line to the PLIC (QEMU's ``serial_update_irq``)."""
        self.iir = self._source()
        self.m.plic.signal(IRQ, self.iir != IIR_NONE)

    # --- registers ---------------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int | None:
        if offset >= 8:
            return None
        r, dlab = self.regs, self.regs["lcr"] & DLAB
        if offset == RBR_THR:
            if dlab:
                return r["dll"]
            value = self.rx.pop(0) if self.rx else 0
            self._drained()
            return value
        if offset == IER:
            return r["dlm"] if dlab else r["ier"]
        if offset == IIR_FCR:
            value = self.iir | (IIR_FIFO if r["fcr"] & FCR_FE else 0)
            if self.iir == IIR_THRI:
                self.thr_pending = False
                self.update()
            return value
        if offset == LSR:
            return LSR_THRE | LSR_TEMT | (LSR_DR if self.rx else 0)
        if offset == MSR:
            if r["mcr"] & MCR_LOOP:
                mcr = r["mcr"]
                return (mcr & 0x0C) << 4 | (mcr & 0x02) << 3 | (mcr & 0x01) << 5
            return MSR_LINES
        return r[{LCR: "lcr", MCR: "mcr", SCR: "scr"}[offset]]

    def write(self, offset: int, size: int, value: int) -> bool:
        if offset >= 8:
            return False
        r, dlab, value = self.regs, self.regs["lcr"] & DLAB, value & 0xFF
        if offset == RBR_THR:
            if dlab:
                r["dll"] = value
                return True
            if r["mcr"] & MCR_LOOP:
                if self._room() > 0:
                    self.rx.append(value)
            else:
                self.m.console_out(value)
            self.thr_pending = True          # transmitted at once: the holding register is empty again
            self.update()
        elif offset == IER:
            if dlab:
                r["dlm"] = value
            else:
                r["ier"] = value & 0x0F
                self.thr_pending = True      # THRE is always set here (QEMU sets it on every IER write)
                self.update()
        elif offset == IIR_FCR:
            if value == r["fcr"]:
                return True
            if (value ^ r["fcr"]) & FCR_FE:
                value |= FCR_RFR             # enabling or disabling the FIFOs flushes them
            if value & FCR_RFR:
                self.rx.clear()
            r["fcr"] = value & 0xC9
            self._drained()
        elif offset == LCR:
            r["lcr"] = value
        elif offset == MCR:
            r["mcr"] = value & 0x1F
            self.input_changed()             # out of loopback: the console's bytes come in again
        elif offset == SCR:
            r["scr"] = value
        return True

    # --- state ---------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {**self.regs, "rx": bytes(self.rx), "thr_pending": self.thr_pending, "iir": self.iir}

    def set_state(self, state: dict[str, Any]) -> None:
        self.regs = {k: state[k] for k in ("ier", "fcr", "lcr", "mcr", "scr", "dll", "dlm")}
        self.rx = bytearray(state.get("rx", b""))
        self.thr_pending = state.get("thr_pending", False)
        self.iir = state.get("iir", IIR_NONE)
