"""The console: the guest's output bytes, and its input with the rule that delivers it.

Input is *queued* (``feed``) and then *released*: only released bytes can be read.  How
queued bytes are released is the delivery rule, which makes a run with input
deterministic (the same input gives the same transcript and instruction counts):

``immediate`` (``interval`` 0, no ``prompt``)
    everything fed is released at once — what plain ``feed(bytes)`` does, the only rule a
    machine without a receive device (pgm) has, and interactive keystrokes;
``prompt``
    one line (its newline included) is released each time the output has shown the prompt
    since the previous line was released (the first line: since the start);
``interval`` N > 0
    one byte at a time, paced by the machine's receive device in guest-instruction time
    (the RISC-V UART releases the next byte N retired instructions after its receiver
    became empty; see :mod:`hybridvmm.isas.riscv.uart`).  A machine with no such device
    releases everything at once.

The rule travels with the bytes as a :class:`ConsoleInput` (a ``bytes`` that also says how
it is delivered), so every path that feeds a console — ``run``, ``compare``, the lock-step
search — delivers it the same way.
"""

from __future__ import annotations

from typing import Protocol

DEFAULT_INTERVAL = 10_000
"""Retired guest instructions between one input byte's reception and the next, when
neither ``--prompt`` nor ``--input-interval`` says otherwise."""


class ConsoleInput(bytes):
    """Console input bytes together with their delivery rule (see the module docstring)."""

    prompt: bytes | None
    interval: int

    def __new__(cls, data: bytes = b"", *, prompt: bytes | None = None, interval: int = 0) -> "ConsoleInput":
        if prompt is not None and not prompt:
            raise ValueError("an empty prompt")
        if interval < 0:
            raise ValueError("a negative interval")
        obj = super().__new__(cls, data)
        obj.prompt = prompt
        obj.interval = interval
        return obj

    @property
    def rule(self) -> str:
        return "prompt" if self.prompt is not None else "interval" if self.interval else "immediate"


class Receiver(Protocol):
    """A device that receives console input (it is told when input is queued or released)."""

    def input_changed(self) -> None: ...


class Console:
    """Output kept in ``output``; input queued in ``input``, readable up to ``released``."""

    def __init__(self, data: bytes = b""):
        self.input = bytearray()
        self.position = 0
        """The next input byte the guest reads."""
        self.released = 0
        """Input bytes the guest may read (``input[position:released]`` are waiting)."""
        self.output = bytearray()
        self.prompt: bytes | None = None
        self.interval = 0
        self.since = 0
        """Output length when the last line was released (prompt rule)."""
        self.receiver: Receiver | None = None
        """The device receiving input, which paces an ``interval`` rule (None: none)."""
        if data:
            self.feed(data)

    # --- input ---------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Queue more input; a :class:`ConsoleInput` also sets the delivery rule."""
        if isinstance(data, ConsoleInput) and data.rule != "immediate":
            self.prompt, self.interval = data.prompt, data.interval
        self.input += data
        if data:
            self.finished = False
        if self.prompt is not None:
            if self.released < len(self.input) and self.output.find(self.prompt, self.since) >= 0:
                self._release_line()
        elif not self.paced():
            self.released = len(self.input)
        self._tell()

    def paced(self) -> bool:
        """Does the receiving device release input (the ``interval`` rule)?"""
        return self.prompt is None and self.interval > 0 and self.receiver is not None

    def release(self, n: int = 1) -> None:
        """Release ``n`` more queued bytes (the receiving device's pacing)."""
        self.released = min(len(self.input), self.released + n)
        self._tell()

    def unreleased(self) -> int:
        """Queued bytes not released yet."""
        return len(self.input) - self.released

    def remaining(self) -> int:
        """Released bytes the guest has not read yet."""
        return self.released - self.position

    def read_byte(self) -> int | None:
        """The next released input byte, or None when none is waiting."""
        if self.position >= self.released:
            return None
        b = self.input[self.position]
        self.position += 1
        return b

    def _release_line(self) -> None:
        end = self.input.find(b"\n", self.released)
        self.released = len(self.input) if end < 0 else end + 1
        self.since = len(self.output)

    def _tell(self) -> None:
        if self.receiver is not None:
            self.receiver.input_changed()

    # --- output --------------------------------------------------------------------------
    def write_byte(self, value: int) -> None:
        out = self.output
        out.append(value & 0xFF)
        prompt = self.prompt
        if prompt is not None and len(out) - self.since >= len(prompt) and out.endswith(prompt):
            if self.released < len(self.input):
                self._release_line()
                self._tell()
            elif self.input and not self.finished:
                self.finished = True

    finished = False
    """A prompted session is over: every line was delivered and the prompt has come back
    after the last one (the machine then ends the run, as a user would stop typing)."""

    def text(self) -> str:
        return self.output.decode("utf-8", errors="replace")

    # --- state ---------------------------------------------------------------------------
    def state(self) -> tuple:
        return (bytes(self.input), self.position, bytes(self.output), self.released, self.since, self.prompt,
                self.interval, self.finished)

    def set_state(self, state: tuple) -> None:
        self.input = bytearray(state[0])
        self.position = state[1]
        self.output = bytearray(state[2])
        if len(state) > 3:
            self.released, self.since, self.prompt, self.interval = state[3:7]
            self.finished = bool(state[7]) if len(state) > 7 else False
        else:  # the three-part state of an immediate console
            self.released, self.since, self.prompt, self.interval = len(self.input), 0, None, 0
