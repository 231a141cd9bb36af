"""Typed, removable hooks (in the manner of Unicorn/Qiling) whose cost is nil when unused.

* address hooks — ``fn(machine, address)`` before the instruction at a storage (physical,
  i.e. image) address executes, whatever R maps it to.  Only hooked addresses leave the
  fast path; everything else runs unobserved.
* trap hooks — ``fn(machine, trap)`` for every trap and interrupt, before it is delivered.
* output hooks — ``fn(machine, byte)`` for every console output byte.
* mode hooks — ``fn(machine, was, now)`` (mode names) after an instruction or a trap
  changed the privilege mode; e.g. a hybrid monitor interprets virtual-supervisor code
  with ``run`` and stops it the moment the guest enters user mode.
* translate hooks — ``fn(machine, vaddr, paddr, instruction)`` when an address is first
  translated under a mapping (a code-cache miss, the cold path); returning True says the
  hook changed the code there (a monitor patched it) and it is translated again.  Lazy
  scanning hangs here, as VirtualBox's CSAM scanned on first execution.

A hook may change machine state or call ``machine.stop()``; if an address hook moves the
pc, halts or stops the machine, the hooked instruction is not executed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from hybridvmm.machine.core import Machine
    from hybridvmm.machine.traps import Trap

AddressHook = Callable[["Machine", int], Any]
TrapHook = Callable[["Machine", "Trap"], Any]
OutputHook = Callable[["Machine", int], Any]
ModeHook = Callable[["Machine", str, str], Any]
TranslateHook = Callable[["Machine", int, int, Any], bool | None]

KINDS = ("address", "trap", "output", "mode", "translate")


@dataclass(eq=False)
class HookHandle:
    """A registered hook; ``remove()`` unregisters it (idempotent)."""

    kind: str
    fn: Callable
    address: int | None = None
    _owner: "Hooks | None" = field(default=None, repr=False)

    def remove(self) -> None:
        if self._owner is not None:
            self._owner._remove(self)
            self._owner = None

    @property
    def active(self) -> bool:
        return self._owner is not None


class Hooks:
    """The hook registry of one machine."""

    def __init__(self, on_address_change: Callable[[int], None]):
        self.address: dict[int, list[HookHandle]] = {}
        self.trap: list[HookHandle] = []
        self.output: list[HookHandle] = []
        self.mode: list[HookHandle] = []
        self.translate: list[HookHandle] = []
        self._on_address_change = on_address_change

    def add_address(self, address: int, fn: AddressHook) -> HookHandle:
        h = HookHandle("address", fn, address, self)
        self.address.setdefault(address, []).append(h)
        self._on_address_change(address)
        return h

    def add_trap(self, fn: TrapHook) -> HookHandle:
        h = HookHandle("trap", fn, None, self)
        self.trap.append(h)
        return h

    def add_output(self, fn: OutputHook) -> HookHandle:
        h = HookHandle("output", fn, None, self)
        self.output.append(h)
        return h

    def add_mode(self, fn: ModeHook) -> HookHandle:
        h = HookHandle("mode", fn, None, self)
        self.mode.append(h)
        return h

    def add_translate(self, fn: TranslateHook) -> HookHandle:
        h = HookHandle("translate", fn, None, self)
        self.translate.append(h)
        return h

    def _remove(self, h: HookHandle) -> None:
        if h.kind == "address":
            lst = self.address.get(h.address, [])
            if h in lst:
                lst.remove(h)
            if not lst:
                self.address.pop(h.address, None)
            self._on_address_change(h.address)
        else:
            lst = {"trap": self.trap, "output": self.output, "mode": self.mode, "translate": self.translate}[h.kind]
            if h in lst:
                lst.remove(h)

    def clear(self) -> None:
        for h in [h for lst in self.address.values() for h in lst] + self.trap + self.output + self.mode + self.translate:
            h.remove()
