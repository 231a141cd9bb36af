"""``monitor`` commands (``qRcmd``): the tool's own views of the thread gdb has selected.

``monitor stats``    instructions by mode and traps; under a monitor where they ran (direct,
                     interpreted), exits, emulations, patches, switches, simulated cost
``monitor mode``     the monitor mode, and whether the VM's current code runs directly
``monitor exits``    the monitor's exits by cause and the traps reflected into the guest
``monitor patches``  the patches in the VM's storage (the guest never sees them)
"""

from __future__ import annotations

from typing import Any, Callable

from hybridvmm.errors import DecodeError
from hybridvmm.gdbstub.debuggee import Debuggee, MonitorDebuggee, Thread

HELP = """monitor commands:
  stats     instructions by mode, traps; under a monitor: direct/interpreted, exits, patches, cost
  mode      the monitor mode, and how the guest's current code runs
  exits     the monitor's exits by cause, and the traps reflected into the guest
  patches   the patches the monitor wrote into the guest's storage (invisible to the guest)
  help      this list"""

BARE_NOTE = "bare machine: no monitor runs here, so there is nothing of the kind (run with --mode to see one)"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) or "none"


class MonitorCommands:
    """Answers ``monitor …`` for one debuggee."""

    def __init__(self, debuggee: Debuggee):
        self.debuggee = debuggee
        self.monitor: Any = debuggee.monitor if isinstance(debuggee, MonitorDebuggee) else None

    def __call__(self, thread: Thread, line: str) -> str:
        words = line.split()
        if not words or words[0] == "help":
            return HELP
        command: Callable[[Thread], str] | None = {
            "stats": self.stats, "mode": self.mode, "exits": self.exits, "patches": self.patches,
        }.get(words[0])
        if command is None:
            return f"unknown monitor command '{words[0]}'\n{HELP}"
        return command(thread)

    def _machine_stats(self, thread: Thread) -> list[str]:
        m = thread.view.m
        s = m.stats
        modes = ", ".join(f"{mode} {s.by_mode.get(mode, 0):,}" for mode in s.modes)
        return [f"instructions      {s.instructions:,} ({modes})",
                f"traps             {_counts(s.traps)}",
                f"timer interrupts  {s.timer_interrupts:,}"]

    def stats(self, thread: Thread) -> str:
        lines = [f"{thread.name}:"] + self._machine_stats(thread)
        if self.monitor is None:
            return "\n".join(lines + ["bare machine: every instruction ran on the machine itself"])
        vm = thread.vm
        st = self.debuggee.vm_stats(vm).as_dict(self.monitor.costs, timing=False)
        lines += [
            f"executed          {st['direct']:,} directly ({st['direct_fraction']:.2%}), {st['interpreted']:,} interpreted",
            f"monitor exits     {_counts(st['exits'])}; {st['emulated']:,} emulated",
            f"patches           {st['patches_applied']} applied, {st['patches_hit']} hit, {st['patches_dropped']} dropped "
            f"by stores; {st['blocks_scanned']} blocks ({st['instructions_scanned']} instructions) scanned",
            f"VM switches       {st['switches']:,}",
            f"host cycles       {st['host_cycles']:,} (simulated)",
        ]
        return "\n".join(lines)

    def mode(self, thread: Thread) -> str:
        if self.monitor is None:
            return f"bare: {thread.name} runs on the machine itself, in {thread.view.m.mode} mode (no monitor)"
        mode = self.monitor.mode
        vm = thread.vm
        how = "directly on the host (deprivileged)" if self.monitor.direct.runs_directly(vm) else "in the monitor's interpreter"
        return (f"{mode.name}: {mode.description}\n"
                f"{vm.name} is in virtual {vm.vcpu.mode} mode: its code runs {how}")

    def exits(self, thread: Thread) -> str:
        if self.monitor is None:
            return BARE_NOTE
        st = self.debuggee.vm_stats(thread.vm)
        total = sum(st.exits.values())
        return "\n".join([f"{thread.name}: {total:,} exits to the monitor",
                          f"  by cause   {_counts(st.exits)}",
                          f"  emulated   {st.emulated:,} instructions ({st.clustered:,} in the same exit as the one before)",
                          f"  reflected  {_counts(st.reflected)} (traps delivered into the guest)"])

    def patches(self, thread: Thread) -> str:
        if self.monitor is None:
            return BARE_NOTE
        vm = thread.vm
        table = vm.patches.table()
        lines = [f"{thread.name}: {len(table)} patches in place (mode {self.monitor.mode.name}; "
                 f"{vm.stats.patches_hit} hits, {vm.stats.patches_dropped} dropped by the guest's stores)"]
        from hybridvmm.asm.disassembler import format_instruction
        from hybridvmm.isa import shared_decoder

        decoder = shared_decoder(vm.isa)
        for record in table:
            try:
                original = format_instruction(decoder.decode(record.original, record.address), vm.isa)
            except DecodeError:
                original = record.original.hex()
            lines.append(f"  storage 0x{record.address:08x}  {record.kind:<18} {original:<28} -> {record.replacement.hex()}")
        return "\n".join(lines)
