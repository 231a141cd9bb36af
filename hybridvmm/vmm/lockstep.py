"""Locating a divergence: the guest instruction after which bare and a mode first differ.

Both sides run again from the start in lock step, in chunks of :data:`LOCKSTEP_CHUNK`
guest instructions, then one instruction at a time from the last chunk that still agreed,
up to the first instruction after which their complete guest-visible state differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hybridvmm.asm.disassembler import format_instruction
from hybridvmm.image import Image
from hybridvmm.isa import ISA, load_isa
from hybridvmm.isas import build_machine, mode_label, storage_for
from hybridvmm.machine import TrapSignal
from hybridvmm.patch_table import patch_at, read_original
from hybridvmm.recording import bare_image, identity_mapped, physical_address, show_value
from hybridvmm.symbols import SymbolTable
from hybridvmm.vmm.monitor import Monitor
from hybridvmm.vmm.monitored import vm_state

LOCKSTEP_CHUNK = 1000


class Places:
    """How a report names where something happened, in the ISA's words: addresses with the
    image's symbols, modes as the family calls them (RISC-V: ``U-mode``), registers by
    their ABI names."""

    def __init__(self, image: Image, isa: ISA | str):
        isa = load_isa(isa) if isinstance(isa, str) else isa
        self.isa = isa
        self.image = image
        self.symbols = SymbolTable.from_image(image)
        self.gpr = isa.registers.get("gpr")

    def of(self, address: int, identity: bool = True) -> str:
        """The address, with the nearest symbol when code there is at that physical address
        (a relocated or paged address is not the image's)."""
        near = self.symbols.nearest(address) if identity else ""
        return f"0x{address:x} {near}" if near else f"0x{address:x}"

    def label(self, mode: str) -> str:
        return mode_label(self.isa, mode)

    def physical(self, address: int, physical: int | None, raw: bytes) -> str:
        """For a patched image, where the instruction at ``address`` really lies when that is
        elsewhere, and whether it is the image's own code or code written at run time — a
        copy the patch table cannot reach, though a patched address may coincide with it.
        (Empty without a patch table: no patched address to tell it from; ``as_dict`` has
        the physical address always.)"""
        if physical is None or physical == address or not self.image.patches:
            return ""
        text = f"physical 0x{physical:x}"
        if patch_at(self.image, physical) is not None:
            return text
        own = read_original(self.image, physical, len(raw)) == raw
        text += ": the image's own code, unpatched" if own else ": a copy written at run time"
        patched = patch_at(self.image, address)
        if patched is not None:
            text += f", not the image's patched instruction at 0x{patched.address:x}"
        return text

    def item(self, key: str, index: int) -> str:
        """A state list's item as ``key[index]``, or, where the spec numbers the general
        registers with ``key`` as prefix (RISC-V's ``x``), as ``x9 (s1)``."""
        gpr, numbered = self.gpr, f"{key}{index}"
        if gpr is not None and gpr.aliases.get(numbered) == index and gpr.names[index] != numbered:
            return f"{numbered} ({gpr.names[index]})"
        return f"{key}[{index}]"


@dataclass
class Responsible:
    """The guest instruction after which the two runs' states first differ."""

    count: int
    address: int
    text: str
    mode: str
    differences: list[str]
    place: str = ""
    label: str = ""
    physical: int | None = None
    """Where the instruction lay physically (None: not known)."""
    where: str = ""
    """The physical address in words, when it is not the virtual one (:meth:`Places.physical`)."""

    def describe(self) -> str:
        place = self.place or f"0x{self.address:x}"
        label = self.label or f"{self.mode} mode"
        where = f"; {self.where}" if self.where else ""
        return (f"`{self.text}` at {place} ({label}{where}), guest instruction {self.count:,}; "
                f"after it {'; '.join(self.differences)}")

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "address": self.address, "instruction": self.text, "mode": self.mode,
                "physical": self.physical, "where": self.where, "differences": self.differences}


class _Side:
    """One side of a lock-step comparison that can advance by guest instructions."""

    def __init__(self, image: Image, isa: ISA, mode: str, max_steps: int, console_input: bytes, slice_length: int | None,
                 virt_options: dict[str, Any] | None = None):
        self.mode = mode
        if mode == "bare":
            self.machine = build_machine(isa, image=bare_image(image), storage_size=storage_for(isa, image))
            self.machine.console.feed(console_input)
            self.monitor = None
        else:
            kwargs = {} if slice_length is None else {"slice_length": slice_length}
            self.monitor = Monitor([image], mode, isa=isa, max_steps=max_steps, virt_options=virt_options, **kwargs)
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


def _differences(a: tuple[dict[str, Any], bytes], b: tuple[dict[str, Any], bytes], places: Places) -> list[str]:
    out = []
    for k, v in a[0].items():
        w = b[0].get(k)
        if w == v:
            continue
        if isinstance(v, (list, tuple)) and isinstance(w, (list, tuple)) and len(v) == len(w):
            out.extend(f"{places.item(k, i)}: bare {show_value(x)}, here {show_value(y)}"
                       for i, (x, y) in enumerate(zip(v, w)) if x != y)
        elif isinstance(v, dict) and isinstance(w, dict):
            out.extend(f"{k}.{name}: bare {show_value(v.get(name))}, here {show_value(w.get(name))}"
                       for name in sorted(set(v) | set(w), key=str) if v.get(name) != w.get(name))
        else:
            out.append(f"{k}: bare {show_value(v)}, here {show_value(w)}")
    if a[1] != b[1]:
        at = next(i for i in range(len(a[1])) if a[1][i] != b[1][i]) & ~3
        out.append(f"storage word 0x{at:x}: bare {a[1][at:at + 4].hex()}, here {b[1][at:at + 4].hex()}")
    return out


def locate(image: Image, mode: str, isa: ISA | str | None = None, max_steps: int = 50_000_000,
           console_input: bytes = b"", slice_length: int | None = None,
           virt_options: dict[str, Any] | None = None) -> Responsible | None:
    """Run bare and ``mode`` in lock step to the first guest instruction after which their
    guest-visible states differ; None if they never do within ``max_steps``."""
    isa = load_isa(isa or image.isa) if not isinstance(isa, ISA) else isa

    def pair() -> tuple[_Side, _Side]:
        return (_Side(image, isa, "bare", max_steps, console_input, slice_length),
                _Side(image, isa, mode, max_steps, console_input, slice_length, virt_options))

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
            ins = m.instruction_at(pc)
            text, raw, physical = format_instruction(ins, isa), ins.raw, physical_address(m, pc)
        except TrapSignal:
            text, raw, physical = "(no instruction: the fetch faults)", b"", None
        bare.advance_to(count + 1)
        other.advance_to(count + 1)
        a, b = bare.state(), other.state()
        if a != b or bare.count != other.count:
            places = Places(image, isa)
            diffs = _differences(a, b, places)
            if bare.count != other.count:
                diffs.append(f"instructions: bare {bare.count}, here {other.count}")
            place = places.of(pc, identity_mapped(m, pc))
            return Responsible(count + 1, pc, text, mode_name, diffs, place, places.label(mode_name), physical,
                               places.physical(pc, physical, raw))
        if bare.done or other.done:
            return None
    return None
