"""Equivalence: a guest under the monitor against the same guest on the bare machine.

What is compared (the events, the ending, the final state) is recorded by
:mod:`hybridvmm.recording`; the runs under the monitor by :mod:`hybridvmm.vmm.monitored`.
This module finds the first difference of each run from its bare reference
(:func:`first_divergence`), has :mod:`hybridvmm.vmm.lockstep` locate the responsible
instruction, and builds ``compare``'s table: one row per image and mode, with the theory's
prediction beside it.  The recording and lock-step names are re-exported for callers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from hybridvmm.asm.disassembler import format_instruction
from hybridvmm.image import Image
from hybridvmm.isa import ISA, load_isa
from hybridvmm.recording import Event, GuestRun, Recorder, bare_image, run_bare, show_value
from hybridvmm.vmm.lockstep import LOCKSTEP_CHUNK, Places, Responsible, locate
from hybridvmm.vmm.monitor import virt_for
from hybridvmm.vmm.monitored import run_monitor, vm_state
from hybridvmm.vmm import theory
from hybridvmm.vmm.modes import MODES

__all__ = ["LOCKSTEP_CHUNK", "Divergence", "Event", "GuestRun", "ImageComparison", "ModeResult", "Recorder",
           "Responsible", "bare_image", "compare_images", "first_divergence", "locate", "run_bare", "run_monitor",
           "vm_state"]


@dataclass
class Divergence:
    """The first guest-visible difference between a run and the bare reference."""

    kind: str
    count: int
    bare: str
    other: str
    address: int | None = None
    text: str = ""
    mode: str = ""
    responsible: Responsible | None = None
    place: str = ""
    """The address with its symbol (``0x8000010c <puthex+0x1c>``)."""
    label: str = ""
    """The mode in the ISA's words (RISC-V: ``U-mode``)."""

    def describe(self) -> str:
        return "; ".join(self.lines())

    def lines(self, name: str = "here") -> list[str]:
        """The report: the first divergent event (where, and each side), the responsible instruction."""
        place = self.place or (f"0x{self.address:x}" if self.address is not None else "")
        label = self.label or f"{self.mode} mode"
        where = f", at {place} `{self.text}` ({label})" if self.address is not None else ""
        out = [f"first divergent {self.kind} after {self.count:,} guest instructions{where}",
               f"bare: {self.bare}", f"{name}: {self.other}"]
        if self.responsible is not None:
            out.append(f"responsible: {self.responsible.describe()}")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "count": self.count, "address": self.address, "instruction": self.text,
                "mode": self.mode, "bare": self.bare, "other": self.other,
                "responsible": self.responsible.as_dict() if self.responsible else None}


def _text(event: Event, isa: ISA) -> str:
    return format_instruction(event.instruction, isa) if event.instruction is not None else "(no instruction there)"


def first_divergence(ref: GuestRun, run: GuestRun, image: Image, isa: ISA) -> Divergence | None:
    """The first difference between ``run`` and the bare reference ``ref`` (None: equivalent)."""
    places = Places(image, isa)
    for k, (a, b) in enumerate(zip(ref.events, run.events)):
        if a != b:
            return Divergence("event", min(a.count, b.count), f"{a.summary(places.label(a.mode))} after {a.count:,}",
                              f"{b.summary(places.label(b.mode))} after {b.count:,}", a.address, _text(a, isa), a.mode,
                              place=places.of(a.address, a.identity), label=places.label(a.mode))
    if len(ref.events) != len(run.events):
        k = min(len(ref.events), len(run.events))
        longer, which = (ref.events, "bare") if len(ref.events) > k else (run.events, "here")
        extra = longer[k]
        missing = "no further event"
        seen = f"{extra.summary(places.label(extra.mode))} after {extra.count:,}"
        bare, other = (seen, missing) if which == "bare" else (missing, seen)
        return Divergence("event", extra.count, bare, other, extra.address, _text(extra, isa), extra.mode,
                          place=places.of(extra.address, extra.identity), label=places.label(extra.mode))
    if (ref.reason, ref.detail) != (run.reason, run.detail):
        return Divergence("ending", run.instructions, f"{ref.reason} {ref.detail}".strip(), f"{run.reason} {run.detail}".strip())
    for key, value in ref.state.items():
        if run.state.get(key) != value:
            return Divergence("final state", run.instructions, f"{key}={show_value(value)}",
                              f"{key}={show_value(run.state.get(key))}")
    if ref.storage != run.storage:
        at = next(i for i in range(len(ref.storage)) if ref.storage[i] != run.storage[i]) & ~3
        return Divergence("final storage", run.instructions, f"word at 0x{at:x} = {ref.storage[at:at + 4].hex()}",
                          f"{run.storage[at:at + 4].hex()}")
    return None



