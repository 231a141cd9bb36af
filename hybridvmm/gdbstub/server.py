"""The Remote Serial Protocol conversation: one packet in, one reply out, until gdb
detaches, kills the guest or goes away.

All-stop mode: the guest runs only between a resume packet (``c``, ``s``, ``vCont``) and
its stop reply.  A malformed packet is answered ``E01`` (an unknown one with the empty
reply, as the protocol asks), never with a traceback.
"""

from __future__ import annotations

import binascii
from typing import Callable

from hybridvmm.gdbstub.connection import Connection, Disconnected
from hybridvmm.gdbstub.debuggee import Debuggee, Thread
from hybridvmm.gdbstub.packets import PacketError, escape, unescape
from hybridvmm.gdbstub.points import WATCH_KINDS, Stop

PACKET_SIZE = 0x4000
DETACH, KILL, DISCONNECT = "detach", "kill", "disconnect"
"""How a conversation ends."""


class ProtocolError(ValueError):
    """A packet the stub understands but cannot act on as written (answered ``E01``)."""


def _hex(text: bytes) -> int:
    try:
        return int(text, 16)
    except ValueError:
        raise ProtocolError(f"not a hex number: {text[:20]!r}") from None


def _unhex(text: bytes) -> bytes:
    """Hex digits → the bytes they spell (ValueError, answered ``E01``, if they are not)."""
    return bytes.fromhex(text.decode("ascii"))


def _thread_id(text: bytes) -> int:
    """A thread id (``-1`` all, ``0`` any; ``p``pid.tid forms accepted)."""
    if text.startswith(b"p"):
        text = text.partition(b".")[2] or b"-1"
    return -1 if text == b"-1" else _hex(text)


def stop_reply(stop: Stop) -> str:
    if stop.kind == "exited":
        return f"W{stop.code:02x}"
    if stop.kind == "terminated":
        return f"X{stop.signal:02x}"
    reply = f"T{stop.signal:02x}"
    if stop.kind in ("watch", "rwatch", "awatch"):
        reply += f"{stop.kind}:{stop.address:x};"
    return reply + f"thread:{stop.tid:x};"


class GdbServer:
    """One gdb client talking to one :class:`Debuggee`."""

    def __init__(self, conn: Connection, debuggee: Debuggee, *, monitor: Callable[[Thread, str], str] | None = None,
                 exec_file: Callable[[], str | None] | None = None):
        self.conn = conn
        self.debuggee = debuggee
        self.monitor = monitor
        """``monitor(thread, command)`` → its output (``qRcmd``)."""
        self.exec_file = exec_file
        first = debuggee.threads[0].tid
        self.g_thread = first
        self.c_thread = -1
        """The thread ``c``/``s`` resume (``Hc``; -1: all)."""
        self.last = Stop(first, "signal")

    # --- the conversation -------------------------------------------------------------------------
    def serve(self) -> str:
        """Answer packets until the conversation ends; returns how (detach, kill, disconnect)."""
        conn = self.conn
        try:
            while True:
                payload = conn.receive()
                if payload is None:  # Ctrl-C while stopped: say where it stands
                    conn.send(stop_reply(self.last))
                    continue
                ending = self.dispatch(payload)
                if ending is not None:
                    return ending
        except Disconnected:
            return DISCONNECT

    def dispatch(self, payload: bytes) -> str | None:
        """Handle one packet (send its reply); returns an ending, or None to go on."""
        head = payload[:1]
        if head == b"D":
            self.conn.send("OK")
            return DETACH
        if head == b"k":
            return KILL
        if payload.startswith(b"vKill"):
            self.conn.send("OK")
            return KILL
        try:
            reply = self.handle(payload)
        except (ProtocolError, PacketError, ValueError, IndexError, KeyError, OverflowError, UnicodeError):
            reply = "E01"
        if reply is not None:
            self.conn.send(reply)
        return None

    def handle(self, payload: bytes) -> str | bytes | None:
        """The reply to one packet (None: already sent)."""
        head, body = payload[:1], payload[1:]
        handler = {
            b"?": lambda: stop_reply(self.last),
            b"g": self.read_registers, b"G": lambda: self.write_registers(body),
            b"p": lambda: self.read_register(body), b"P": lambda: self.write_register(body),
            b"m": lambda: self.read_memory(body), b"M": lambda: self.write_memory(body),
            b"X": lambda: self.write_binary(body),
            b"Z": lambda: self.point(body, True), b"z": lambda: self.point(body, False),
            b"H": lambda: self.set_thread(body), b"T": lambda: self.thread_alive(body),
            b"c": lambda: self.resume(body, False), b"s": lambda: self.resume(body, True),
            b"C": lambda: self.resume(body.partition(b";")[2], False),
            b"S": lambda: self.resume(body.partition(b";")[2], True),
            b"q": lambda: self.query(payload), b"Q": lambda: self.set_option(payload),
            b"v": lambda: self.v_packet(payload),
        }.get(head)
        return handler() if handler is not None else ""

    # --- threads -------------------------------------------------------------------------------------
    def thread(self) -> Thread:
        thread = self.debuggee.thread(self.g_thread) or self.debuggee.threads[0]
        self.debuggee.select(thread)
        return thread

    def set_thread(self, body: bytes) -> str:
        kind, tid = body[:1], _thread_id(body[1:])
        if tid not in (0, -1) and self.debuggee.thread(tid) is None:
            return "E01"
        if kind == b"g":
            self.g_thread = self.debuggee.threads[0].tid if tid in (0, -1) else tid
        elif kind == b"c":
            self.c_thread = tid
        return "OK"

    def thread_alive(self, body: bytes) -> str:
        return "OK" if self.debuggee.thread(_thread_id(body)) is not None else "E01"

    # --- registers -------------------------------------------------------------------------------------
    @staticmethod
    def _encode(value: int | None, size: int) -> str:
        if value is None:
            return "xx" * size
        return (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little").hex()

    def read_registers(self) -> str:
        view = self.thread().view
        return "".join(self._encode(view.read_register(r), r.size) for r in view.registers[:view.g_count])

    def write_registers(self, body: bytes) -> str:
        view = self.thread().view
        data = _unhex(body)
        at = 0
        for reg in view.registers[:view.g_count]:
            chunk = data[at:at + reg.size]
            if len(chunk) < reg.size:
                break
            view.write_register(reg, int.from_bytes(chunk, "little"))
            at += reg.size
        return "OK"

    def read_register(self, body: bytes) -> str:
        view = self.thread().view
        reg = view.register(_hex(body))
        if reg is None:
            return "E00"
        return self._encode(view.read_register(reg), reg.size)

    def write_register(self, body: bytes) -> str:
        number, sep, value = body.partition(b"=")
        if not sep:
            raise ProtocolError("P without '='")
        view = self.thread().view
        reg = view.register(_hex(number))
        if reg is None:
            return "E00"
        data = _unhex(value)
        if len(data) != reg.size:
            raise ProtocolError("register value of the wrong size")
        return "OK" if view.write_register(reg, int.from_bytes(data, "little")) else "E01"

    # --- memory ------------------------------------------------------------------------------------------
    @staticmethod
    def _address_length(text: bytes) -> tuple[int, int]:
        address, sep, length = text.partition(b",")
        if not sep:
            raise ProtocolError("expected ADDR,LENGTH")
        return _hex(address), _hex(length)

    def read_memory(self, body: bytes) -> str:
        address, length = self._address_length(body)
        length = min(length, PACKET_SIZE // 2 - 8)
        if length == 0:
            return ""
        data = self.thread().view.read_memory(address, length)
        return data.hex() if data else "E14"

    def write_memory(self, body: bytes) -> str:
        """``M``: the data in hex."""
        return self._write(body, _unhex)

    def write_binary(self, body: bytes) -> str:
        """``X``: the data binary, escaped."""
        return self._write(body, unescape)

    def _write(self, body: bytes, decode: Callable[[bytes], bytes]) -> str:
        """``ADDR,LENGTH:DATA``, the data decoded by ``decode``."""
        where, sep, encoded = body.partition(b":")
        if not sep:
            raise ProtocolError("expected ADDR,LENGTH:DATA")
        address, length = self._address_length(where)
        data = decode(encoded)
        if len(data) != length:
            raise ProtocolError("data does not match the length")
        if not data:
            return "OK"
        written = self.thread().view.write_memory(address, data)
        return "OK" if written == len(data) else "E14"

    # --- breakpoints and watchpoints -------------------------------------------------------------------
    def point(self, body: bytes, insert: bool) -> str:
        fields = body.split(b";")[0].split(b",")
        if len(fields) != 3:
            raise ProtocolError("expected TYPE,ADDR,KIND")
        kind, address, length = _hex(fields[0]), _hex(fields[1]), _hex(fields[2])
        points = self.debuggee.points
        if kind in (0, 1):
            if insert:
                points.insert_breakpoint(address)
            else:
                points.remove_breakpoint(address)
            return "OK"
        if kind in WATCH_KINDS:
            if insert:
                points.insert_watch(WATCH_KINDS[kind], address, length)
            else:
                points.remove_watch(WATCH_KINDS[kind], address, length)
            return "OK"
        return ""

    # --- running -------------------------------------------------------------------------------------------
    def resume(self, address: bytes, step: bool) -> None:
        """``c``/``s`` [ADDR]: the thread ``Hc`` chose (all of them by default)."""
        thread = self.thread()
        if address:
            thread.view.write_register(_pc_register(thread), _hex(address))
        only = None if self.c_thread in (0, -1) else {self.c_thread}
        self._run(thread if step else None, only)

    def _run(self, step: Thread | None, only: set[int] | None = None) -> None:
        stop = self.debuggee.resume(step, self.conn.poll_interrupt, only)
        self.last = stop
        if stop.kind not in ("exited", "terminated"):
            self.g_thread = stop.tid
        self.conn.send(stop_reply(stop))

    def v_packet(self, payload: bytes) -> str | None:
        if payload == b"vCont?":
            return "vCont;c;C;s;S"
        if payload.startswith(b"vCont;"):
            return self.v_cont(payload[6:])
        return ""

    def v_cont(self, body: bytes) -> str | None:
        """``vCont;ACTION[:TID]…``: each thread takes the first action that names it (or
        names none).  A step steps that thread alone (the others would run for the time of
        one instruction: none, on one CPU); otherwise the threads given ``c`` run."""
        actions: dict[int, bytes] = {}
        for action in body.split(b";"):
            verb, _, tid_text = action.partition(b":")
            verb = verb[:1]
            if verb not in (b"c", b"C", b"s", b"S"):
                return "E01"
            verb = verb.lower()
            if tid_text:
                tid = _thread_id(tid_text)
                targets = [t.tid for t in self.debuggee.threads] if tid in (0, -1) else [tid]
                if tid not in (0, -1) and self.debuggee.thread(tid) is None:
                    return "E01"
            else:
                targets = [t.tid for t in self.debuggee.threads]
            for tid in targets:
                actions.setdefault(tid, verb)
        stepping = [tid for tid, verb in actions.items() if verb == b"s"]
        if stepping:
            thread = self.debuggee.thread(stepping[0])
            self.g_thread = thread.tid
            self._run(thread)
        else:
            running = {tid for tid, verb in actions.items() if verb == b"c"}
            self._run(None, None if len(running) == len(self.debuggee.threads) else running)
        return None

    # --- queries ------------------------------------------------------------------------------------------
    def query(self, payload: bytes) -> str:
        name, _, rest = payload.partition(b":")
        if name == b"qSupported":
            features = [f"PacketSize={PACKET_SIZE:x}", "qXfer:features:read+", "vContSupported+", "QStartNoAckMode+"]
            if self.exec_file is not None:
                features.append("qXfer:exec-file:read+")
            return ";".join(features)
        if name == b"qXfer":
            return self.transfer(rest)
        if payload == b"qC":
            return f"QC{self.g_thread:x}"
        if payload == b"qAttached" or name == b"qAttached":
            return "1"
        if payload == b"qfThreadInfo":
            return "m" + ",".join(f"{t.tid:x}" for t in self.debuggee.threads)
        if payload == b"qsThreadInfo":
            return "l"
        if payload.startswith(b"qThreadExtraInfo,"):
            thread = self.debuggee.thread(_thread_id(payload.partition(b",")[2]))
            if thread is None:
                return "E01"
            self.debuggee.select(thread)
            return f"{thread.name}: {thread.view.describe()}".encode().hex()
        if payload.startswith(b"qRcmd,"):
            return self.monitor_command(payload[6:])
        if name == b"qSymbol":
            return "OK"
        return ""

    def transfer(self, rest: bytes) -> str | bytes:
        parts = rest.split(b":")
        if len(parts) != 4 or parts[1] != b"read":
            return ""
        obj, annex, window = parts[0], parts[2], parts[3]
        if obj == b"features":
            if annex != b"target.xml":
                return "E00"
            document = self.thread().view.target_xml().encode()
        elif obj == b"exec-file" and self.exec_file is not None:
            path = self.exec_file()
            if path is None:
                return "E01"
            document = path.encode()
        else:
            return ""
        offset, length = self._address_length(window)
        chunk = document[offset:offset + min(length, PACKET_SIZE - 16)]
        more = offset + len(chunk) < len(document)
        return (b"m" if more else b"l") + escape(chunk)

    def set_option(self, payload: bytes) -> str | None:
        if payload == b"QStartNoAckMode":
            self.conn.send("OK")
            self.conn.ack = False
            return None
        return ""

    def monitor_command(self, hexed: bytes) -> str | None:
        if self.monitor is None:
            return ""
        try:
            command = binascii.unhexlify(hexed).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            return "E01"
        output = self.monitor(self.thread(), command)
        if output and not output.endswith("\n"):
            output += "\n"
        if output:
            self.conn.send("O" + output.encode().hex())
        return "OK"


def _pc_register(thread: Thread):
    return next(r for r in thread.view.registers if r.name == "pc")
