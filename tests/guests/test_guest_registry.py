"""The guest registry and the CLI surface of bundled guests: ``guests``, ``guest:NAME``
with run / disasm / info, constant overrides, errors."""

from __future__ import annotations

import json

import pytest

from hybridvmm.errors import UserError
from hybridvmm.guests import GUESTS, VARIANTS, build_guest, guest_source, list_guests, parse_name
from hybridvmm.image import FLAG_CODE
from hybridvmm.loading import load_program

NAMES = ["minios", "sieve", "fib", "sort", "checksum", "syscalls", "privileged", "timer", "kcompute", "kjit", "redpill",
         "stopwatch"]
"""The pgm guests (every variant); the RISC-V guests are listed after them."""
LISTED = NAMES + ["rvminios", "rvcounters", "rvloop", "rvcsr", "rvloop64", "xv6"]


def test_list_guests_names_and_descriptions():
    listed = list_guests()
    assert [name for name, _ in listed] == LISTED
    for name, description in listed:
        assert description and "\n" not in description, name


def test_unknown_guest_lists_the_names():
    with pytest.raises(UserError) as exc:
        build_guest("nosuch")
    for name in LISTED:
        assert name in str(exc.value)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("isa", VARIANTS)
def test_every_guest_assembles_for_every_variant(name, isa):
    image = build_guest(name, isa)
    assert image.isa == isa
    assert image.source == f"guest:{name}"
    assert image.entry == image.symbols["boot"]
    text = next(s for s in image.sections if s.name == "text")
    assert text.address == 0x100  # the spec's load address
    # every section is code (task regions mix code and data)
    assert all(s.flags & FLAG_CODE for s in image.sections)


def test_default_variant_is_pgm_x86():
    assert build_guest("minios").isa == "pgm-x86"
    assert all(g.isa == "pgm-x86" for g in GUESTS.values() if g.variants == VARIANTS)


def test_kernel_source_is_shared_not_copied():
    kernel = guest_source("minios").split("minios demo tasks")[0]
    for name in ("sieve", "fib", "sort", "checksum"):
        assert guest_source(name).startswith(kernel)


def test_defines_override_constants():
    image = build_guest("fib", "pgm-virt", {"FIB_N": 7})
    default = build_guest("fib", "pgm-virt")
    assert image.sections != default.sections
    with pytest.raises(UserError, match="FIB_N"):  # the error lists the guest's own constants
        build_guest("fib", None, {"NO_SUCH_CONSTANT": 1})


def test_name_spec_with_constants_and_small():
    assert parse_name("fib") == ("fib", {})
    assert parse_name("sort:SORT_N=100,SORT_SEED=0x10") == ("sort", {"SORT_N": 100, "SORT_SEED": 16})
    assert parse_name("sieve:small") == ("sieve", dict(GUESTS["sieve"].small))
    with pytest.raises(UserError):
        parse_name("fib:FIB_N")
    with pytest.raises(UserError):
        parse_name("fib:FIB_N=ten")
    a = load_program("guest:fib:FIB_N=7", isa="pgm-hybrid")
    b = build_guest("fib", "pgm-hybrid", {"FIB_N": 7})
    assert a.isa == "pgm-hybrid" and [bytes(s.data) for s in a.sections] == [bytes(s.data) for s in b.sections]


def test_guests_command(cli):
    r = cli("guests")
    assert r.code == 0 and r.err == ""
    regular, _, hostile = r.out.partition("\n\nhostile guests: each attempts one thing a monitor must contain\n")
    lines = regular.splitlines()
    assert [line.split()[0] for line in lines] == LISTED
    for line, (name, description) in zip(lines, list_guests()):
        assert line.endswith(description)
    assert [line.split()[0] for line in hostile.splitlines()] == [name for name, _ in list_guests("hostile")]
    assert len(hostile.splitlines()) >= 12


def test_guests_command_json(cli):
    r = cli("guests", "--json")
    assert r.code == 0
    data = [g for g in json.loads(r.out) if g["kind"] != "hostile"]
    assert [g["name"] for g in data] == LISTED
    assert {g["kind"] for g in data} == {"os", "workload", "micro"}
    own = {"xv6": ["rv64"], "rvloop64": ["rv64"]}
    assert all(g["variants"] == own.get(g["name"], ["rv32"] if g["name"].startswith("rv") else list(VARIANTS))
               for g in data)


def test_guests_command_help(cli):
    r = cli("guests", "--help")
    assert r.code == 0 and "guest:NAME" in r.out


def test_run_unknown_guest_is_a_usage_error(cli):
    r = cli("run", "guest:nosuch", "--mode", "bare")
    assert r.code == 2
    assert "minios" in r.err and "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_run_with_bad_constant_is_a_usage_error(cli):
    r = cli("run", "guest:fib:NOPE=1")
    assert r.code == 2 and "NOPE" in r.err


def test_run_guest_with_constants(cli):
    r = cli("run", "guest:fib:FIB_N=12", "--isa", "pgm-virt", "--mode", "bare")
    assert r.code == 0
    assert "fib: fib(12) = 144 (465 calls)\n" in r.out


def test_disasm_guest_minios(cli):
    r = cli("disasm", "guest:minios")
    assert r.code == 0
    out = r.out
    for label in ("trampoline:", "boot:", "trap_entry:", "alpha_main:", "sysinfo_main:"):
        assert label in out
    # the trampoline: setr, then jrstu into user mode
    assert "setr r10, r11" in out and "jrstu 0x10c" in out


def test_info_guest_minios(cli):
    r = cli("info", "guest:minios", "--isa", "pgm-hybrid")
    assert r.code == 0
    assert "pgm-hybrid" in r.out
    for section in ("text", "alpha", "beta", "gamma", "sysinfo", "rogue", "snoop", "spinner"):
        assert section in r.out


def test_a_guest_is_assembled_only_for_its_own_family(cli):
    """bench --isa rv32 assembled every pgm guest with the RISC-V assembler and printed
    thousands of its errors as one line; the guest registry refuses it by name."""
    with pytest.raises(UserError, match="guest:minios: a bundled guest for pgm-x86; --isa rv32 is not pgm or a variant of it"):
        build_guest("minios", "rv32")
    r = cli("bench", "--isa", "rv32", "minios")        # rv32 has its own workloads
    assert r.code == 2 and r.err.count("\n") == 1 and "unknown workload(s) minios" in r.err
