"""Per-VM monitor statistics: where the guest's instructions ran and what the monitor did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hybridvmm.vmm.costs import EVENTS, Costs


def _bump(counter: dict[str, int], key: str, n: int = 1) -> None:
    counter[key] = counter.get(key, 0) + n


@dataclass
class VmStats:
    """Counters of one VM.

    ``by_mode`` is every guest instruction by the guest's *virtual* mode; ``direct`` the
    part executed directly on the host (the rest was interpreted).  ``exits`` counts the
    host's traps and interrupts that entered the monitor while the VM ran, by cause;
    ``reflected`` the traps delivered into the guest (its own: by cause); ``emulated`` the
    instructions the interpreter routines executed after an exit (privileged instructions
    of the virtual supervisor, patched sites).
    """

    by_mode: dict[str, int] = field(default_factory=dict)
    direct: dict[str, int] = field(default_factory=dict)
    exits: dict[str, int] = field(default_factory=dict)
    reflected: dict[str, int] = field(default_factory=dict)
    emulated: int = 0
    clustered: int = 0
    """Of ``emulated``: instructions emulated in the same exit as the one before them."""
    patches_hit: int = 0
    patch_hits: dict[str, int] = field(default_factory=dict)
    """Patch hits by the original instruction emulated."""
    patches_applied: int = 0
    patches_dropped: int = 0
    blocks_scanned: int = 0
    instructions_scanned: int = 0
    switches: int = 0
    translated: dict[str, int] = field(default_factory=dict)
    """Binary translation: the instructions, by virtual mode, run from the translation
    cache (callouts included); empty in every other mode."""
    callouts: int = 0
    """Of ``translated``: sensitive and privileged instructions (and device accesses) run by
    their interpreter routine, called from translated code."""
    translations: int = 0
    """Blocks translated (one translated again after a store changed its code counts again;
    one the host compiled again over the same bytes — its mapping made anew — does not)."""
    instructions_translated: int = 0
    translations_dropped: int = 0
    """Of ``translations``: translated again because a store had changed the block's code."""
    adaptive_sites: int = 0
    """Adaptive translation: direct sites translated because they kept trapping."""
    adaptive_entries: int = 0
    """Adaptive translation: runs of a translated site's block instead of an exit."""
    compositions: dict[str, int] = field(default_factory=dict)
    """What a paged family's composed mapping cost (RISC-V: ``built``, ``dropped``,
    ``flushes``, ``refills``, ``guest_pages``); empty for a family without one."""
    wall_s: float = 0.0

    bump = staticmethod(_bump)

    @property
    def guest_instructions(self) -> int:
        return sum(self.by_mode.values())

    @property
    def direct_instructions(self) -> int:
        return sum(self.direct.values())

    @property
    def interpreted_instructions(self) -> int:
        return self.guest_instructions - self.direct_instructions

    @property
    def interpreted(self) -> dict[str, int]:
        return {m: n - self.direct.get(m, 0) for m, n in self.by_mode.items() if n - self.direct.get(m, 0)}

    @property
    def translated_instructions(self) -> int:
        return sum(self.translated.values())

    @property
    def traps(self) -> int:
        """Traps into the monitor (every exit but the real timer's, which is the monitor's own clock)."""
        return sum(n for cause, n in self.exits.items() if cause != "timer")

    def events(self) -> dict[str, int]:
        """The counts the cost table prices: an exit whose cause has an entry of its own
        (``exit-csr`` …) is priced by it, every other exit as a plain ``trap``."""
        translated = self.translated_instructions
        counts = {
            "direct": self.direct_instructions,
            "interpreted": self.interpreted_instructions - translated,
            "translated": translated - self.callouts,
            "callout": self.callouts,
            "translate": self.instructions_translated,
            "trap": 0,
            "reflect": sum(self.reflected.values()),
            "scan": self.instructions_scanned,
            "patch": self.patches_applied,
            "switch": self.switches,
            "compose": self.compositions.get("built", 0),
            "flush": self.compositions.get("flushes", 0),
        }
        for cause, n in self.exits.items():
            key = f"exit-{cause}"
            key = key if key in EVENTS else "trap"
            counts[key] = counts.get(key, 0) + n
        return counts

    def as_dict(self, costs: Costs, timing: bool = True) -> dict[str, Any]:
        """Everything as data; without ``timing`` the wall time is left out, so two runs of
        the same guests give the same bytes."""
        guest = self.guest_instructions
        out = {
            "guest_instructions": guest,
            "direct": self.direct_instructions,
            "interpreted": self.interpreted_instructions,
            "direct_fraction": self.direct_instructions / guest if guest else 0.0,
            "by_mode": dict(self.by_mode),
            "direct_by_mode": dict(self.direct),
            "interpreted_by_mode": self.interpreted,
            "translated_by_mode": dict(self.translated),
            "callouts": self.callouts,
            "translations": self.translations,
            "instructions_translated": self.instructions_translated,
            "translations_dropped": self.translations_dropped,
            "adaptive_sites": self.adaptive_sites,
            "adaptive_entries": self.adaptive_entries,
            "exits": dict(sorted(self.exits.items())),
            "traps": self.traps,
            "reflected": dict(sorted(self.reflected.items())),
            "emulated": self.emulated,
            "clustered": self.clustered,
            "patches_hit": self.patches_hit,
            "patch_hits": dict(sorted(self.patch_hits.items())),
            "patches_applied": self.patches_applied,
            "patches_dropped": self.patches_dropped,
            "blocks_scanned": self.blocks_scanned,
            "instructions_scanned": self.instructions_scanned,
            "switches": self.switches,
            "compositions": dict(self.compositions),
            "host_cycles": costs.of(self.events()),
        }
        if timing:
            out["wall_s"] = round(self.wall_s, 6)
        return out
