"""The virtual machine monitor, in Popek and Goldberg's structure (docs/modes.md, 'Monitor structure').

* :mod:`~hybridvmm.vmm.dispatcher` — every trap and interrupt of the host enters here;
* :mod:`~hybridvmm.vmm.allocator` — host storage for each VM, composed with its R;
* :mod:`~hybridvmm.vmm.routines` — the interpreter routines (the VM's virtual CPU);
* :mod:`~hybridvmm.vmm.monitor` — the loop: modes, slices, world switches;
* :mod:`~hybridvmm.vmm.lazy` and :mod:`~hybridvmm.vmm.patches` — scan-and-patch at run time;
* :mod:`~hybridvmm.vmm.stats`, :mod:`~hybridvmm.vmm.costs` — what a run did and cost;
* :mod:`~hybridvmm.vmm.compare`, :mod:`~hybridvmm.vmm.theory` — equivalence and the predictions, with
  :mod:`~hybridvmm.vmm.monitored` (recorded runs) and :mod:`~hybridvmm.vmm.lockstep` (locating a divergence);
* :mod:`~hybridvmm.vmm.backend` — what an ISA family's virtualization model provides.

ISA-agnostic: the ISA family's virtualization model (``hybridvmm.isas.virt_model``)
supplies what differs between ISAs.
"""

from hybridvmm.vmm.modes import BARE, COMPARE_MODES, MODES, RUN_MODES, Mode, mode_named
from hybridvmm.vmm.monitor import DEFAULT_SLICE, Monitor, run_guests
from hybridvmm.vmm.vm import VM, VmOutcome

__all__ = ["BARE", "COMPARE_MODES", "DEFAULT_SLICE", "MODES", "RUN_MODES", "Mode", "Monitor", "VM", "VmOutcome",
           "mode_named", "run_guests"]
