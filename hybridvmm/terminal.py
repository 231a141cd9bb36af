"""An interactive console on a terminal: keystrokes to the guest, its output as it comes.

``run`` on a terminal (standard input and output both terminals, no ``--input``) puts
the terminal in raw input mode — no echo, no line editing, every key a byte for the
guest (Enter is CR, as on QEMU) — while output processing stays on, so the guest's LF
starts a new line, as QEMU's ``-nographic`` console does.  The escapes are QEMU's:

    Ctrl-A X        quit (the run ends, exit 0)
    Ctrl-A Ctrl-A   send one Ctrl-A to the guest
    Ctrl-A H        show these keys

Ctrl-C stops the run as it does without a terminal (the report of what ran, exit 130).
The terminal's settings are restored on every way out: the guest's end, the escape,
Ctrl-C, an exception, and SIGTERM or SIGHUP (turned into an ordinary exit).  Ctrl-Z and
Ctrl-\\ go to the guest as bytes (suspending or dumping core would leave the terminal raw).

Interactive input is *not* reproducible: a keystroke reaches the guest at whatever
instruction the machine has reached when it is read.  ``--input FILE`` is the
reproducible way (:mod:`hybridvmm.machine.console`).
"""

from __future__ import annotations

import os
import select
import signal
import sys
import termios
from contextlib import contextmanager
from typing import BinaryIO, Callable, Iterator

ESCAPE = 0x01
"""Ctrl-A."""
HELP = "Ctrl-A X quit · Ctrl-A Ctrl-A send Ctrl-A · Ctrl-A H this help · Ctrl-C stop the run"
NOTICE = f"hybridvmm: interactive console ({HELP}); keystrokes arrive when typed, so this run is not reproducible (--input FILE is)"


class Quit(Exception):
    """The user typed the quit escape."""


def interactive_streams(stdin=None, stdout=None) -> bool:
    """Are standard input and output both terminals (``run`` is then interactive)?"""
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    try:
        return os.isatty(stdin.fileno()) and os.isatty(stdout.fileno())
    except (AttributeError, OSError, ValueError):
        return False


class Escapes:
    """QEMU's Ctrl-A escapes over a stream of keystrokes (state kept between reads)."""

    def __init__(self, on_help: Callable[[], None] | None = None):
        self.pending = False
        self.quit = False
        """Set by Ctrl-A X (what follows it is not translated)."""
        self.on_help = on_help or (lambda: None)

    def translate(self, data: bytes) -> bytes:
        """The bytes for the guest (up to a Ctrl-A X, which sets :attr:`quit`)."""
        out = bytearray()
        for b in data:
            if self.pending:
                self.pending = False
                if b in (ord("x"), ord("X")):
                    self.quit = True
                    break
                if b == ESCAPE:
                    out.append(ESCAPE)
                elif b in (ord("h"), ord("H")):
                    self.on_help()
                continue                     # any other key after Ctrl-A: ignored, as on QEMU
            if b == ESCAPE:
                self.pending = True
            else:
                out.append(b)
        return bytes(out)


def _raw(attrs: list) -> list:
    iflag, oflag, cflag, lflag, ispeed, ospeed, cc = attrs
    iflag &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP | termios.INLCR | termios.IGNCR
               | termios.ICRNL | termios.IXON)
    lflag &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.IEXTEN)
    cflag = (cflag & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
    cc = list(cc)
    cc[termios.VMIN], cc[termios.VTIME] = 1, 0
    for key in (termios.VSUSP, termios.VQUIT):
        cc[key] = b"\0" if isinstance(cc[key], bytes) else 0
    return [iflag, oflag, cflag, lflag, ispeed, ospeed, cc]


def _exit_on_signal(signum: int, frame) -> None:
    raise SystemExit(128 + signum)


@contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    """The terminal on ``fd`` in raw input mode for the block, restored however it ends."""
    saved = termios.tcgetattr(fd)
    handlers = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            handlers[sig] = signal.signal(sig, _exit_on_signal)
        except ValueError:                   # not the main thread: leave the signals alone
            pass
    try:
        termios.tcsetattr(fd, termios.TCSADRAIN, _raw(saved))
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


class Session:
    """One interactive console: :meth:`pump` between slices of the run feeds what was
    typed to the guest's console and writes what the guest printed."""

    def __init__(self, feed: Callable[[bytes], None], stdin_fd: int, stdout: BinaryIO):
        self.feed = feed
        self.fd = stdin_fd
        self.out = stdout
        self.output = bytearray()
        self.escapes = Escapes(self._help)
        self.closed = False
        self.at_line_start = True

    def _help(self) -> None:
        self.output += f"\n[{HELP}]\n".encode()

    def byte(self, machine, value: int) -> None:
        """An output hook: the guest printed ``value``."""
        self.output.append(value)

    def pump(self) -> None:
        """Deliver the keystrokes waiting on the terminal and show the guest's output."""
        self.flush()
        while not self.closed and select.select([self.fd], [], [], 0)[0]:
            data = os.read(self.fd, 1024)
            if not data:                     # the terminal hung up: no more input
                self.closed = True
                break
            keys = self.escapes.translate(data)
            if keys:
                self.feed(keys)
            if self.escapes.quit:
                self.flush()
                raise Quit

    def flush(self) -> None:
        if self.output:
            self.out.write(bytes(self.output))
            self.out.flush()
            self.at_line_start = self.output.endswith(b"\n")
            self.output.clear()

    def end(self) -> None:
        """The run is over: show the rest, and end the guest's last line, so that whatever
        is printed next starts a line of its own."""
        self.flush()
        if not self.at_line_start:
            self.out.write(b"\n")
            self.out.flush()
            self.at_line_start = True
