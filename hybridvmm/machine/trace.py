"""One-line renderings of instructions, traps and register changes for ``run --trace``,
and the register dump of ``run --regs``.

The register view is ISA-agnostic: the general registers by the names the spec gives
them, ``pc`` and ``mode``, and the system registers — what the machine's own
``psw_summary()`` reports, plus the main CSRs of an ISA that has them (RISC-V's trap,
delegation, paging and PMP registers).  Reading them has no side effects, so a dump or a
``regs`` trace never changes what the guest sees.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from hybridvmm.isa import Instruction
from hybridvmm.machine.traps import Trap

if TYPE_CHECKING:
    from hybridvmm.machine.core import Machine
    from hybridvmm.symbols import SymbolTable


def trace_line(count: int, mode: str, ins: Instruction, text: str, symbol: str = "") -> str:
    """Instruction count, the mode's initial (``M``/``S``/``U``), address, bytes, the
    instruction, and the address's ``<symbol+off>`` when there is one."""
    return with_symbol(f"{count:>9}  {mode[:1].upper()}  {ins.address:08x}  {ins.raw.hex():<12}  {text}", symbol)


def with_symbol(line: str, symbol: str, width: int = 70) -> str:
    """``line`` with ``symbol`` in a column after it (the line as it is without one)."""
    return f"{line:<{width}}  {symbol}" if symbol else line


class TraceSymbols:
    """The ``<symbol+off>`` of traced pcs, one rule for the bare machine and the monitor: an
    image's symbols name an address only where the guest's mapping is the identity (xv6's
    kernel, a firmware); a relocated or paged pc (a user process, a relocated task) is
    another place than the image's address, so it gets none.  Names are cached per address
    (a trace asks for the same pcs millions of times)."""

    def __init__(self, symbols: "SymbolTable | None"):
        self.symbols = symbols if symbols else None
        self.cache: dict[int, str] = {}

    def name(self, address: int, identity: bool) -> str:
        """The symbol naming ``address``, or ``""`` where the mapping is not the identity."""
        if not identity or self.symbols is None:
            return ""
        label = self.cache.get(address)
        if label is None:
            label = self.cache[address] = self.symbols.nearest(address)
        return label


def trap_line(trap: Trap) -> str:
    return f"{'':>9}  -- {trap.describe()}; saved pc 0x{trap.pc:x}"


# --- registers -------------------------------------------------------------------------------------
SELF_CHANGING = frozenset({"pc", "timer"})
"""What changes without an instruction writing it, left out of a ``regs`` trace: the pc
(every trace line shows it) and pgm's interval timer, which counts down by itself."""

REDUNDANT = frozenset({"status"})
"""Left out of a ``regs`` trace because other entries say the same: pgm's status word is
mode, ie and flags together."""


def registers(machine: "Machine") -> dict[str, Any]:
    """Every register of ``machine`` as data (``run --regs`` and ``--json``'s
    ``registers``): ``gpr`` by name, ``pc``, ``mode`` and ``system``.  For a VM, pass its
    virtual CPU with the VM's world loaded: its system registers are the guest's own."""
    names = machine.isa.registers["gpr"].names
    system = machine.system_registers()
    for k, v in machine.psw_summary().items():
        if k not in ("pc", "mode") and k not in system:
            system[k] = v
    return {"gpr": dict(zip(names, list(machine.gprs))), "pc": machine.pc, "mode": machine.mode, "system": system}


def _value(name: str, value: Any, digits: int) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int) and name != "timer":
        return f"{value:0{digits}x}"
    return str(value)


def register_lines(regs: dict[str, Any], word_bits: int, per_line: int = 4) -> list[str]:
    """A dump as text, QEMU ``info registers`` style: pc and mode, then the general
    registers and the system registers, ``per_line`` to a line, values in hex."""
    digits = word_bits // 4
    rows = [f"{'pc':<8} {regs['pc']:0{digits}x}  {'mode':<8} {regs['mode']}"]
    for group in (regs["gpr"], regs["system"]):
        width = max([8, *(len(name) for name in group)])
        cells = [f"{name:<{width}} {_value(name, value, digits):<{digits}}" for name, value in group.items()]
        rows += ["  ".join(cells[i:i + per_line]).rstrip() for i in range(0, len(cells), per_line)]
    return rows


def _flat(machine: "Machine") -> dict[str, Any]:
    regs = registers(machine)
    out = dict(regs["gpr"])
    out["mode"] = regs["mode"]
    out.update((k, v) for k, v in regs["system"].items() if k not in SELF_CHANGING and k not in REDUNDANT)
    return out


def _short(value: Any) -> str:
    if isinstance(value, bool):
        return str(int(value))
    return f"0x{value:x}" if isinstance(value, int) else str(value)


class RegisterWatch:
    """What changed in a machine's registers since the last look (``--trace regs``).

    Asked before each instruction, it reports what the previous one wrote, with the PSW
    swap of a trap it raised or an interrupt that followed it: the tracer is called
    before an instruction runs, so the last instruction's changes come out at the next
    call, or at one more call after the run."""

    def __init__(self, view: Callable[[], "Machine"]):
        """``view()`` is the machine whose registers are watched (a VM's virtual CPU may
        be asked for afresh each time)."""
        self.view = view
        self.last: dict[str, Any] | None = None

    def changes(self) -> str | None:
        """``name old -> new, ...`` for every register that changed since the last call
        (None if none did; the first call only takes note)."""
        now = _flat(self.view())
        before, self.last = self.last, now
        if before is None:
            return None
        changed = [f"{k} {_short(before[k])} -> {_short(v)}" for k, v in now.items() if before.get(k) != v]
        return ", ".join(changed) if changed else None


def regs_line(changes: str) -> str:
    """A ``regs`` trace line of the bare machine, under the instruction (and trap) lines."""
    return f"{'':>9}  => {changes}"
