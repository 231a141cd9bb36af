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

A statically patched image (``hybridvmm patch``) changes the prediction of the two modes
that patch nothing themselves, ``pure`` and ``hybrid-no-patch``.  Every monitor mode adopts
the image's patch table, so each patched site traps and is emulated, and where the table
covers every culprit site the scanner finds in the image's code, the theorem's condition
holds *for that code*.  It does not hold for code the guest writes at run time: a kernel
that copies its code elsewhere (minios copies its trampoline into each task's region)
runs unpatched copies, which no static table can reach; nor for code the scan did not find
(a relocated task's, unless ``patch --space`` named it).  So the honest prediction is
conditional — *equivalent if no unpatched sensitive instruction runs* — and compare shows
it as ``if``, not ``yes``: a divergence then is not a failure of the theory
(``predicted_equivalent`` stays false), and its responsible instruction is reported with
its physical address, so a run-time copy is told from the patched original.  Where the
table leaves a culprit site the scan does find unpatched (``patch --only user-sensitive``
before ``pure``), the theorem fails as for the unpatched image.
"""

from __future__ import annotations

from dataclasses import dataclass

from hybridvmm.image import Image
from hybridvmm.isa import ISA
from hybridvmm.isa.spec import PRIVILEGED, USER, is_sensitive_unprivileged
from hybridvmm.patch_table import patch_at
from hybridvmm.scan import scan_program

UNPATCHED = "no unpatched sensitive instruction runs"
"""The condition of a prediction for a statically patched image (see the module docstring)."""


@dataclass(frozen=True)
class Prediction:
    """Must ``mode`` be equivalent to the bare machine on this ISA, and why."""

    mode: str
    equivalent: bool
    reason: str
    culprits: tuple[str, ...] = ()
    condition: str = ""
    """Equivalent *if* this holds (``equivalent`` is then False: not guaranteed)."""


@dataclass(frozen=True)
class StaticPatches:
    """What an image's patch table leaves of the culprits in the image's own code: the
    sites (storage address, instruction) the scanner finds that no patch covers."""

    patches: int
    unpatched: tuple[tuple[int, str], ...]
    user_unpatched: tuple[tuple[int, str], ...]


def static_patches(image: Image, isa: ISA) -> StaticPatches | None:
    """The patch table's coverage of ``image``'s sensitive-unprivileged sites for ``isa``
    (None: the image has no patch table)."""
    if not image.patches:
        return None
    left = [s for s in scan_program(image, isa).sites if patch_at(image, s.physical) is None]
    return StaticPatches(len(image.patches), tuple((s.physical, s.name) for s in left),
                         tuple((s.physical, s.name) for s in left if s.user_sensitive))


def sensitive_unprivileged(isa: ISA) -> list[str]:
    return [s.name for s in isa.instructions.values() if is_sensitive_unprivileged(s.classes)]


def user_sensitive_unprivileged(isa: ISA) -> list[str]:
    return [s.name for s in isa.instructions.values() if USER in s.classes and PRIVILEGED not in s.classes]


def _patched(mode: str, theorem: str, bad: list[str], left: tuple[tuple[int, str], ...],
             table: StaticPatches) -> Prediction:
    """A failing theorem on a statically patched image: still failing where the table leaves
    a culprit of the image's code unpatched, else conditional on run-time copies."""
    if left:
        sites = ", ".join(f"{name} at 0x{address:x}" for address, name in left)
        return Prediction(mode, False, f"{theorem} fails: the image's patch table leaves {sites} unpatched", tuple(bad))
    kind = "sensitive" if theorem == "Theorem 1" else "user-sensitive"
    count = f"{table.patches} patch{'es' if table.patches != 1 else ''}"
    return Prediction(mode, False, f"{theorem} holds for the image's own code: its patch table ({count}"
                                   f") traps every {kind} unprivileged site the scanner finds there; equivalent "
                                   f"if {UNPATCHED} (the table cannot reach code the guest writes at run time, "
                                   f"such as copies of its code, nor code the scan did not find)",
                      tuple(bad), UNPATCHED)


def predict(isa: ISA, mode: str, exposed: tuple[str, ...] = (), patched: StaticPatches | None = None) -> Prediction:
    """The theory's verdict for ``mode`` on ``isa``.

    ``exposed``: instruction forms that the monitor's configuration leaves user-sensitive
    and unprivileged although the spec calls the instruction privileged — RISC-V's counter
    reads under ``--counters passthrough`` (the classifier's "holds when the counter enables
    are clear", with the enables left on).  They break Theorems 1 and 3 alike, and no patch
    repairs them on an ISA without a patch trap.  ``patched``: the image's patch table, for a
    statically patched image (:func:`static_patches`; the module docstring says what it
    changes)."""
    if mode == "pure":
        bad = sensitive_unprivileged(isa) + list(exposed)
        if bad and patched is not None and not exposed:
            return _patched(mode, "Theorem 1", bad, patched.unpatched, patched)
        if bad:
            return Prediction(mode, False, f"Theorem 1 fails: {', '.join(bad)} sensitive but not privileged", tuple(bad))
        return Prediction(mode, True, "Theorem 1 holds: every sensitive instruction is privileged")
    if mode == "hybrid-no-patch":
        bad = user_sensitive_unprivileged(isa) + list(exposed)
        if bad and patched is not None and not exposed:
            return _patched(mode, "Theorem 3", bad, patched.user_unpatched, patched)
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
