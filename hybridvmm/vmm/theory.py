"""What Popek and Goldberg's theorems predict for each monitor mode on an ISA (docs/modes.md, 'Predicted equivalence').

The prediction follows from the ISA's instruction classes alone:

* ``interpret`` is always equivalent (nothing runs directly);
* ``pure`` (trap-and-emulate) is equivalent iff every sensitive instruction is privileged
  (Theorem 1);
* ``hybrid-no-patch`` is equivalent iff every user-sensitive instruction is privileged
  (Theorem 3: virtual-supervisor code is interpreted, user code runs directly);
* ``hybrid`` and ``patch`` repair what the theorems say is broken, by patching the
  offending instructions before they run directly, and are always equivalent;
* ``bt`` translates virtual-supervisor code (its sensitive instructions become calls into
  the monitor, nothing of it runs directly) and runs user code directly, patched as in
  ``hybrid``: always equivalent.

The classes used are the ones the variant's spec declares; ``hybridvmm classify`` derives
them independently by execution, and the test suite checks that the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from hybridvmm.isa import ISA
from hybridvmm.isa.spec import PRIVILEGED, USER, is_sensitive_unprivileged


@dataclass(frozen=True)
class Prediction:
    """Must ``mode`` be equivalent to the bare machine on this ISA, and why."""

    mode: str
    equivalent: bool
    reason: str
    culprits: tuple[str, ...] = ()


def sensitive_unprivileged(isa: ISA) -> list[str]:
    return [s.name for s in isa.instructions.values() if is_sensitive_unprivileged(s.classes)]


def user_sensitive_unprivileged(isa: ISA) -> list[str]:
    return [s.name for s in isa.instructions.values() if USER in s.classes and PRIVILEGED not in s.classes]


def predict(isa: ISA, mode: str, exposed: tuple[str, ...] = ()) -> Prediction:
    """The theory's verdict for ``mode`` on ``isa``.

    ``exposed``: instruction forms that the monitor's configuration leaves user-sensitive
    and unprivileged although the spec calls the instruction privileged — RISC-V's counter
    reads under ``--counters passthrough`` (the classifier's "holds when the counter enables
    are clear", with the enables left on).  They break Theorems 1 and 3 alike, and no patch
    repairs them on an ISA without a patch trap."""
    if mode == "pure":
        bad = sensitive_unprivileged(isa) + list(exposed)
        if bad:
            return Prediction(mode, False, f"Theorem 1 fails: {', '.join(bad)} sensitive but not privileged", tuple(bad))
        return Prediction(mode, True, "Theorem 1 holds: every sensitive instruction is privileged")
    if mode == "hybrid-no-patch":
        bad = user_sensitive_unprivileged(isa) + list(exposed)
        if bad:
            return Prediction(mode, False, f"Theorem 3 fails: {', '.join(bad)} user-sensitive but not privileged", tuple(bad))
        return Prediction(mode, True, "Theorem 3 holds: every user-sensitive instruction is privileged")
    if mode == "interpret":
        return Prediction(mode, True, "nothing runs directly")
    if exposed and "patch" not in isa.system:
        return Prediction(mode, False, f"{', '.join(exposed)} user-sensitive but not privileged, and {isa.name} has no "
                                       f"patch trap to repair them with", tuple(exposed))
    if mode == "bt":
        return Prediction(mode, True, "virtual-supervisor code is translated (its sensitive instructions call the monitor); "
                                      "user-sensitive instructions are patched into traps before user code runs directly")
    return Prediction(mode, True, "the instructions the theorems name are patched into traps before they run directly")
