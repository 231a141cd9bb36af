"""A GDB stub: debug a guest — bare or under the monitor — with ``gdb-multiarch``.

In one terminal, start the run; the guest waits, stopped at its first instruction, until
gdb connects (as QEMU's ``-s -S``)::

    python -m hybridvmm run guest:rvminios --gdb               # loopback, port 1234
    python -m hybridvmm run guest:xv6 --mode hybrid --gdb 1234
    python -m hybridvmm run guest:rvminios guest:rvloop --mode pure --gdb :4321   # two VMs

It prints the symbol file to give gdb (the guest's own ELF, e.g. xv6's kernel with its
debug information, or an ELF the stub writes for an assembled guest).  In another::

    gdb-multiarch SYMBOLS -ex 'target remote :1234'
    (gdb) break s_main                  # breakpoints never write guest memory
    (gdb) continue
    (gdb) stepi                         # one guest instruction, whatever runs it
    (gdb) info registers                # x0–x31, pc; 'info registers csr' for the CSRs
    (gdb) p $priv                       # the privilege level (prv:1 [Supervisor])
    (gdb) x/8xw $sp                     # memory through the guest's current mapping
    (gdb) watch *(int *)&ticks          # stops after the store; shows old and new value
    (gdb) info threads                  # under the monitor: one thread per VM
    (gdb) monitor stats                 # also: monitor mode, monitor exits, monitor patches
    (gdb) continue                      # Ctrl-C interrupts; the guest's end ends the session
    (gdb) kill                          # ends the run; detach (or quit) lets it run on

Only the loopback address listens unless ``--gdb HOST:PORT`` names another.  What is
supported and how: registers (``g``/``G``/``p``/``P``: RISC-V's x0–x31, pc, the CSRs gdb
knows and QEMU's virtual ``priv``), memory (``m``/``M``/``X``: through the current mapping,
physical where translation is off), breakpoints (``Z0``/``Z1``: address hooks, see
:mod:`~hybridvmm.gdbstub.points`), watchpoints (``Z2`` write, ``Z3`` read, ``Z4`` access, on
virtual data addresses: the guest single-steps while one is set), ``s``/``c``/``vCont``,
Ctrl-C, ``D``, ``k``, threads (``qfThreadInfo``, ``H``, ``T``), ``qXfer:features:read``,
``qXfer:exec-file:read`` and ``qRcmd``.  pgm, which gdb does not know, is served with a
description of its own (:mod:`~hybridvmm.gdbstub.pgm` says what a client can do with it).

Modules: :mod:`.packets` (framing), :mod:`.connection` (the socket), :mod:`.tdesc` (target
descriptions), :mod:`.cpu` with :mod:`.riscv` and :mod:`.pgm` (one guest CPU as gdb sees
it), :mod:`.points` (breakpoints, watchpoints), :mod:`.debuggee` (running the bare machine
or the monitor's VMs), :mod:`.server` (the packets' meaning), :mod:`.commands`
(``monitor …``), :mod:`.symfile` (symbols for gdb), :mod:`.stub` (what ``run`` calls).
"""

from hybridvmm.gdbstub.connection import DEFAULT_ADDRESS, parse_address
from hybridvmm.gdbstub.stub import GdbStub

__all__ = ["DEFAULT_ADDRESS", "GdbStub", "parse_address"]
