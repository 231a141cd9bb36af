"""The cost table that turns a run's event counts into simulated host cycles (docs/modes.md, 'The cost table')."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from hybridvmm.errors import UserError, parse_toml, read_input

EVENTS = ("direct", "interpreted", "trap", "reflect", "scan", "patch", "switch",
          "exit-csr", "exit-xret", "exit-ecall", "exit-wfi", "exit-timer", "exit-mmio", "exit-refill",
          "compose", "flush", "translated", "translate", "callout")
"""What costs cycles: a directly executed instruction, an interpreted one, a trap into the
monitor and back (an exit whose cause has no entry of its own), a trap reflected into the
guest, an instruction scanned, a patch written, a world switch; exits by cause, round trip
included (a CSR access, an xRET, an ecall, a wfi, the real timer, an MMIO access, a
shadow page-table refill); a composition (shadow page table) built, and a guest flush
followed; under binary translation, an instruction run from the translation cache, one
instruction translated, and a callout (a sensitive or privileged instruction's interpreter
routine called from translated code)."""


@dataclass(frozen=True)
class Costs:
    """Cycles per event, each with where the number comes from."""

    cycles: dict[str, int]
    sources: dict[str, str]
    origin: str

    def of(self, counts: dict[str, int]) -> int:
        """Simulated host cycles of ``counts`` (event name → how many)."""
        return sum(self.cycles[e] * counts.get(e, 0) for e in EVENTS)


def _parse(text: str, origin: str, base: "Costs | None") -> Costs:
    data = parse_toml(text, origin)
    cycles = dict(base.cycles) if base else {}
    sources = dict(base.sources) if base else {}
    for name, entry in data.items():
        if name not in EVENTS:
            raise UserError(f"{origin}: unknown cost '{name}' (known: {', '.join(EVENTS)})")
        value = entry.get("cycles") if isinstance(entry, dict) else entry
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise UserError(f"{origin}: [{name}] cycles must be a non-negative integer")
        cycles[name] = value
        sources[name] = str(entry.get("source", "")) if isinstance(entry, dict) else ""
    missing = [e for e in EVENTS if e not in cycles]
    if missing:
        raise UserError(f"{origin}: missing cost(s) {', '.join(missing)}")
    return Costs(cycles, sources, origin)


def default_costs() -> Costs:
    """The table shipped with the package (``hybridvmm/vmm/costs.toml``)."""
    text = resources.files(__package__).joinpath("costs.toml").read_text(encoding="utf-8")
    return _parse(text, "costs.toml", None)


def load_costs(path: str | Path | None) -> Costs:
    """The default table, or ``path``'s entries over it (a one-line error if it is bad)."""
    if path is None:
        return default_costs()
    raw = read_input(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text") from None
    return _parse(text, str(path), default_costs())
