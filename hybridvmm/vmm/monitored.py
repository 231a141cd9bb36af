"""A guest's recorded run under the monitor: the counterpart of :func:`hybridvmm.recording.run_bare`."""

from __future__ import annotations

from typing import Any, Callable

from hybridvmm.image import Image
from hybridvmm.isa import ISA
from hybridvmm.recording import GuestRun, Recorder
from hybridvmm.vmm.monitor import Monitor
from hybridvmm.vmm.vm import VM


def vm_state(monitor: Monitor, vm: VM) -> dict[str, Any]:
    """The VM's CPU state as the guest would find it (its registers loaded)."""
    if monitor.current is not vm:
        monitor.switch_to(vm)
    return vm.vcpu.cpu_state()


def run_monitor(images: list[Image], mode: str, isa: ISA | str | None = None, max_steps: int = 50_000_000,
                console_input: bytes = b"", prepare: Callable[[Monitor], None] | None = None,
                **kwargs: Any) -> list[GuestRun]:
    """``images`` together under ``mode``, one recorded run per VM; ``prepare(monitor)`` is
    called before it runs (a report attaches its exit timeline there)."""
    monitor = Monitor(images, mode, isa=isa, max_steps=max_steps, **kwargs)
    recorders = []
    for vm in monitor.vms:
        vm.console.feed(console_input)
        recorders.append(Recorder(vm.vcpu))
    if prepare is not None:
        prepare(monitor)
    monitor.run()
    runs = []
    for vm, rec in zip(monitor.vms, recorders):
        outcome = vm.outcome
        runs.append(GuestRun(mode, outcome.reason, outcome.detail, rec.events, bytes(vm.console.output),
                             vm_state(monitor, vm), vm.guest_storage(), vm.guest_instructions, vm.stats.wall_s, vm, monitor))
    return runs
