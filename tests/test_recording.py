"""The bare run is recorded without the monitor; vmm.compare keeps its names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hybridvmm import recording
from hybridvmm.guests import build_guest
from hybridvmm.isa import load_isa
from hybridvmm.vmm import compare, lockstep, monitored

ROOT = Path(__file__).resolve().parent.parent

BARE_ONLY = """
import sys
from hybridvmm.guests import build_guest
from hybridvmm.recording import run_bare
run = run_bare(build_guest("fib", "pgm"))
assert run.reason == "halted" and run.console, run.reason
print(sorted(m for m in sys.modules if m.startswith("hybridvmm.vmm")))
"""


def test_a_bare_run_imports_no_monitor():
    out = subprocess.run([sys.executable, "-c", BARE_ONLY], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_compare_re_exports_the_recording_and_lock_step_names():
    for name in ("Event", "GuestRun", "Recorder", "bare_image", "run_bare"):
        assert getattr(compare, name) is getattr(recording, name)
    for name in ("LOCKSTEP_CHUNK", "Responsible", "locate"):
        assert getattr(compare, name) is getattr(lockstep, name)
    assert compare.run_monitor is monitored.run_monitor and compare.vm_state is monitored.vm_state


def test_bare_and_monitored_runs_agree_on_a_guest():
    image = build_guest("fib", "pgm-virt")
    bare = recording.run_bare(image)
    (pure,) = monitored.run_monitor([image], "pure")
    assert compare.first_divergence(bare, pure, image, load_isa("pgm-virt")) is None
    assert bare.console == pure.console and bare.events == pure.events
