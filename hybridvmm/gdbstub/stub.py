"""``run --gdb``: listen, wait for gdb, hold the conversation, and end the run as gdb left it.

gdb detaching (``detach``, or ``quit`` — the stub says it attached to a running guest, as
QEMU's does) lets the guest run on to its end without the debugger; ``kill``, or the
connection going away, ends the run there (the run then exits 0, as when the user quits
an interactive console).  The guest does not start before gdb connects: gdb finds it
stopped at its first instruction, as with QEMU's ``-s -S``.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from hybridvmm.gdbstub.commands import MonitorCommands
from hybridvmm.gdbstub.connection import Listener, parse_address
from hybridvmm.gdbstub.debuggee import BareDebuggee, Debuggee, MonitorDebuggee
from hybridvmm.gdbstub.server import DETACH, DISCONNECT, GdbServer
from hybridvmm.gdbstub.symfile import symbol_file, temporary_directory
from hybridvmm.image import Image
from hybridvmm.machine import Machine, RunResult


class GdbStub:
    """The stub of one run (see the module docstring)."""

    def __init__(self, address: str, images: list[Image], *, quit_reason: str, out: TextIO | None = None):
        """Listen on ``address`` ([HOST:]PORT) at once, so a wrong address fails before the
        run; ``quit_reason`` is the result a run gets when gdb ends it."""
        self.out = out or sys.stderr
        self.quit_reason = quit_reason
        self.images = images
        host, port = parse_address(address)
        self.listener = Listener(host, port)
        self._tmp = temporary_directory()
        self.symbols = symbol_file(images[0], self._tmp.name)
        where = self.listener.address
        symbols = f"; symbols: {self.symbols}" if self.symbols else ""
        print(f"hybridvmm: gdb: waiting for gdb on {where} (gdb-multiarch -ex 'target remote {where}'{symbols})",
              file=self.out, flush=True)

    def run_machine(self, machine: Machine, max_steps: int, session: Any = None) -> RunResult:
        """Debug a bare machine; returns how its run ended."""
        if session is not None:
            machine.hook_output(session.byte)
        debuggee = BareDebuggee(machine, max_steps, session)
        try:
            self._converse(debuggee)
        finally:
            if session is not None:
                session.flush()
        return debuggee.result

    def run_monitor(self, monitor: Any) -> None:
        """Debug a monitor's VMs (instead of ``monitor.run()``), then let the monitor finish."""
        self._converse(MonitorDebuggee(monitor))
        monitor.run()

    def _converse(self, debuggee: Debuggee) -> None:
        try:
            conn = self.listener.accept()
        finally:
            self.listener.close()
        print("hybridvmm: gdb: connected", file=self.out, flush=True)
        server = GdbServer(conn, debuggee, monitor=MonitorCommands(debuggee), exec_file=lambda: self.symbols)
        try:
            ending = server.serve()
        finally:
            conn.close()
        if debuggee.finished():
            return
        if ending == DETACH:
            print("hybridvmm: gdb: detached; the guest runs on", file=self.out, flush=True)
            debuggee.run_to_end()
        else:
            why = "gdb disconnected" if ending == DISCONNECT else "killed from gdb"
            print(f"hybridvmm: gdb: {why}; the run ends here", file=self.out, flush=True)
            debuggee.end(self.quit_reason, why)

    def close(self) -> None:
        self.listener.close()
        self._tmp.cleanup()
