"""A minimal RSP client: what gdb does on the wire, for a target gdb cannot debug (pgm)
and for tests.

    with RspClient("127.0.0.1", 1234) as c:
        c.request("qSupported")
        c.insert_breakpoint(0x150)
        print(c.resume("vCont;c"))          # e.g. 'T05thread:1;'
        print(c.registers())               # {'r0': 0, …, 'pc': 0x150, …}
        print(c.read_memory(0x100, 16).hex())
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET

from hybridvmm.gdbstub.packets import INTERRUPT, PacketReader, escape, frame, unescape


class RspError(Exception):
    """The stub answered ``E…`` or the conversation broke."""


class RspClient:
    """One connection to a stub; replies are bytes (the payload, run-length decoded)."""

    def __init__(self, host: str = "", port: int = 0, timeout: float = 30.0, *, sock: socket.socket | None = None):
        """Connect to ``host:port`` (or talk over ``sock``, already connected)."""
        self.sock = sock if sock is not None else socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.reader = PacketReader()
        self.events: list = []
        self.ack = True
        self._registers: list[tuple[str, int, int]] | None = None

    def __enter__(self) -> "RspClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    # --- the wire ----------------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _next(self):
        while not self.events:
            data = self.sock.recv(65536)
            if not data:
                raise RspError("the stub closed the connection")
            self.events.extend(self.reader.feed(data))
        return self.events.pop(0)

    def receive(self) -> bytes:
        """The next packet from the stub (acknowledged), skipping acks."""
        while True:
            event = self._next()
            if event.kind == "packet":
                if self.ack:
                    self.send_raw(b"+")
                return event.payload
            if event.kind == "nak":
                raise RspError("the stub rejected a packet")

    def request(self, payload: str | bytes) -> bytes:
        """Send a packet, return the reply."""
        if isinstance(payload, str):
            payload = payload.encode("latin-1")
        self.send_raw(frame(payload))
        return self.receive()

    def interrupt(self) -> None:
        """Ctrl-C (the reply is the stop the guest makes)."""
        self.send_raw(bytes((INTERRUPT,)))

    def no_ack(self) -> None:
        if self.request("QStartNoAckMode") == b"OK":
            self.ack = False

    # --- helpers ----------------------------------------------------------------------------
    def target_xml(self) -> str:
        out = b""
        while True:
            reply = self.request(f"qXfer:features:read:target.xml:{len(out):x},800")
            if reply[:1] not in (b"m", b"l"):
                raise RspError(f"qXfer: {reply!r}")
            out += unescape(reply[1:])
            if reply[:1] == b"l":
                return out.decode()

    def register_layout(self) -> list[tuple[str, int, int]]:
        """(name, regnum, bits) of every register, from the target description."""
        if self._registers is None:
            root = ET.fromstring(self.target_xml())
            self._registers = [(r.get("name"), int(r.get("regnum")), int(r.get("bitsize")))
                               for r in root.iter("reg")]
        return self._registers

    def register(self, name: str) -> int:
        regnum = next(n for reg, n, _ in self.register_layout() if reg == name)
        reply = self.request(f"p{regnum:x}")
        if reply.startswith(b"E"):
            raise RspError(f"p {name}: {reply!r}")
        return int.from_bytes(bytes.fromhex(reply.decode()), "little")

    def registers(self) -> dict[str, int]:
        """The ``g`` packet's registers by name."""
        data = bytes.fromhex(self.request("g").decode())
        out, at = {}, 0
        for name, _, bits in self.register_layout():
            size = bits // 8
            if at + size > len(data):
                break
            out[name] = int.from_bytes(data[at:at + size], "little")
            at += size
        return out

    def read_memory(self, address: int, length: int) -> bytes:
        reply = self.request(f"m{address:x},{length:x}")
        if reply.startswith(b"E"):
            raise RspError(f"m {address:#x}: {reply!r}")
        return bytes.fromhex(reply.decode())

    def write_memory(self, address: int, data: bytes) -> bytes:
        return self.request(b"X%x,%x:" % (address, len(data)) + escape(data))

    def insert_breakpoint(self, address: int, kind: int = 0) -> bytes:
        return self.request(f"Z{kind},{address:x},4")

    def remove_breakpoint(self, address: int, kind: int = 0) -> bytes:
        return self.request(f"z{kind},{address:x},4")

    def resume(self, packet: str = "vCont;c") -> bytes:
        """Resume and wait for the stop reply."""
        return self.request(packet)

    def monitor(self, command: str) -> str:
        """``monitor COMMAND``'s output."""
        self.send_raw(frame(b"qRcmd," + command.encode().hex().encode()))
        text = ""
        while True:
            reply = self.receive()
            if reply.startswith(b"O") and reply != b"OK":
                text += bytes.fromhex(reply[1:].decode()).decode()
            elif reply == b"OK" or reply == b"":
                return text
            else:
                raise RspError(f"qRcmd: {reply!r}")
