"""Equivalence: a guest under the monitor against the same guest on the bare machine.

Popek and Goldberg's equivalence is checked exactly, on what the guest can see:

* the **events**, in order, each with the guest instruction count at which it happened —
  every console byte written and every trap or interrupt delivered to the guest (cause,
  saved pc, address, the guest's mode);
* how the run **ended** (halted, trap loop, instruction limit);
* the **final state**: registers, flags and the virtual PSW (mode, IE, R, timer), and the
  guest's storage as the guest sees it (original bytes under patches).

When they differ, the report names the first divergent event and then finds the
*responsible instruction* by running both sides again in lock step — in chunks, then one
instruction at a time from the last chunk that still agreed — up to the first guest
instruction after which their complete guest-visible state differs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from hybridvmm.asm.disassembler import format_instruction
from hybridvmm.image import Image
from hybridvmm.isa import ISA, load_isa
from hybridvmm.isas import build_machine, storage_for
from hybridvmm.machine import Machine, TrapSignal
from hybridvmm.patch_table import original_view
from hybridvmm.vmm.monitor import Monitor
from hybridvmm.vmm.vm import VM

LOCKSTEP_CHUNK = 1000


@dataclass(frozen=True)
class Event:
    """One guest-visible event: a console byte or a trap/interrupt the guest received.

    ``instruction`` (not compared) is what stood at ``address`` under the guest's mapping
    at the time, for reports."""

    count: int
    kind: str
    detail: str
    address: int
    mode: str
    instruction: Any = field(default=None, compare=False)

    def describe(self) -> str:
        return f"{self.kind} {self.detail} at 0x{self.address:x} ({self.mode} mode, after {self.count:,} instructions)"

    def summary(self) -> str:
        """What happened, without where and when (which the report gives once)."""
        return f"{self.kind} {self.detail} in {self.mode} mode" + ("" if self.kind == "out" else f" at 0x{self.address:x}")


def _instruction(m: Machine, address: int) -> Any:
    try:
        return m.instruction_at(address)
    except TrapSignal:
        return None


class Recorder:
    """Records a machine's guest-visible events through its output and trap hooks."""

    def __init__(self, machine: Machine):
        self.events: list[Event] = []
        self.machine = machine
        machine.hook_output(self._out)
        machine.hook_trap(self._trap)

    def _out(self, m: Machine, byte: int) -> None:
        self.events.append(Event(m.stats.instructions, "out", f"0x{byte:02x}", m.pc, m.mode, _instruction(m, m.pc)))

    def _trap(self, m: Machine, trap) -> None:
        kind = "interrupt" if trap.interrupt else "trap"
        self.events.append(Event(m.stats.instructions, kind, f"{trap.name} pc=0x{trap.pc:x}", trap.address, m.mode,
                                 _instruction(m, trap.address)))


@dataclass
class GuestRun:
    """Everything one run of one guest showed, bare or under a monitor mode."""

    mode: str
    reason: str
    detail: str
    events: list[Event]
    console: bytes
    state: dict[str, Any]
    storage: bytes
    instructions: int
    wall_s: float
    vm: VM | None = None
    monitor: Monitor | None = None


def bare_image(image: Image) -> Image:
    """What the bare machine runs of ``image``: its original bytes if it was patched."""
    return original_view(image) if image.patches else image


def run_bare(image: Image, isa: ISA | str | None = None, max_steps: int = 50_000_000, console_input: bytes = b"") -> GuestRun:
    """``image`` on the bare machine, recorded."""
    isa = load_isa(isa or image.isa) if not isinstance(isa, ISA) else isa
    m = build_machine(isa, image=bare_image(image), storage_size=storage_for(isa, image))
    m.console.feed(console_input)
    rec = Recorder(m)
    start = time.perf_counter()
    result = m.run(max_steps)
    wall = time.perf_counter() - start
    return GuestRun("bare", result.reason, result.detail, rec.events, bytes(m.console.output), m.cpu_state(),
                    m.storage.snapshot(), m.stats.instructions, wall)


def vm_state(monitor: Monitor, vm: VM) -> dict[str, Any]:
    """The VM's CPU state as the guest would find it (its registers loaded)."""
    if monitor.current is not vm:
        monitor.switch_to(vm)
    return vm.vcpu.cpu_state()


