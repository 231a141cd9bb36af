"""Ctrl-C while ``classify`` works in several processes (issue K §4, item 3).

A terminal sends SIGINT to the whole process group: the forked workers must not print
their tracebacks; the parent ends the pool and the command says ``hybridvmm: interrupted``
once, exiting 130.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from hybridvmm.errors import EXIT_INTERRUPTED

pytestmark = pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs process groups")

POOL = textwrap.dedent("""
    import sys, time
    from hybridvmm.classify import engine

    class Slow:
        def classify(self, *task):
            time.sleep(0.01)
            return task

    def told(text):
        print("working", flush=True)

    try:
        engine._run_all(Slow(), [(k,) for k in range(2000)], 2, told, "test")
    except KeyboardInterrupt:
        print("parent: interrupted", file=sys.stderr)
        sys.exit(130)
    print("finished", flush=True)
""")


def _interrupt(argv: list[str], ready=None, delay: float = 0.0) -> tuple[int, str, str]:
    """Start ``argv`` in a process group of its own, wait until ``ready(process)`` returns
    (or ``delay``), send the group SIGINT as a terminal's Ctrl-C does; (code, out, err)."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        if ready is not None:
            ready(p)
        time.sleep(delay)
        os.killpg(p.pid, signal.SIGINT)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    return p.returncode, out, err


def test_workers_ignore_ctrl_c_and_the_parent_stops_them():
    code, out, err = _interrupt([sys.executable, "-c", POOL], ready=lambda p: p.stdout.readline(), delay=0.2)
    assert code == 130 and "finished" not in out, (out, err)
    assert err == "parent: interrupted\n", err


@pytest.mark.parametrize("argv", [["classify", "--isa", "pgm", "--jobs", "2"], ["demo"]])
def test_classify_and_demo_interrupted_say_so_once(argv):
    """(About three seconds in, pgm's classification is in its worker processes.)"""
    code, out, err = _interrupt([sys.executable, "-m", "hybridvmm", *argv], delay=3.0)
    assert code == EXIT_INTERRUPTED, err
    assert err == "hybridvmm: interrupted\n", err
