"""Ctrl-C under a monitor mode reports consistent statistics (issue K §4, item 1).

While a VM runs directly the host is ahead of its virtual CPU; an interrupt that lands
then must still credit what the host ran, and fill in the per-mode counts, so that direct
plus interpreted is the guest's instruction count and nothing is negative.
"""

from __future__ import annotations

import json

import pytest

import hybridvmm.commands.run as run_command
from hybridvmm.vmm import Monitor


def _interrupting_monitor(after: int):
    """A Monitor factory whose guest sees Ctrl-C at the ``after``-th trap or interrupt taken
    by the host or a virtual CPU (the host's hooks run before the monitor takes the VM off it)."""
    seen = {"traps": 0}

    def hook(machine, trap) -> None:
        seen["traps"] += 1
        if seen["traps"] == after:
            raise KeyboardInterrupt

    def build(*args, **kwargs) -> Monitor:
        monitor = Monitor(*args, **kwargs)
        for machine in (monitor.host, *(vm.vcpu for vm in monitor.vms)):
            machine.hook_trap(hook)
        return monitor
    return build


@pytest.mark.parametrize("mode", ["pure", "hybrid", "patch", "interpret"])
def test_interrupted_monitor_stats_add_up(cli, monkeypatch, mode):
    monkeypatch.setattr(run_command, "Monitor", _interrupting_monitor(40))
    r = cli("run", "guest:fib:small", "--isa", "pgm-virt", "--mode", mode, "--json")
    assert r.code == 130, r.err
    data = json.loads(r.out)
    mon = data["monitor"]
    assert data["result"] == "interrupted"
    assert 0 < data["steps"] < 38_736
    assert mon["guest_instructions"] == data["steps"] == data["stats"]["instructions"]
    assert mon["direct"] >= 0 and mon["interpreted"] >= 0 and mon["host_cycles"] > 0
    assert mon["direct"] + mon["interpreted"] == mon["guest_instructions"]
    assert sum(mon["by_mode"].values()) == mon["guest_instructions"]
    assert all(n >= 0 for n in mon["interpreted_by_mode"].values())
    if mode != "interpret":
        assert mon["direct"] > 0


def test_interrupted_stats_text_has_no_negative_count(cli, monkeypatch):
    monkeypatch.setattr(run_command, "Monitor", _interrupting_monitor(40))
    r = cli("run", "guest:fib:small", "--mode", "hybrid", "--stats")
    assert r.code == 130
    executed = next(line for line in r.err.splitlines() if line.startswith("executed"))
    host = next(line for line in r.err.splitlines() if line.startswith("host cycles"))
    assert "-" not in executed and "-" not in host.split("(")[0], r.err