def run_monitor(images: list[Image], mode: str, isa: ISA | str | None = None, max_steps: int = 50_000_000,
                console_input: bytes = b"", **kwargs: Any) -> list[GuestRun]:
    """``images`` together under ``mode``, one recorded run per VM."""
    monitor = Monitor(images, mode, isa=isa, max_steps=max_steps, **kwargs)
    recorders = []
    for vm in monitor.vms:
        vm.console.feed(console_input)
        recorders.append(Recorder(vm.vcpu))
    monitor.run()
    runs = []
    for vm, rec in zip(monitor.vms, recorders):
        outcome = vm.outcome
        runs.append(GuestRun(mode, outcome.reason, outcome.detail, rec.events, bytes(vm.console.output),
                             vm_state(monitor, vm), vm.guest_storage(), vm.guest_instructions, vm.stats.wall_s, vm, monitor))
    return runs


# --- divergence ------------------------------------------------------------------------------------
@dataclass
class Responsible:
    """The guest instruction after which the two runs' states first differ."""

    count: int
    address: int
    text: str
    mode: str
    differences: list[str]

    def describe(self) -> str:
        return (f"`{self.text}` at 0x{self.address:x} ({self.mode} mode), guest instruction {self.count:,}; "
                f"after it {'; '.join(self.differences)}")

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "address": self.address, "instruction": self.text, "mode": self.mode,
                "differences": self.differences}


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

    def describe(self) -> str:
        return "; ".join(self.lines())

    def lines(self, name: str = "here") -> list[str]:
        """The report: the first divergent event (where, and each side), the responsible instruction."""
        where = f", at 0x{self.address:x} `{self.text}` ({self.mode} mode)" if self.address is not None else ""
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
    for k, (a, b) in enumerate(zip(ref.events, run.events)):
        if a != b:
            return Divergence("event", min(a.count, b.count), f"{a.summary()} after {a.count:,}",
                              f"{b.summary()} after {b.count:,}", a.address, _text(a, isa), a.mode)
    if len(ref.events) != len(run.events):
        k = min(len(ref.events), len(run.events))
        longer, which = (ref.events, "bare") if len(ref.events) > k else (run.events, "here")
        extra = longer[k]
        missing = "no further event"
        seen = f"{extra.summary()} after {extra.count:,}"
        bare, other = (seen, missing) if which == "bare" else (missing, seen)
        return Divergence("event", extra.count, bare, other, extra.address, _text(extra, isa), extra.mode)
    if (ref.reason, ref.detail) != (run.reason, run.detail):
        return Divergence("ending", run.instructions, f"{ref.reason} {ref.detail}".strip(), f"{run.reason} {run.detail}".strip())
    for key, value in ref.state.items():
        if run.state.get(key) != value:
            return Divergence("final state", run.instructions, f"{key}={_show(value)}", f"{key}={_show(run.state.get(key))}")
    if ref.storage != run.storage:
        at = next(i for i in range(len(ref.storage)) if ref.storage[i] != run.storage[i]) & ~3
        return Divergence("final storage", run.instructions, f"word at 0x{at:x} = {ref.storage[at:at + 4].hex()}",
                          f"{run.storage[at:at + 4].hex()}")
    return None


