"""The console device: an input queue the guest reads byte by byte, and the output bytes."""

from __future__ import annotations


class Console:
    """Byte-oriented console.  Output is kept in ``output``; input is consumed from ``input``."""

    def __init__(self, data: bytes = b""):
        self.input = bytearray(data)
        self.position = 0
        self.output = bytearray()

    def feed(self, data: bytes) -> None:
        """Queue more input bytes."""
        self.input += data

    def remaining(self) -> int:
        return len(self.input) - self.position

    def read_byte(self) -> int | None:
        """The next input byte, or None when the queue is empty."""
        if self.position >= len(self.input):
            return None
        b = self.input[self.position]
        self.position += 1
        return b

    def write_byte(self, value: int) -> None:
        self.output.append(value & 0xFF)

    def text(self) -> str:
        return self.output.decode("utf-8", errors="replace")

    def state(self) -> tuple[bytes, int, bytes]:
        return bytes(self.input), self.position, bytes(self.output)

    def set_state(self, state: tuple[bytes, int, bytes]) -> None:
        self.input = bytearray(state[0])
        self.position = state[1]
        self.output = bytearray(state[2])