# --- one image, every mode -----------------------------------------------------------------------------
@dataclass
class ModeResult:
    """One row of ``compare``: a mode's run of an image against the bare reference."""

    mode: str
    run: GuestRun
    divergence: Divergence | None
    predicted: bool
    reason: str
    costs: Any = None
    bare_cycles: int = 0
    bare_wall: float = 0.0
    notes: list[str] = field(default_factory=list)
    condition: str = ""
    """The theory's condition, when it predicts equivalence only if it holds (``predicted`` is False)."""

    @property
    def theory(self) -> str:
        """The prediction in a word: ``yes``, ``if`` (the condition) or ``no``."""
        return "yes" if self.predicted else ("if" if self.condition else "no")

    @property
    def equivalent(self) -> bool:
        return self.divergence is None

    @property
    def unexpected(self) -> bool:
        """The theory says this mode must be equivalent, and it is not."""
        return self.predicted and not self.equivalent

    def as_dict(self) -> dict[str, Any]:
        vm = self.run.vm
        stats = vm.stats.as_dict(self.run.monitor.costs) if vm is not None else None
        guest = self.run.instructions
        cycles = stats["host_cycles"] if stats else guest
        return {
            "mode": self.mode,
            "equivalent": self.equivalent,
            "predicted_equivalent": self.predicted,
            "theory": self.reason,
            "theory_condition": self.condition or None,
            "divergence": self.divergence.as_dict() if self.divergence else None,
            "guest_instructions": guest,
            "direct": stats["direct"] if stats else guest,
            "interpreted": stats["interpreted"] if stats else 0,
            "direct_fraction": stats["direct_fraction"] if stats else 1.0,
            "traps": stats["traps"] if stats else 0,
            "callouts": stats["callouts"] if stats else 0,
            "patches_hit": stats["patches_hit"] if stats else 0,
            "host_cycles": cycles,
            "slowdown_simulated": cycles / self.bare_cycles if self.bare_cycles else None,
            "wall_s": round(self.run.wall_s, 6),
            "slowdown_wall": self.run.wall_s / self.bare_wall if self.bare_wall else None,
            "ending": self.run.reason,
        }


@dataclass
class ImageComparison:
    """An image's bare reference and its row per mode."""

    image: Image
    isa: ISA
    bare: GuestRun
    rows: list[ModeResult]

    @property
    def unexpected(self) -> list[ModeResult]:
        return [r for r in self.rows if r.unexpected]

    def as_dict(self) -> dict[str, Any]:
        return {
            "image": self.image.source, "isa": self.isa.name,
            "bare": {"guest_instructions": self.bare.instructions, "ending": self.bare.reason,
                     "host_cycles": self.bare.instructions, "wall_s": round(self.bare.wall_s, 6)},
            "runs": [r.as_dict() for r in self.rows],
        }


def compare_images(images: list[Image], modes: list[str], isa: ISA | str | None = None, max_steps: int = 50_000_000,
                   console_input: bytes = b"", locate_divergences: bool = True, progress: Callable[[str], None] | None = None,
                   prepare: Callable[[str, Any], None] | None = None, **monitor_args: Any) -> list[ImageComparison]:
    """Run ``images`` bare (each alone) and together under each of ``modes``; compare every VM
    with its bare run, and locate the responsible instruction of each divergence.
    ``progress(text)`` hears what is being run; ``prepare(mode, monitor)`` sees each mode's
    monitor before it runs."""
    tell = progress or (lambda text: None)
    isa = load_isa(isa or images[0].isa) if not isinstance(isa, ISA) else isa
    virt_options = monitor_args.get("virt_options")
    exposed = getattr(virt_for(isa, virt_options or {}), "exposed_forms", lambda: ())()
    tell(f"{isa.name}: bare runs")
    refs = [run_bare(image, isa, max_steps, console_input) for image in images]
    tables = [theory.static_patches(image, isa) for image in images]
    out = [ImageComparison(image, isa, ref, []) for image, ref in zip(images, refs)]
    for mode in modes:
        tell(f"{isa.name}: {mode}")
        args = dict(monitor_args)
        if args.get("adaptive") and not MODES[mode].adapts:
            del args["adaptive"]                   # (interpret and bt run nothing directly untranslated)
        ready = (lambda monitor, mode=mode: prepare(mode, monitor)) if prepare is not None else None
        runs = run_monitor(images, mode, isa, max_steps, console_input, prepare=ready, **args)
        for comparison, run, table in zip(out, runs, tables):
            prediction = theory.predict(isa, mode, exposed, table)  # looked up per call: tests replace it
            divergence = first_divergence(comparison.bare, run, comparison.image, isa)
            if divergence is not None and locate_divergences:
                tell(f"{isa.name}: {mode}: locating the divergence of {comparison.image.source} in lock step")
                divergence.responsible = locate(comparison.image, mode, isa, max_steps, console_input,
                                                monitor_args.get("slice_length"), virt_options)
            row = ModeResult(mode, run, divergence, prediction.equivalent, prediction.reason,
                             bare_cycles=comparison.bare.instructions, bare_wall=comparison.bare.wall_s,
                             condition=prediction.condition)
            comparison.rows.append(row)
    return out