def _show(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        return str(value)
    return f"0x{value:x}"


# --- lock step -------------------------------------------------------------------------------------
class _Side:
    """One side of a lock-step comparison that can advance by guest instructions."""

    def __init__(self, image: Image, isa: ISA, mode: str, max_steps: int, console_input: bytes, slice_length: int | None):
        self.mode = mode
        if mode == "bare":
            self.machine = build_machine(isa, image=bare_image(image), storage_size=storage_for(isa, image))
            self.machine.console.feed(console_input)
            self.monitor = None
        else:
            kwargs = {} if slice_length is None else {"slice_length": slice_length}
            self.monitor = Monitor([image], mode, isa=isa, max_steps=max_steps, **kwargs)
            self.vm = self.monitor.vms[0]
            self.vm.console.feed(console_input)
            self.machine = self.vm.vcpu

    @property
    def count(self) -> int:
        return self.machine.stats.instructions

    @property
    def done(self) -> bool:
        return self.machine.halted or (self.monitor is not None and self.vm.done)

    def advance_to(self, count: int) -> None:
        if self.monitor is None:
            if not self.machine.halted and self.machine.stats.instructions < count:
                self.machine.run(count - self.machine.stats.instructions)
        elif not self.vm.done:
            self.monitor.run(until=count)

    def state(self) -> tuple[dict[str, Any], bytes]:
        if self.monitor is None:
            return self.machine.cpu_state(), self.machine.storage.snapshot()
        return vm_state(self.monitor, self.vm), self.vm.guest_storage()


def _differences(a: tuple[dict[str, Any], bytes], b: tuple[dict[str, Any], bytes]) -> list[str]:
    out = []
    for k, v in a[0].items():
        w = b[0].get(k)
        if w == v:
            continue
        if isinstance(v, (list, tuple)) and isinstance(w, (list, tuple)) and len(v) == len(w):
            out.extend(f"{k}[{i}]: bare {_show(x)}, here {_show(y)}" for i, (x, y) in enumerate(zip(v, w)) if x != y)
        else:
            out.append(f"{k}: bare {_show(v)}, here {_show(w)}")
    if a[1] != b[1]:
        at = next(i for i in range(len(a[1])) if a[1][i] != b[1][i]) & ~3
        out.append(f"storage word 0x{at:x}: bare {a[1][at:at + 4].hex()}, here {b[1][at:at + 4].hex()}")
    return out


def locate(image: Image, mode: str, isa: ISA | str | None = None, max_steps: int = 50_000_000,
           console_input: bytes = b"", slice_length: int | None = None) -> Responsible | None:
    """Run bare and ``mode`` in lock step to the first guest instruction after which their
    guest-visible states differ; None if they never do within ``max_steps``."""
    isa = load_isa(isa or image.isa) if not isinstance(isa, ISA) else isa

    def pair() -> tuple[_Side, _Side]:
        return (_Side(image, isa, "bare", max_steps, console_input, slice_length),
                _Side(image, isa, mode, max_steps, console_input, slice_length))

    bare, other = pair()
    agreed = 0
    while True:
        target = agreed + LOCKSTEP_CHUNK
        bare.advance_to(target)
        other.advance_to(target)
        if bare.state() != other.state() or bare.count != other.count:
            break
        if bare.done or other.done or target >= max_steps:
            return None
        agreed = target
    bare, other = pair()
    bare.advance_to(agreed)
    other.advance_to(agreed)
    while bare.count < max_steps:
        m = bare.machine
        pc, mode_name, count = m.pc, m.mode, bare.count
        try:
            text = format_instruction(m.instruction_at(pc), isa)
        except TrapSignal:
            text = "(no instruction: the fetch faults)"
        bare.advance_to(count + 1)
        other.advance_to(count + 1)
        a, b = bare.state(), other.state()
        if a != b or bare.count != other.count:
            diffs = _differences(a, b)
            if bare.count != other.count:
                diffs.append(f"instructions: bare {bare.count}, here {other.count}")
            return Responsible(count + 1, pc, text, mode_name, diffs)
        if bare.done or other.done:
            return None
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
            "divergence": self.divergence.as_dict() if self.divergence else None,
            "guest_instructions": guest,
            "direct": stats["direct"] if stats else guest,
            "interpreted": stats["interpreted"] if stats else 0,
            "direct_fraction": stats["direct_fraction"] if stats else 1.0,
            "traps": stats["traps"] if stats else 0,
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
                   **monitor_args: Any) -> list[ImageComparison]:
    """Run ``images`` bare (each alone) and together under each of ``modes``; compare every VM
    with its bare run, and locate the responsible instruction of each divergence.
    ``progress(text)`` hears what is being run."""
    from hybridvmm.vmm.theory import predict

    tell = progress or (lambda text: None)
    isa = load_isa(isa or images[0].isa) if not isinstance(isa, ISA) else isa
    tell(f"{isa.name}: bare runs")
    refs = [run_bare(image, isa, max_steps, console_input) for image in images]
    out = [ImageComparison(image, isa, ref, []) for image, ref in zip(images, refs)]
    for mode in modes:
        tell(f"{isa.name}: {mode}")
        runs = run_monitor(images, mode, isa, max_steps, console_input, **monitor_args)
        prediction = predict(isa, mode)
        for comparison, run in zip(out, runs):
            divergence = first_divergence(comparison.bare, run, comparison.image, isa)
            if divergence is not None and locate_divergences:
                tell(f"{isa.name}: {mode}: locating the divergence of {comparison.image.source} in lock step")
                divergence.responsible = locate(comparison.image, mode, isa, max_steps, console_input,
                                                monitor_args.get("slice_length"))
            row = ModeResult(mode, run, divergence, prediction.equivalent, prediction.reason,
                             bare_cycles=comparison.bare.instructions, bare_wall=comparison.bare.wall_s)
            comparison.rows.append(row)
    return out
