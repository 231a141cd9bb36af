"""Target descriptions: the XML that tells gdb which registers the stub serves.

gdb reads ``target.xml`` with ``qXfer:features:read``; each :class:`Register` becomes a
``<reg>`` of its feature, numbered ``regnum`` (the number ``p``/``P`` packets use).  One
document holds every feature (no ``xi:include``), so a client needs one transfer.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import quoteattr


@dataclass(frozen=True)
class Register:
    """One register as gdb sees it."""

    name: str
    bits: int
    regnum: int
    feature: str
    type: str = "int"
    group: str | None = None

    @property
    def size(self) -> int:
        """Bytes in a ``g``/``p`` packet."""
        return self.bits // 8


def target_xml(architecture: str | None, registers: list[Register], *, types: str = "") -> str:
    """The target description: ``architecture`` (None: none named) and the registers, in
    feature order of first appearance.  ``types`` is extra XML placed at the start of the
    first feature (type definitions its registers use)."""
    lines = ['<?xml version="1.0"?>', '<!DOCTYPE target SYSTEM "gdb-target.dtd">', '<target version="1.0">']
    if architecture:
        lines.append(f"  <architecture>{architecture}</architecture>")
    features: dict[str, list[Register]] = {}
    for reg in registers:
        features.setdefault(reg.feature, []).append(reg)
    first = True
    for feature, regs in features.items():
        lines.append(f"  <feature name={quoteattr(feature)}>")
        if first and types:
            lines.append(types)
        first = False
        for reg in regs:
            group = f" group={quoteattr(reg.group)}" if reg.group else ""
            lines.append(f"    <reg name={quoteattr(reg.name)} bitsize=\"{reg.bits}\" regnum=\"{reg.regnum}\" "
                         f"type={quoteattr(reg.type)}{group}/>")
        lines.append("  </feature>")
    lines.append("</target>")
    return "\n".join(lines) + "\n"
