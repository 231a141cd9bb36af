"""``run --gdb``'s option: what it accepts, and one clean line for what it refuses."""

from __future__ import annotations

import socket


def test_help_names_the_option(cli):
    r = cli("run", "--help")
    assert "--gdb [[HOST:]PORT]" in r.out and "127.0.0.1:1234" in r.out


def test_bad_addresses_are_one_line_errors(cli):
    for spec in ("nonsense", "127.0.0.1:70000", "host:"):
        r = cli("run", "guest:fib:small", "--gdb", spec)
        assert r.code == 2 and r.err.count("\n") == 1 and "--gdb" in r.err, (spec, r.err)


def test_a_busy_port_is_refused_before_the_run(cli):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = cli("run", "guest:fib:small", "--gdb", f"127.0.0.1:{port}")
    assert r.code == 2 and "cannot listen" in r.err and r.out == ""


def test_several_bare_guests_are_refused(cli):
    r = cli("run", "guest:fib:small", "guest:fib:small", "--gdb")
    assert r.code == 2 and "under --mode" in r.err
