"""A GDB stub: debug a guest — bare or under the monitor — with ``gdb-multiarch``.

In one terminal, start the run; the guest waits, stopped at its first instruction, until
gdb connects (as QEMU's ``-s -S``)::

    python -m hybridvmm run guest:rvminios --gdb               # loopback, port 1234
    python -m hybridvmm run guest:xv6 --mode hybrid --gdb 1234
    python -m hybridvmm run guest:rvminios guest:rvloop --mode pure --gdb :4321   # two VMs

In another terminal (gdb loads the guest's symbols itself: the stub names the guest's own
ELF — xv6's kernel, with its debug information — or an ELF it writes for an assembled
guest; ``file PATH`` with the path the run printed does the same)::

    gdb-multiarch -ex 'target remote :1234'
    (gdb) break s_main                  # breakpoints never write guest memory
    (gdb) continue
    (gdb) stepi                         # one guest instruction, whatever runs it
    (gdb) info registers                # x0–x31, pc; 'info registers csr' for the CSRs
    (gdb) p $priv                       # the privilege level (prv:1 [Supervisor])
    (gdb) x/8xw $sp                     # memory through the guest's current mapping
    (gdb) watch *(int *)&ticks          # old and new value, at the instruction after the store
    (gdb) info threads                  # under the monitor: one thread per VM (thread 2 …)
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
``qXfer:exec-file:read`` and ``qRcmd``.  The VMs of a run are the threads of one program to
gdb: a breakpoint or watchpoint holds in every VM (``break *ADDR thread 2`` keeps gdb to
one), and the symbols are the first guest's.  pgm, which gdb does not know, is served with
a description of its own; gdb cannot attach to it, a raw client can
(:mod:`~hybridvmm.gdbstub.pgm`, :mod:`~hybridvmm.gdbstub.client`).

Modules: :mod:`.packets` (framing), :mod:`.connection` (the socket), :mod:`.tdesc` (target
descriptions), :mod:`.cpu` with :mod:`.riscv` and :mod:`.pgm` (one guest CPU as gdb sees
it), :mod:`.points` (breakpoints, watchpoints), :mod:`.debuggee` (running the bare machine
or the monitor's VMs), :mod:`.server` (the packets' meaning), :mod:`.commands`
(``monitor …``), :mod:`.symfile` (symbols for gdb), :mod:`.stub` (what ``run`` calls).
"""

from hybridvmm.gdbstub.connection import DEFAULT_ADDRESS, parse_address
from hybridvmm.gdbstub.stub import GdbStub

__all__ = ["DEFAULT_ADDRESS", "GdbStub", "parse_address"]
