"""Fixtures for the gdb stub's tests: ``run --gdb`` in a child process on a free loopback
port (``--gdb 127.0.0.1:0``: the stub names the port it got), and gdb-multiarch."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WAITING = re.compile(r"waiting for gdb on (\S+):(\d+) \(.*?(?:; symbols: (\S+))?\)$")
GDB = shutil.which("gdb-multiarch")


@dataclass
class GdbRun:
    """A ``run … --gdb`` child: its port, the symbol file it names, and its end."""

    proc: subprocess.Popen
    host: str = ""
    port: int = 0
    symbols: str | None = None
    stderr: list[str] = field(default_factory=list)

    def wait(self, timeout: float = 60) -> tuple[int, str, str]:
        out = self.proc.stdout.read()
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout)
        return code, out, "".join(self.stderr)

    def start(self, timeout: float = 30) -> "GdbRun":
        ready = threading.Event()

        def read() -> None:
            for line in self.proc.stderr:
                self.stderr.append(line)
                m = WAITING.search(line)
                if m and not ready.is_set():
                    self.host, self.port, self.symbols = m.group(1), int(m.group(2)), m.group(3)
                    ready.set()
            ready.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        if not ready.wait(timeout) or not self.port:
            self.proc.kill()
            raise AssertionError("run --gdb did not start listening: " + "".join(self.stderr))
        return self


@pytest.fixture
def gdb_run():
    """``gdb_run(*run_args)`` starts ``python -m hybridvmm run ARGS --gdb 127.0.0.1:0``."""
    started: list[GdbRun] = []

    def start(*args: str) -> GdbRun:
        proc = subprocess.Popen([sys.executable, "-m", "hybridvmm", "run", *args, "--gdb", "127.0.0.1:0"],
                                cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        run = GdbRun(proc).start()
        started.append(run)
        return run

    yield start
    for run in started:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()


def _gdb_batch(run: GdbRun, *commands: str, symbols: bool = True, timeout: float = 60) -> str:
    """Run gdb-multiarch -batch with ``commands`` against ``run``; its whole output."""
    argv = [GDB, "-nx", "-batch", "-ex", "set pagination off", "-ex", "set confirm off",
            "-ex", f"target remote {run.host}:{run.port}"]
    for command in commands:
        argv += ["-ex", command]
    if symbols and run.symbols:
        argv.append(run.symbols)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return done.stdout + done.stderr



@pytest.fixture
def gdb_batch():
    """``gdb_batch(run, *commands)``: a scripted gdb-multiarch session (skips without gdb-multiarch)."""
    if GDB is None:
        pytest.skip("gdb-multiarch is not installed (.ci/run installs it)")
    return _gdb_batch
