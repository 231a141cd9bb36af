"""The socket: listen (loopback unless told otherwise), accept gdb, exchange packets with
acknowledgements, and notice Ctrl-C or a hang-up while the guest runs."""

from __future__ import annotations

import select
import socket
from collections import deque

from hybridvmm.errors import UserError
from hybridvmm.gdbstub.packets import Event, PacketReader, frame

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 1234
DEFAULT_ADDRESS = f"{DEFAULT_HOST}:{DEFAULT_PORT}"


class Disconnected(Exception):
    """The client closed the connection (or it broke)."""


def parse_address(spec: str) -> tuple[str, int]:
    """``[HOST:]PORT`` (``[::1]:PORT`` for IPv6) → (host, port); the host defaults to the
    loopback address, so nothing outside this machine can reach the stub unless the user
    names another address."""
    text = spec.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "", text
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        port = int(port_text, 10)
    except ValueError:
        raise UserError(f"--gdb {spec}: expected [HOST:]PORT (e.g. {DEFAULT_ADDRESS})") from None
    if not 0 <= port <= 65535:
        raise UserError(f"--gdb {spec}: port {port} is not between 0 and 65535")
    return host or DEFAULT_HOST, port


class Listener:
    """The listening socket; ``accept()`` waits for gdb."""

    def __init__(self, host: str, port: int):
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as e:
            raise UserError(f"--gdb {host}:{port}: {e.strerror}") from None
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
            sock.listen(1)
        except OSError as e:
            sock.close()
            raise UserError(f"--gdb {host}:{port}: cannot listen: {e.strerror}") from None
        self.sock = sock
        self.host, self.port = sock.getsockname()[:2]

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def accept(self) -> "Connection":
        conn, _ = self.sock.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return Connection(conn)

    def close(self) -> None:
        self.sock.close()


class Connection:
    """One gdb client: packets in and out, acknowledged until no-ack mode."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.reader = PacketReader()
        self.pending: deque[Event] = deque()
        self.ack = True
        """Acknowledge packets with ``+`` (until the client asks for no-ack mode)."""
        self.closed = False
        self.interrupted = False
        """A Ctrl-C arrived that nobody has consumed yet."""
        self.last_sent = b""

    # --- receiving -----------------------------------------------------------------------------
    def _read(self, timeout: float | None) -> bool:
        """Read what is available (waiting up to ``timeout`` seconds; None: until something
        comes).  False if nothing came in time; Disconnected when the peer has gone."""
        if self.closed:
            raise Disconnected
        if timeout is not None:
            ready, _, _ = select.select([self.sock], [], [], timeout)
            if not ready:
                return False
        try:
            data = self.sock.recv(65536)
        except (ConnectionError, OSError):
            data = b""
        if not data:
            self.closed = True
            raise Disconnected
        for event in self.reader.feed(data):
            if event.kind == "interrupt":
                self.interrupted = True
            self.pending.append(event)
        return True

    def receive(self) -> bytes | None:
        """The next packet's payload (waiting for it), or None for a Ctrl-C received while
        the guest was stopped.  Bad packets are answered ``-`` and skipped; a ``-`` from the
        client makes the last packet go again."""
        while True:
            while self.pending:
                event = self.pending.popleft()
                if event.kind == "packet":
                    if self.ack:
                        self._send_raw(b"+")
                    return event.payload
                if event.kind == "bad":
                    if self.ack:
                        self._send_raw(b"-")
                    continue
                if event.kind == "nak" and self.last_sent:
                    self._send_raw(self.last_sent)
                    continue
                if event.kind == "interrupt":
                    self.interrupted = False
                    return None
            self._read(None)

    def poll_interrupt(self) -> bool:
        """While the guest runs: has the user typed Ctrl-C?  (Disconnected if gdb has gone.)"""
        if not self.interrupted:
            self._read(0)
        if self.interrupted:
            self.interrupted = False
            for event in list(self.pending):
                if event.kind == "interrupt":
                    self.pending.remove(event)
            return True
        return False

    # --- sending -------------------------------------------------------------------------------
    def send(self, payload: bytes | str) -> None:
        """Send one packet (its payload already escaped where it holds binary data)."""
        if isinstance(payload, str):
            payload = payload.encode("latin-1")
        data = frame(payload)
        self.last_sent = data
        self._send_raw(data)

    def _send_raw(self, data: bytes) -> None:
        if self.closed:
            raise Disconnected
        try:
            self.sock.sendall(data)
        except (ConnectionError, OSError):
            self.closed = True
            raise Disconnected from None

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass
