"""The stub's side of the protocol, in process over a socket pair: malformed packets are
answered, registers and memory are written and read back, Ctrl-C interrupts, VMs are
threads, ``monitor`` commands answer, and breakpoints leave no trace in the guest."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from hypothesis import given, settings, strategies as st

from hybridvmm.gdbstub.client import RspClient
from hybridvmm.gdbstub.commands import MonitorCommands
from hybridvmm.gdbstub.connection import Connection
from hybridvmm.gdbstub.debuggee import BareDebuggee, MonitorDebuggee
from hybridvmm.gdbstub.packets import frame
from hybridvmm.gdbstub.server import GdbServer
from hybridvmm.isas import build_machine
from hybridvmm.loading import load_program
from hybridvmm.vmm import Monitor

LIMIT = 10 ** 9


class Session:
    """A server thread over one end of a socket pair, a client on the other."""

    def __init__(self, debuggee):
        ours, theirs = socket.socketpair()
        self.debuggee = debuggee
        self.server = GdbServer(Connection(theirs), debuggee, monitor=MonitorCommands(debuggee),
                                exec_file=lambda: None)
        self.ending: str | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        self.client = RspClient(sock=ours, timeout=60)

    def _serve(self) -> None:
        self.ending = self.server.serve()

    def end(self) -> str:
        self.thread.join(60)
        return self.ending


@pytest.fixture
def session():
    sessions: list[Session] = []

    def start(debuggee) -> Session:
        s = Session(debuggee)
        sessions.append(s)
        return s

    yield start
    for s in sessions:
        s.client.close()
        s.thread.join(10)


def bare(name: str):
    image = load_program(name)
    return image, build_machine(image.isa, image=image)


def test_malformed_packets_are_answered(session):
    image, m = bare("guest:fib:small")
    c = session(BareDebuggee(m, LIMIT)).client
    c.send_raw(b"$g#00")                       # bad checksum: '-', and nothing else
    assert c._next().kind == "nak"
    answers = {
        "m": b"E01", "m10": b"E01", "mzz,4": b"E01", "m100,zz": b"E01",
        "M100,2:zz": b"E01", "M100,4:00": b"E01", "M100": b"E01", "X100,4:ab": b"E01", "X100": b"E01",
        "Z0,abc": b"E01", "Z9,100,4": b"", "Zq,1,1": b"E01",
        "pffff": b"E00", "pxyz": b"E01", "P10": b"E01", "P10=zz": b"E01", "P10=00": b"E01", "G0g": b"E01",
        "Hg99": b"E01", "Hgzz": b"E01", "T99": b"E01", "Tq": b"E01",
        "vCont;x": b"E01", "vCont;s:99": b"E01", "vCont;c:zz": b"E01", "vFlashErase:0,0": b"",
        "qXfer:features:read:other.xml:0,100": b"E00", "qXfer:features:read:target.xml:zz": b"E01",
        "qXfer:nothing:read::0,1": b"", "qXfer:features:read": b"", "qThreadExtraInfo,zz": b"E01",
        "qRcmd,zz": b"E01", "QNonsense": b"", "!": b"", "R00": b"", "bc": b"", "\x7f": b"",
    }
    for packet, reply in answers.items():
        assert c.request(packet) == reply, packet
    assert c.request("?") == b"T05thread:1;"     # still talking, the guest untouched
    assert m.stats.instructions == 0


def test_kill_detach_and_hang_up_end_the_conversation(session):
    for packet, ending in ((b"k", "kill"), (b"vKill;1", "kill"), (b"D", "detach"), (None, "disconnect")):
        image, m = bare("guest:fib:small")
        s = session(BareDebuggee(m, LIMIT))
        if packet is None:
            s.client.close()
        else:
            s.client.send_raw(frame(packet))
        assert s.end() == ending


def test_registers_and_memory_are_written_and_read_back(session):
    image, m = bare("guest:fib:small")
    c = session(BareDebuggee(m, LIMIT)).client
    c.no_ack()
    assert c.request("P5=78563412") == b"OK" and m.regs[5] == 0x12345678
    assert c.register("r5") == 0x12345678
    g = c.request("g")
    assert len(g) == 18 * 8 and c.request(b"G" + g) == b"OK"
    assert c.request("P10=00020000") == b"OK" and m.pc == 0x200         # pc
    assert c.request("P11=05000000") == b"OK" and m.flags == 5          # flags: Z and V
    assert c.request("P16=05000000") == b"E01"                          # priv is 0 or 1
    special = bytes(b"$#}*\x03\x00\xff+")
    assert c.write_memory(0x8000, special) == b"OK"
    assert c.read_memory(0x8000, len(special)) == special == m.read(0x8000, len(special))
    assert c.request("M8000,2:abcd") == b"OK" and m.read(0x8000, 2) == b"\xab\xcd"
    assert c.request("X8000,0:") == b"OK"                               # gdb's probe for X
    size = m.storage.size
    assert c.read_memory(size - 2, 8) == m.read(size - 2, 2)            # as far as R reaches
    assert c.request(f"m{size:x},4") == b"E14"
    assert c.request(f"M{size - 1:x},2:0000") == b"E14"


def test_riscv_description_and_registers(session):
    image, m = bare("guest:rvminios")
    c = session(BareDebuggee(m, LIMIT)).client
    xml = c.target_xml()
    assert "<architecture>riscv:rv32</architecture>" in xml
    for feature in ("org.gnu.gdb.riscv.cpu", "org.gnu.gdb.riscv.csr", "org.gnu.gdb.riscv.virtual"):
        assert f'<feature name="{feature}">' in xml
    layout = {name: (n, bits) for name, n, bits in c.register_layout()}
    assert layout["zero"] == (0, 32) and layout["pc"] == (32, 32)
    assert layout["mstatus"] == (65 + 0x300, 32) and layout["satp"] == (65 + 0x180, 32)
    assert layout["priv"] == (4161, 32)
    assert c.register("priv") == 3 and c.register("misa") == m.get_csr("misa")
    assert c.request(f"P{65 + 0x340:x}=efbeadde") == b"OK" and m.get_csr("mscratch") == 0xDEADBEEF
    assert c.request(f"P{65 + 0xc00:x}=00000000") == b"E01"             # cycle is read-only
    assert c.request("P1041=01000000") == b"OK" and m.priv == 1         # priv, as gdb's $priv = 1
    assert c.request("P1041=02000000") == b"E01"
    assert len(c.request("g")) == 33 * 8
    assert c.read_memory(0x80000000, 4) == image.read(0x80000000, 4)   # translation off: physical
    assert c.request("m1000,4") == b"E14"                              # not RAM


def test_ctrl_c_stops_a_running_guest(session):
    image, m = bare("guest:fib:FIB_N=30")
    s = session(BareDebuggee(m, LIMIT))
    c = s.client
    c.send_raw(frame(b"vCont;c"))
    time.sleep(0.3)
    c.interrupt()
    assert c.receive() == b"T02thread:1;"
    done = m.stats.instructions
    assert done > 0
    assert c.request("?") == b"T02thread:1;"
    c.interrupt()                               # while stopped: says where it stands
    assert c.receive() == b"T02thread:1;"
    assert m.stats.instructions == done
    c.send_raw(frame(b"k"))
    assert s.end() == "kill"


def test_breakpoints_leave_no_trace(session):
    """Hit a kernel breakpoint again and again, step, remove it, run to the end: storage,
    console and counts are those of a run without the debugger."""
    image, m = bare("guest:fib:small")
    c = session(BareDebuggee(m, LIMIT)).client
    tick = image.symbols["do_tick"]
    c.insert_breakpoint(tick)
    c.insert_breakpoint(tick, kind=1)           # a "hardware" one at the same place: the same
    for _ in range(5):
        assert c.resume("vCont;c") == b"T05thread:1;" and m.pc == tick
        assert m.read(tick, 8) == image.read(tick, 8)
    assert c.resume("vCont;s:1") == b"T05thread:1;" and m.pc != tick
    c.remove_breakpoint(tick)
    c.remove_breakpoint(tick, kind=1)
    assert c.resume("vCont;c") == b"W00"
    image2, plain = bare("guest:fib:small")
    plain.run(LIMIT)
    assert bytes(m.console.output) == bytes(plain.console.output)
    assert m.stats.as_dict() == plain.stats.as_dict()
    assert m.storage.snapshot() == plain.storage.snapshot()


def test_vms_are_threads(session):
    images = [load_program("guest:fib:small"), load_program("guest:sieve:small")]
    monitor = Monitor(images, "hybrid", slice_length=3000)
    debuggee = MonitorDebuggee(monitor)
    c = session(debuggee).client
    assert c.request("qfThreadInfo") == b"m1,2" and c.request("qsThreadInfo") == b"l"
    assert bytes.fromhex(c.request("qThreadExtraInfo,2").decode()).startswith(b"vm2: supervisor")
    assert c.request("T2") == b"OK" and c.request("T3") == b"E01"
    vm1, vm2 = monitor.vms
    # run only VM 2 to a breakpoint in its kernel: VM 1 does not move
    tick = images[1].symbols["do_tick"]
    c.insert_breakpoint(tick)
    assert c.resume("vCont;c:2") == b"T05thread:2;"
    assert vm1.guest_instructions == 0 and vm2.vcpu.pc == tick
    assert c.request("qC") == b"QC2"
    assert c.request("Hg2") == b"OK" and c.register("pc") == tick
    assert c.request("Hg1") == b"OK" and c.register("pc") == images[0].entry
    # step VM 1 alone
    assert c.resume("vCont;s:1") == b"T05thread:1;"
    assert vm1.guest_instructions == 1 and vm2.vcpu.pc == tick
    # both run; VM 1 reaches the breakpoint too (the same kernel)
    assert c.resume("vCont;c") in (b"T05thread:1;", b"T05thread:2;")
    c.remove_breakpoint(tick)
    assert c.resume("vCont;c") == b"W00"
    assert all(vm.done for vm in monitor.vms)
    text = c.monitor("stats")
    assert "executed" in text and "interpreted" in text


def test_monitor_commands_and_the_guest_view_of_patched_code(session):
    image = load_program("guest:minios:small")
    monitor = Monitor([image], "patch")
    c = session(MonitorDebuggee(monitor)).client
    assert "stats" in c.monitor("help") and "unknown monitor command 'nonsense'" in c.monitor("nonsense")
    # run until the monitor has patched the kernel, then look at a patch site through gdb
    shutdown = image.symbols["shutdown"]
    c.insert_breakpoint(shutdown)
    assert c.resume("vCont;c") == b"T05thread:1;"
    vm = monitor.vms[0]
    table = vm.patches.table()
    assert table, "patch mode patched nothing?"
    patches = c.monitor("patches")
    assert f"{len(table)} patches in place" in patches
    site = table[0]
    assert vm.window.read(site.address, len(site.replacement)) == site.replacement   # in storage: the patch
    assert c.read_memory(site.address, len(site.original)) == site.original             # to gdb: the guest's bytes
    assert "patch:" in c.monitor("mode")
    exits = c.monitor("exits")
    assert "exits to the monitor" in exits and "by cause" in exits
    c.remove_breakpoint(shutdown)
    assert c.resume("vCont;c") == b"W00"


def test_bare_monitor_commands(session):
    image, m = bare("guest:fib:small")
    c = session(BareDebuggee(m, LIMIT)).client
    assert "bare" in c.monitor("mode")
    assert "no monitor" in c.monitor("exits") and "no monitor" in c.monitor("patches")
    assert "instructions      0" in c.monitor("stats")


class FakeConnection:
    """What the server needs of a connection, recording what it sends."""

    def __init__(self):
        self.sent: list[bytes] = []
        self.ack = True

    def send(self, payload):
        self.sent.append(payload.encode("latin-1") if isinstance(payload, str) else payload)

    def poll_interrupt(self) -> bool:
        return False


PACKET_HEADS = [b"?", b"g", b"G", b"p", b"P", b"m", b"M", b"X", b"Z", b"z", b"H", b"T", b"c", b"s", b"C", b"S",
                b"qSupported", b"qXfer:features:read:", b"qXfer:exec-file:read:", b"qRcmd,", b"qThreadExtraInfo,",
                b"qfThreadInfo", b"qC", b"QStartNoAckMode", b"vCont;", b"vCont?", b"vMustReplyEmpty", b""]


@settings(max_examples=300)
@given(head=st.sampled_from(PACKET_HEADS),
       body=st.binary(max_size=24) | st.text(alphabet="0123456789abcdefxg,:;=-.p", max_size=24).map(str.encode))
def test_no_packet_makes_a_traceback(head, body):
    """Whatever follows a packet's first letters, the stub answers (or resumes and answers
    with a stop), and keeps serving."""
    server, conn = _fuzz_server()
    payload = head + body
    if payload[:1] in (b"D", b"k") or payload.startswith(b"vKill"):
        return
    assert server.dispatch(payload) is None
    assert len(conn.sent) >= 1 or payload.startswith(b"QStartNoAckMode")
    assert server.dispatch(b"?") is None and conn.sent[-1][:1] in (b"T", b"W", b"X")


_FUZZ: dict = {}


def _fuzz_server():
    """One small machine shared by every example (a resume runs at most 200 instructions)."""
    if "debuggee" not in _FUZZ:
        image = load_program("guest:rvminios")
        _FUZZ["debuggee"] = BareDebuggee(build_machine(image.isa, image=image), 200)
    conn = FakeConnection()
    server = GdbServer(conn, _FUZZ["debuggee"], monitor=MonitorCommands(_FUZZ["debuggee"]), exec_file=lambda: "x.elf")
    return server, conn


@pytest.mark.parametrize("mode", ["pure", "hybrid", "patch"])
def test_stops_under_the_monitor_leave_no_trace(session, mode):
    """Breakpoints on machine-, supervisor- and user-mode code and on trapping instructions
    the dispatcher emulates right after another (``mret`` after a CSR write, two ``time``
    reads: the exit clusters of pure and patch), a watchpoint and single steps, wherever
    the monitor runs the code: the guest ends exactly as on the bare machine."""
    image = load_program("guest:rvminios")
    monitor = Monitor([image], mode)
    c = session(MonitorDebuggee(monitor)).client
    sym = image.symbols
    clustered = (0x80000128, 0x800003c8)
    breakpoints = (sym["s_trap"], sym["m_trap"], 0x101e8, *clustered)
    stops = []
    for address in breakpoints:
        c.insert_breakpoint(address)
    c.request(f"Z2,{sym['ticks']:x},4")
    for _ in range(400):
        reply = c.resume("vCont;c")
        if reply.startswith(b"W"):
            break
        stops.append(c.register("pc"))
        assert c.resume("vCont;s:1") == b"T05thread:1;"
    else:
        c.request("z2,%x,4" % sym["ticks"])
        for address in breakpoints:
            c.remove_breakpoint(address)
        reply = c.resume("vCont;c")
    assert reply == b"W00"
    assert set(breakpoints) <= set(stops)
    vm = monitor.vms[0]
    bare_machine = build_machine(image.isa, image=image)
    bare_machine.run(LIMIT)
    assert bytes(vm.console.output) == bytes(bare_machine.console.output)
    assert vm.guest_instructions == bare_machine.stats.instructions
    assert vm.guest_storage() == bare_machine.storage.snapshot()


def test_adaptive_translation_under_gdb_runs_to_the_end_as_without_it(session):
    """Regression: the stub drove a VM's slice through its own copy of the monitor's loop,
    which knew nothing of adaptive translation, and spun forever before the first
    translated site.  Under gdb the run ends as the monitor alone ends it."""
    alone = Monitor([load_program("guest:privileged:small")], "pure", isa="pgm-virt", adaptive=4)
    alone.run()
    expected = alone.vms[0]
    monitor = Monitor([load_program("guest:privileged:small")], "pure", isa="pgm-virt", adaptive=4)
    c = session(MonitorDebuggee(monitor)).client
    assert c.resume("vCont;c") == b"W00"
    vm = monitor.vms[0]
    assert vm.stats.adaptive_entries == expected.stats.adaptive_entries > 0
    assert vm.guest_instructions == expected.guest_instructions
    assert bytes(vm.vcpu.console.output) == bytes(expected.vcpu.console.output)
