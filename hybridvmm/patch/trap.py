"""The replacement for a site, found through the spec, never by ISA name.

An ISA that can be patched says how in ``[system] patch``::

    patch = { trap = "vmtrap", operands = { code = 0 }, pad = "nop" }

``trap`` names the trap-to-monitor instruction (flow ``trap``, no class: it must behave the
same in every mode), ``operands`` its operand values, ``pad`` the instruction that fills
the rest of a longer site (flow ``none``, no class) so that no other byte moves.
"""

from __future__ import annotations

from dataclasses import dataclass

from hybridvmm.errors import UserError
from hybridvmm.isa import ISA, Decoder, InstructionSpec


class PatchSpecError(UserError):
    """The ISA does not say (or says wrongly) how to patch it."""


@dataclass(frozen=True)
class TrapPatch:
    """Builds ``trap`` + ``pad``… replacements of any site length the ISA allows."""

    trap: InstructionSpec
    pad: InstructionSpec
    trap_bytes: bytes
    pad_bytes: bytes

    @classmethod
    def for_isa(cls, isa: ISA, decoder: Decoder) -> "TrapPatch":
        spec = isa.system.get("patch")
        if not isinstance(spec, dict) or "trap" not in spec or "pad" not in spec:
            raise PatchSpecError(
                f"ISA {isa.name} does not say how to patch it: its spec needs "
                '[system] patch = { trap = "INSN", operands = {...}, pad = "INSN" }'
            )
        trap = isa.instructions.get(str(spec["trap"]))
        pad = isa.instructions.get(str(spec["pad"]))
        if trap is None or pad is None:
            missing = spec["trap"] if trap is None else spec["pad"]
            raise PatchSpecError(f"ISA {isa.name}: [system] patch names unknown instruction '{missing}'")
        if trap.static_flow != "trap" or trap.classes:
            raise PatchSpecError(f"ISA {isa.name}: patch trap '{trap.name}' must have flow 'trap' and no class")
        if pad.static_flow != "none" or pad.classes:
            raise PatchSpecError(f"ISA {isa.name}: patch pad '{pad.name}' must have flow 'none' and no class")
        try:
            trap_bytes = decoder.encode(trap, dict(spec.get("operands", {})))
            pad_bytes = decoder.encode(pad, {})
        except UserError as exc:
            raise PatchSpecError(f"ISA {isa.name}: [system] patch: {exc}") from None
        return cls(trap, pad, trap_bytes, pad_bytes)

    def replacement(self, length: int) -> bytes:
        """``length`` bytes: the trap, then pads."""
        rest = length - len(self.trap_bytes)
        if rest < 0 or rest % len(self.pad_bytes):
            raise PatchSpecError(
                f"cannot patch a {length}-byte instruction with {len(self.trap_bytes)}-byte '{self.trap.name}' "
                f"and {len(self.pad_bytes)}-byte '{self.pad.name}' padding"
            )
        return self.trap_bytes + self.pad_bytes * (rest // len(self.pad_bytes))
