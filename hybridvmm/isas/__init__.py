"""Per-ISA semantics and system models, registered as one :class:`Family` record per ISA family.

A family names, as ``module:attribute`` strings (imported only when used), the pieces the
ISA-agnostic layers need from it: the machine model (``build_machine``), the classifier
probe (:mod:`hybridvmm.classify`) and the virtualization model the monitor drives
(:mod:`hybridvmm.vmm`).  Variants find their family through ``extends``.  A new ISA slots in
by adding its record here; nothing outside this package names a machine class.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from hybridvmm.errors import UserError
from hybridvmm.image import Image
from hybridvmm.isa import ISA, load_isa
from hybridvmm.machine.core import Machine


@dataclass(frozen=True)
class Family:
    """What one ISA family supplies; each piece ``module:attribute``, or None if not built."""

    name: str
    machine: str
    probe: str | None = None
    virt: str | None = None
    gdb: str | None = None
    """The gdb stub's view of one CPU of the family (:class:`hybridvmm.gdbstub.cpu.CpuView`)."""


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("pgm", "hybridvmm.isas.pgm.machine:PgmMachine", "hybridvmm.isas.pgm.probe:PgmProbe",
               "hybridvmm.isas.pgm.virt:PgmVirt", "hybridvmm.gdbstub.pgm:PgmView"),
        Family("rv32", "hybridvmm.isas.riscv.machine:RiscvMachine", "hybridvmm.isas.riscv.probe:RiscvProbe",
               "hybridvmm.isas.riscv.virt:RiscvVirt", "hybridvmm.gdbstub.riscv:RiscvView"),
    )
}
"""Base ISA name → its family record."""


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def family_of(isa: ISA | str) -> Family | None:
    """The family serving ``isa`` (itself, or the first ISA it extends that has one)."""
    isa = load_isa(isa) if isinstance(isa, str) else isa
    return next((FAMILIES[name] for name in isa.lineage if name in FAMILIES), None)


def family(isa: ISA) -> str | None:
    """The base ISA whose model serves ``isa`` (following ``extends``), or None."""
    f = family_of(isa)
    return None if f is None else f.name


def machine_class(isa: ISA | str) -> type[Machine]:
    isa = load_isa(isa) if isinstance(isa, str) else isa
    f = family_of(isa)
    if f is None:
        raise UserError(f"no machine model for ISA '{isa.name}' (models exist for: {', '.join(sorted(FAMILIES))})")
    return _load(f.machine)


def gdb_view(isa: ISA | str) -> type | None:
    """The class of the gdb stub's view of a CPU of ``isa`` (None: the family has none)."""
    f = family_of(isa)
    return None if f is None or f.gdb is None else _load(f.gdb)


def build_machine(isa: ISA | str, *, storage_size: int | None = None, image: Image | None = None, **kwargs: Any) -> Machine:
    """A machine for ``isa``; with ``image``, storage large enough for it and the image loaded.

    ``storage_size`` defaults to the model's ``default_storage`` (1 MiB for pgm), grown in
    64 KiB steps to hold the image.
    """
    isa = load_isa(isa) if isinstance(isa, str) else isa
    cls = machine_class(isa)
    size = storage_size if storage_size is not None else storage_for(isa, image)
    m = cls(isa, size, **kwargs)
    if image is not None:
        m.load(image)
    return m


MAX_STORAGE = 512 << 20
"""The most storage one machine is given (512 MiB): a hard cap, so that an image whose
sections lie high up is a one-line error instead of an attempt to allocate gigabytes
(``run --storage`` may raise its own limit up to this; the monitor's allocator holds
several such VMs in its 1 GiB of host storage)."""


def storage_for(isa: ISA | str, image: Image | None = None) -> int:
    """The storage a machine for ``isa`` gets to run ``image``: the model's default, grown
    in 64 KiB steps to hold the image (a monitor gives each VM the same, so that the guest
    finds the storage the bare machine would give it); UserError beyond :data:`MAX_STORAGE`."""
    cls = machine_class(isa)
    size = cls.default_storage
    if image is not None and cls.storage_needed(image) > size:
        size = (cls.storage_needed(image) + 0xFFFF) & ~0xFFFF
    if size > MAX_STORAGE:
        where = f"{image.source or 'image'}: needs" if image is not None else "needs"
        reach = f" (its sections reach {image.high:#x})" if image is not None else ""
        raise UserError(f"{where} {size:#x} bytes of storage{reach}; at most {MAX_STORAGE:#x} "
                        f"({MAX_STORAGE >> 20} MiB) are supported")
    return size


def mode_label(isa: ISA | str, mode: str) -> str:
    """How a report names a mode of ``isa``'s machine (RISC-V: ``U-mode``; pgm: ``user mode``)."""
    labels = getattr(machine_class(isa), "MODE_LABELS", {})
    return labels.get(mode, f"{mode} mode")


def probe_class(isa: ISA) -> Any:
    """The classifier probe class of ``isa``'s family (UserError if it has none)."""
    f = family_of(isa)
    if f is None or f.probe is None:
        raise UserError(f"no system model to classify ISA '{isa.name}' with")
    return _load(f.probe)


def probe_for(isa: ISA | str) -> Any:
    """A classifier probe of ``isa``'s family over ``isa``: what :mod:`hybridvmm.classify`
    is handed to execute instructions on (UserError if the family has none)."""
    isa = load_isa(isa) if isinstance(isa, str) else isa
    return probe_class(isa)(isa)


def virt_model(isa: ISA) -> Any:
    """The virtualization model (monitor backend) of ``isa``'s family (UserError if none)."""
    f = family_of(isa)
    if f is None or f.virt is None:
        raise UserError(f"no virtualization model for ISA '{isa.name}': it runs on the bare machine only")
    return _load(f.virt)


__all__ = ["FAMILIES", "Family", "MAX_STORAGE", "build_machine", "family", "family_of", "machine_class", "mode_label",
           "probe_class", "probe_for", "storage_for", "virt_model"]
