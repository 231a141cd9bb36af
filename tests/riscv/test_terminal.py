"""The interactive console: QEMU's Ctrl-A escapes, raw mode restored however the run ends
(the guest's end, Ctrl-A X, Ctrl-C, SIGTERM, an exception), tested on pseudo-terminals."""

from __future__ import annotations

import os
import select
import signal
import sys
import termios
import time
from pathlib import Path

import pytest

from devrig import guest
from hybridvmm.terminal import Escapes, Session, raw_terminal

ROOT = Path(__file__).resolve().parents[2]


# --- the escapes -------------------------------------------------------------------------------
def test_ctrl_a_x_quits_and_ctrl_a_ctrl_a_sends_ctrl_a():
    e = Escapes()
    assert e.translate(b"ab\x01\x01c") == b"ab\x01c" and not e.quit
    assert e.translate(b"d\x01") == b"d" and not e.quit          # an escape split across reads
    assert e.translate(b"xignored") == b"" and e.quit


def test_ctrl_a_h_shows_help_and_other_keys_are_dropped():
    helped = []
    e = Escapes(lambda: helped.append(True))
    assert e.translate(b"\x01h\x01zk") == b"k" and helped == [True] and not e.quit


def test_a_session_feeds_keys_up_to_the_quit_escape():
    read, write = os.pipe()
    os.write(write, b"ls\r\x01x")
    fed = []

    class Out:
        def write(self, data):
            pass

        def flush(self):
            pass

    s = Session(fed.append, read, Out())
    from hybridvmm.terminal import Quit
    with pytest.raises(Quit):
        s.pump()
    assert fed == [b"ls\r"]
    os.close(read)
    os.close(write)


# --- raw mode ---------------------------------------------------------------------------------
def test_raw_mode_is_restored_after_an_exception():
    master, slave = os.openpty()
    try:
        before = termios.tcgetattr(slave)
        with pytest.raises(RuntimeError):
            with raw_terminal(slave):
                now = termios.tcgetattr(slave)
                assert not now[3] & (termios.ECHO | termios.ICANON) and now[3] & termios.ISIG
                assert now[1] & termios.OPOST                      # LF still starts a new line
                raise RuntimeError("a crash")
        assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)


# --- end to end on a pseudo-terminal ---------------------------------------------------------------
class Child:
    """``python -m hybridvmm ARGS`` with a pseudo-terminal as its controlling terminal."""

    def __init__(self, *args: str):
        self.master, self.slave = os.openpty()
        self.before = termios.tcgetattr(self.slave)
        self.output = b""
        pid = os.fork()
        if pid == 0:  # the child: the pty is its terminal
            try:
                os.close(self.master)
                os.login_tty(self.slave)
                env = dict(os.environ, PYTHONPATH=str(ROOT))
                os.execve(sys.executable, [sys.executable, "-m", "hybridvmm", *args], env)
            finally:
                os._exit(127)
        self.pid = pid

    def expect(self, text: bytes, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while text not in self.output:
            left = end - time.monotonic()
            assert left > 0, f"waited for {text!r}, got {self.output!r}"
            if select.select([self.master], [], [], left)[0]:
                try:
                    self.output += os.read(self.master, 4096)
                except OSError:
                    break

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def attrs(self) -> list:
        return termios.tcgetattr(self.slave)

    def wait(self, timeout: float = 30) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                while select.select([self.master], [], [], 0.05)[0]:
                    try:
                        chunk = os.read(self.master, 4096)
                    except OSError:
                        break
                    if not chunk:
                        break
                    self.output += chunk
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.02)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError(f"the run did not end; output {self.output!r}")

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def echo_image(tmp_path):
    path = tmp_path / "echo.img"
    guest("uart_echo").save(path)
    return str(path)


@pytest.fixture
def child():
    made: list[Child] = []

    def start(*args: str) -> Child:
        c = Child(*args)
        made.append(c)
        return c
    yield start
    for c in made:
        try:
            os.kill(c.pid, signal.SIGKILL)
            os.waitpid(c.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        c.close()


@pytest.mark.parametrize("mode", ["bare", "pure"])
def test_keystrokes_reach_the_guest_and_the_terminal_is_restored(child, echo_image, mode):
    c = child("run", echo_image, "--mode", mode)
    c.expect(b"> ")
    raw = c.attrs()
    assert not raw[3] & (termios.ECHO | termios.ICANON)
    assert b"not reproducible" in c.output and b"Ctrl-A X" in c.output
    c.send(b"hi\n")
    c.expect(b"> hi\r\n> ")
    c.send(b"q\n")
    assert c.wait() == 0 and c.attrs() == c.before


def test_ctrl_a_x_quits_with_exit_0(child, echo_image):
    c = child("run", echo_image)
    c.expect(b"> ")
    c.send(b"\x01x")
    assert c.wait() == 0 and c.attrs() == c.before


def test_ctrl_c_stops_the_run_and_restores_the_terminal(child, echo_image):
    c = child("run", echo_image, "--stats")
    c.expect(b"> ")
    c.send(b"\x03")
    assert c.wait() == 130 and c.attrs() == c.before
    assert b"instructions" in c.output                               # the report of what ran


def test_sigterm_restores_the_terminal(child, echo_image):
    c = child("run", echo_image)
    c.expect(b"> ")
    os.kill(c.pid, signal.SIGTERM)
    assert c.wait() == 128 + signal.SIGTERM and c.attrs() == c.before
