"""The packet layer: checksums, escapes, run-length encoding, the incremental reader, and
the stub's address option."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from hybridvmm.errors import UserError
from hybridvmm.gdbstub.connection import parse_address
from hybridvmm.gdbstub.packets import (Event, PacketError, PacketReader, checksum, decode_rle, encode_rle, escape,
                                       frame, unescape)


def test_checksum_and_frame():
    assert checksum(b"") == 0
    assert checksum(b"OK") == (ord("O") + ord("K")) & 0xFF == 0x9A
    assert frame(b"OK") == b"$OK#9a"
    assert frame(b"qSupported") == b"$qSupported#37"  # as gdb sends it


def test_escape_covers_the_four_special_bytes():
    assert escape(b"a$b#c}d*e") == b"a}\x04b}\x03c}]d}\x0ae"
    assert unescape(escape(b"$#}*")) == b"$#}*"


@given(st.binary(max_size=300))
def test_escape_round_trip(data):
    escaped = escape(data)
    assert not set(escaped) & set(b"$#*")
    assert unescape(escaped) == data


def test_unescape_rejects_a_dangling_escape():
    with pytest.raises(PacketError):
        unescape(b"ab}")


def test_run_length_decoding():
    assert decode_rle(b"0* ") == b"0000"          # ' ' = 32: three more
    assert decode_rle(b"x*\"y") == b"xxxxxxy"      # '"' = 34: five more
    assert decode_rle(b"a}*b") == b"a}*b"          # an escaped '*' is data, not a repeat
    for bad in (b"*a", b"a*"):
        with pytest.raises(PacketError):
            decode_rle(bad)


@given(st.binary(max_size=200).map(lambda b: bytes(x for x in b if x not in b"$#}*")))
def test_run_length_round_trip(data):
    encoded = encode_rle(data)
    assert decode_rle(encoded) == data
    counts = [encoded[i + 1] for i in range(len(encoded) - 1) if encoded[i] == ord("*")]
    assert not set(counts) & set(b"#$+-")          # the protocol forbids these counts
    if len(data) >= 8 and len(set(data)) == 1:
        assert len(encoded) < len(data)


def test_reader_splits_packets_acks_and_interrupts():
    r = PacketReader()
    events = r.feed(b"+$g#67-\x03$m0,4#fd")
    assert events == [Event("ack"), Event("packet", b"g"), Event("nak"), Event("interrupt"), Event("packet", b"m0,4")]


def test_reader_takes_bytes_one_at_a_time():
    r = PacketReader()
    events = []
    for b in frame(b"vCont;c"):
        events += r.feed(bytes((b,)))
    assert events == [Event("packet", b"vCont;c")]


def test_reader_reports_a_bad_checksum_and_goes_on():
    r = PacketReader()
    assert r.feed(b"$g#00$g#67") == [Event("bad", b"g"), Event("packet", b"g")]
    assert r.feed(b"$g#zz") == [Event("bad", b"g")]


def test_reader_decodes_run_length_and_keeps_escapes():
    """Run-length encoding repeats characters of the packet as sent (escapes included), so
    it is expanded first and escapes are undone after, as gdb's own reader does."""
    (event,) = PacketReader().feed(frame(b"X0,4:}\x03* "))
    assert event == Event("packet", b"X0,4:}\x03\x03\x03\x03")
    assert unescape(event.payload.partition(b":")[2]) == b"#\x03\x03\x03"


def test_reader_drops_noise_between_packets():
    assert PacketReader().feed(b"garbage\n$?#3f") == [Event("packet", b"?")]


def test_address_option():
    assert parse_address("1234") == ("127.0.0.1", 1234)
    assert parse_address(":4321") == ("127.0.0.1", 4321)
    assert parse_address("localhost:1") == ("localhost", 1)
    assert parse_address("0.0.0.0:1234") == ("0.0.0.0", 1234)
    assert parse_address("[::1]:99") == ("::1", 99)
    for bad in ("port", "host:", "1:99999", "-5"):
        with pytest.raises(UserError):
            parse_address(bad)
