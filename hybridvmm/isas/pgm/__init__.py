"""pgm, the Popek–Goldberg teaching machine, laid out as :mod:`hybridvmm.isas.riscv` is.

* :mod:`~hybridvmm.isas.pgm.machine` — the machine (state, PSW, traps, timer; the API);
* :mod:`~hybridvmm.isas.pgm.env` — constants, the lazy flag cells and one mapping's storage access;
* :mod:`~hybridvmm.isas.pgm.semantics` — what each instruction does;
* :mod:`~hybridvmm.isas.pgm.probe` — the classifier's view;
* :mod:`~hybridvmm.isas.pgm.virt` — the monitor's virtualization model.

The machine and its semantics table are re-exported here, since most callers want only them.
"""

from hybridvmm.isas.pgm.machine import SUPERVISOR, USER, PgmMachine, PgmState
from hybridvmm.isas.pgm.semantics import SEMANTICS, Semantic

__all__ = ["SEMANTICS", "SUPERVISOR", "Semantic", "USER", "PgmMachine", "PgmState"]
