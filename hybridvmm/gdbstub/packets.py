"""GDB Remote Serial Protocol framing: checksums, escapes, run-length encoding, and a reader
that turns a byte stream into packets.

A packet is ``$payload#cc`` with ``cc`` the modulo-256 sum of the payload bytes in two hex
digits.  Inside a payload ``}`` escapes the next byte (XOR 0x20), which is how ``$``, ``#``,
``}`` and ``*`` travel in binary data; ``*`` followed by a byte ``n`` repeats the previous
byte ``n - 29`` more times (run-length encoding, which gdb sends nowhere but may accept in
replies).  Outside packets, ``+``/``-`` acknowledge and a lone 0x03 is the user's Ctrl-C.
Everything here is pure: the socket lives in :mod:`hybridvmm.gdbstub.connection`.
"""

from __future__ import annotations

from dataclasses import dataclass

INTERRUPT = 0x03
"""The byte gdb sends, outside any packet, when the user types Ctrl-C."""
ESCAPE = 0x7D
"""``}``: the next byte is the real one XOR 0x20."""
REPEAT = 0x2A
"""``*``: run-length encoding."""
MUST_ESCAPE = frozenset(b"$#}*")
MAX_PAYLOAD = 1 << 20
"""A payload longer than this is not a packet a client should send (the stub drops it)."""


class PacketError(ValueError):
    """A payload that cannot be decoded (a dangling escape or repeat)."""


def checksum(payload: bytes) -> int:
    """The modulo-256 sum of the payload's bytes."""
    return sum(payload) & 0xFF


def frame(payload: bytes) -> bytes:
    """``$payload#cc``: the payload (already escaped) as it goes on the wire."""
    return b"$" + payload + b"#" + b"%02x" % checksum(payload)


def escape(data: bytes) -> bytes:
    """Binary data with ``$ # } *`` escaped, ready to be a payload."""
    out = bytearray()
    for b in data:
        if b in MUST_ESCAPE:
            out += bytes((ESCAPE, b ^ 0x20))
        else:
            out.append(b)
    return bytes(out)


def unescape(payload: bytes) -> bytes:
    """The binary data of an escaped payload (an ``X`` packet's body)."""
    out = bytearray()
    it = iter(payload)
    for b in it:
        if b == ESCAPE:
            nxt = next(it, None)
            if nxt is None:
                raise PacketError("escape at the end of the packet")
            out.append(nxt ^ 0x20)
        else:
            out.append(b)
    return bytes(out)


def encode_rle(payload: bytes) -> bytes:
    """Run-length encode a payload: runs of 4 or more bytes become ``b*n``.  The count
    byte must be printable and never ``#``, ``$`` (6, 7 more: 35, 36) or ``+``/``-``
    (the protocol forbids those), so such runs are shortened."""
    out = bytearray()
    i, n = 0, len(payload)
    while i < n:
        b = payload[i]
        run = 1
        while i + run < n and payload[i + run] == b and run < 98:
            run += 1
        extra = run - 1
        while extra + 29 in (ord("#"), ord("$"), ord("+"), ord("-")):
            extra -= 1
        if extra >= 3 and b not in (ESCAPE, REPEAT):
            out.append(b)
            out += bytes((REPEAT, extra + 29))
            i += extra + 1
        else:
            out.append(b)
            i += 1
    return bytes(out)


def decode_rle(payload: bytes) -> bytes:
    """Expand run-length encoding (``b*n`` = ``b`` and ``n - 29`` more copies); escapes
    are kept as they are, so the result is still an escaped payload."""
    out = bytearray()
    i, n = 0, len(payload)
    while i < n:
        b = payload[i]
        if b == REPEAT:
            if not out or i + 1 >= n:
                raise PacketError("run-length repeat without a byte to repeat or a count")
            count = payload[i + 1] - 29
            if count < 0:
                raise PacketError("bad run-length count")
            out += bytes((out[-1],)) * count
            i += 2
        elif b == ESCAPE:
            if i + 1 >= n:
                raise PacketError("escape at the end of the packet")
            out += payload[i:i + 2]
            i += 2
        else:
            out.append(b)
            i += 1
    return bytes(out)


@dataclass(frozen=True)
class Event:
    """One thing read from the client: a ``packet`` (its payload, run-length decoded), a
    ``bad`` packet (its checksum was wrong or it was malformed: answer ``-``), an
    ``interrupt`` (Ctrl-C), or an ``ack``/``nak``."""

    kind: str
    payload: bytes = b""


class PacketReader:
    """Incremental parser of the client's byte stream (feed it whatever the socket gave)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._in_packet = False

    def feed(self, data: bytes) -> list[Event]:
        """Parse ``data``; return every complete event, in order."""
        events: list[Event] = []
        buf = self._buf
        for b in data:
            if not self._in_packet:
                if b == ord("$"):
                    self._in_packet = True
                    buf.clear()
                elif b == INTERRUPT:
                    events.append(Event("interrupt"))
                elif b == ord("+"):
                    events.append(Event("ack"))
                elif b == ord("-"):
                    events.append(Event("nak"))
                # anything else between packets is noise: ignored
                continue
            buf.append(b)
            if len(buf) > MAX_PAYLOAD + 3:
                self._in_packet = False
                buf.clear()
                events.append(Event("bad", b"packet too long"))
                continue
            # a packet ends two hex digits after an unescaped '#'
            if len(buf) >= 3 and buf[-3] == ord("#") and not _escaped_at(buf, len(buf) - 3):
                self._in_packet = False
                body, digits = bytes(buf[:-3]), bytes(buf[-2:])
                buf.clear()
                events.append(_packet(body, digits))
        return events


def _escaped_at(buf: bytearray, index: int) -> bool:
    """Is the byte at ``index`` the second byte of an escape (``}`` before it, itself not
    escaped)?"""
    k, run = index - 1, 0
    while k >= 0 and buf[k] == ESCAPE:
        run += 1
        k -= 1
    return run % 2 == 1


def _packet(body: bytes, digits: bytes) -> Event:
    try:
        want = int(digits, 16)
    except ValueError:
        return Event("bad", body)
    if checksum(body) != want:
        return Event("bad", body)
    try:
        return Event("packet", decode_rle(body))
    except PacketError:
        return Event("bad", body)
