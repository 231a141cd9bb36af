"""Per-ISA semantics and system models, and the one way to build a machine for an ISA.

``build_machine("pgm-x86")`` returns a ready machine for any bundled ISA (or variant)
that has a model here; the rest of the toolkit never names a machine class.
"""

from __future__ import annotations

import importlib
from typing import Any

from hybridvmm.errors import UserError
from hybridvmm.image import Image
from hybridvmm.isa import ISA, load_isa
from hybridvmm.machine.core import Machine

MODELS: dict[str, str] = {
    "pgm": "hybridvmm.isas.pgm:PgmMachine",
}
"""Base ISA name → ``module:class`` of its machine (variants find it through ``extends``)."""


def _base_in(isa: ISA, table: dict[str, str]) -> str | None:
    """The first ISA in ``isa``'s lineage (itself, then what it extends) that ``table`` names."""
    return next((name for name in isa.lineage if name in table), None)


def family(isa: ISA) -> str | None:
    """The base ISA whose model serves ``isa`` (following ``extends``), or None."""
    return _base_in(isa, MODELS)


def machine_class(isa: ISA | str) -> type[Machine]:
    isa = load_isa(isa) if isinstance(isa, str) else isa
    base = family(isa)
    if base is None:
        raise UserError(f"no machine model for ISA '{isa.name}' (models exist for: {', '.join(sorted(MODELS))})")
    module, _, cls = MODELS[base].partition(":")
    return getattr(importlib.import_module(module), cls)


def build_machine(isa: ISA | str, *, storage_size: int | None = None, image: Image | None = None, **kwargs: Any) -> Machine:
    """A machine for ``isa``; with ``image``, storage large enough for it and the image loaded.

    ``storage_size`` defaults to the model's ``default_storage`` (1 MiB for pgm), grown in
    64 KiB steps to hold the image.
    """
    isa = load_isa(isa) if isinstance(isa, str) else isa
    cls = machine_class(isa)
    size = storage_size if storage_size is not None else cls.default_storage
    if image is not None and storage_size is None and image.high > size:
        size = (image.high + 0xFFFF) & ~0xFFFF
    m = cls(isa, size, **kwargs)
    if image is not None:
        m.load(image)
    return m


PROBES: dict[str, str] = {
    "pgm": "hybridvmm.isas.pgm_probe:PgmProbe",
}
"""Base ISA name → ``module:class`` of its classifier probe (see :mod:`hybridvmm.classify.probe`)."""


def probe_path(isa: ISA) -> str | None:
    """``module:class`` of the classifier probe for ``isa``'s family, or None."""
    base = _base_in(isa, PROBES)
    return None if base is None else PROBES[base]


__all__ = ["MODELS", "PROBES", "build_machine", "family", "machine_class", "probe_path"]
