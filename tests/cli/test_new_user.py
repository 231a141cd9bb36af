"""What a new user hit (issue F, item 5), each kept as a regression test.

Non-UTF-8 specs, the one output rule of every command (0600, atomic, symlinks, ``--force``,
``-``, never an input), an image's own ISA against ``--isa``, ELF input with ``--isa``/
``--base``, one ``--json`` vocabulary, ``--base`` with guests, the storage limit, Ctrl-C.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
from pathlib import Path

import pytest

from hybridvmm.asm import assemble
from hybridvmm.cli import main
from hybridvmm.errors import UserError
from hybridvmm.image import Image, Section
from hybridvmm.isa import load_isa
from hybridvmm.isas import MAX_STORAGE, storage_for

ROOT = Path(__file__).resolve().parents[2]
HELLO = ROOT / "examples" / "hello.s"
P_ADD = ROOT / "tests" / "data" / "riscv-tests" / "elf" / "rv32ui-p-add"

SIGNED = """
        .org 0x80000000
        .entry start
start:  lui   t5, 0x100
        lui   t6, 5
        addi  t6, t6, 0x555
        sw    t6, 0(t5)
        .org 0x80002000
begin_signature:
        .word 0x12345678
end_signature:
"""
"""A RISC-V guest that stops at once through the test finisher, with a signature."""


def one_line_error(r, code: int = 2) -> bool:
    return r.code == code and r.err.count("\n") == 1 and r.err.startswith("hybridvmm") and "Traceback" not in r.err


@pytest.fixture
def hello(tmp_path) -> Path:
    path = tmp_path / "hello.img"
    path.write_bytes(assemble(HELLO.read_text(), "pgm", str(HELLO)).to_bytes())
    return path


# --- a spec that is not UTF-8 ------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["isa", "show", "{spec}"],
    ["classify", "--isa", "{spec}", "--samples", "2"],
    ["asm", str(HELLO), "--isa", "{spec}", "-o", "{tmp}/x.img"],
])
def test_a_spec_that_is_not_utf8_is_one_line(cli, tmp_path, argv):
    spec = tmp_path / "bad.toml"
    spec.write_bytes(b"\xff\xfe")
    r = cli(*[a.format(spec=spec, tmp=tmp_path) for a in argv])
    assert one_line_error(r) and "not a UTF-8 text file (byte 0xff at offset 0)" in r.err
    assert not (tmp_path / "x.img").exists()


# --- the output rule -----------------------------------------------------------------------------------
def _writers(tmp_path: Path, hello: Path) -> dict[str, list[str]]:
    """Every option that writes a file, with ``{out}`` where the file name goes."""
    signed = tmp_path / "signed.img"
    signed.write_bytes(assemble(SIGNED, "rv32").to_bytes())
    return {
        "asm -o": ["asm", str(HELLO), "-o", "{out}"],
        "classify --svg": ["classify", "--isa", "pgm", "--samples", "2", "--svg", "{out}"],
        "scan --dot": ["scan", str(hello), "--dot", "{out}"],
        "patch -o": ["patch", "guest:redpill", "--isa", "pgm-x86", "-o", "{out}"],
        "unpatch -o": ["unpatch", str(hello), "-o", "{out}"],
        "run --dump": ["run", str(hello), "--dump", "{out}"],
        "run --trace-file": ["run", str(hello), "--trace-file", "{out}"],
        "run --signature": ["run", str(signed), "--signature", "{out}"],
        "run --mode hybrid --dump": ["run", str(hello), "--mode", "hybrid", "--dump", "{out}"],
    }


WRITERS = ["asm -o", "classify --svg", "scan --dot", "patch -o", "unpatch -o", "run --dump", "run --trace-file",
           "run --signature", "run --mode hybrid --dump"]


@pytest.mark.parametrize("writer", WRITERS)
def test_every_output_refuses_an_existing_file_without_force_and_replaces_it_with(cli, tmp_path, hello, writer):
    argv = _writers(tmp_path, hello)[writer]
    out = tmp_path / "out.file"
    out.write_bytes(b"what the user had")
    os.chmod(out, 0o644)
    r = cli(*[a.format(out=out) for a in argv])
    assert one_line_error(r) and "file exists (use --force" in r.err, r.err
    assert out.read_bytes() == b"what the user had"
    old = os.umask(0o022)
    try:
        r = cli(*[a.format(out=out) for a in argv], "--force")
    finally:
        os.umask(old)
    assert r.code == 0, r.err
    assert out.read_bytes() != b"what the user had"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


@pytest.mark.parametrize("writer", WRITERS)
def test_every_output_is_created_0600_whatever_the_umask(cli, tmp_path, hello, writer):
    argv = _writers(tmp_path, hello)[writer]
    out = tmp_path / "new.file"
    old = os.umask(0o000)
    try:
        r = cli(*[a.format(out=out) for a in argv])
    finally:
        os.umask(old)
    assert r.code == 0, r.err
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def run_binary(argv: list[str]) -> tuple[int, bytes, str]:
    """``main(argv)`` with stdout as bytes (a file on stdout need not be text)."""
    out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
        out.flush()
    return code, out.buffer.getvalue(), err.getvalue()


@pytest.mark.parametrize("writer", WRITERS)
def test_dash_means_stdout_everywhere(tmp_path, hello, writer, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = _writers(tmp_path, hello)[writer]
    code, out, err = run_binary([a.format(out="-") for a in argv])
    assert code == 0, err
    assert not (tmp_path / "-").exists()
    assert out  # the file went to stdout


def test_a_file_on_stdout_sends_the_report_to_stderr(tmp_path):
    code, out, err = run_binary(["asm", str(HELLO), "-o", "-", "--json"])
    assert code == 0 and out.startswith(b"HVMI") and Image.from_bytes(out).entry == 0x100
    assert json.loads(err)["output_file"] == "-"
    code, out, err = run_binary(["scan", "guest:syscalls:small", "--dot", "-"])
    assert out.startswith(b"digraph") and "guest:syscalls:small:" in err


def test_a_symlink_is_replaced_by_the_file_and_its_target_left_alone(cli, tmp_path):
    target = tmp_path / "target.txt"
    target.write_bytes(b"keep me")
    link = tmp_path / "hello.img"
    link.symlink_to(target)
    assert cli("asm", str(HELLO), "-o", str(link)).code == 2
    r = cli("asm", str(HELLO), "-o", str(link), "--force")
    assert r.code == 0, r.err
    assert not link.is_symlink() and link.read_bytes().startswith(b"HVMI")
    assert target.read_bytes() == b"keep me"


def test_a_failed_write_keeps_what_the_user_had(cli, tmp_path, monkeypatch):
    out = tmp_path / "hello.img"
    out.write_bytes(b"old")

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    r = cli("asm", str(HELLO), "-o", str(out), "--force")
    assert one_line_error(r) and "cannot write: No space left on device" in r.err
    assert out.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["hello.img"]


@pytest.mark.parametrize("argv", [
    ["asm", "{src}", "-o", "{src}", "--force"],
    ["asm", "{img}", "--isa", "pgm", "--force"],  # SRC.img is SRC itself
    ["patch", "{img}", "-o", "{img}", "--force"],
    ["unpatch", "{img}", "-o", "{img}", "--force"],
    ["scan", "{img}", "--dot", "{img}", "--force"],
    ["run", "{img}", "--dump", "{img}", "--force"],
    ["run", "{img}", "--trace-file", "{img}", "--force"],
    ["classify", "--isa", "{spec}", "--samples", "2", "--svg", "{spec}", "--force"],
])
def test_no_command_replaces_a_file_it_reads_not_even_with_force(cli, tmp_path, hello, argv):
    src = tmp_path / "hello.s"
    src.write_text(HELLO.read_text())
    spec = tmp_path / "mine.toml"
    spec.write_text('[isa]\nname = "mine"\nextends = "pgm"\n')
    files = {p: p.read_bytes() for p in (src, hello, spec)}
    r = cli(*[a.format(src=src, img=hello, spec=spec) for a in argv])
    assert one_line_error(r) and "refusing to overwrite a file this command reads" in r.err, r.err
    assert {p: p.read_bytes() for p in files} == files


def test_run_output_dir_follows_the_rule(cli, tmp_path):
    out = tmp_path / "out"
    assert cli("run", "guest:syscalls:small", "--output-dir", str(out)).code == 0
    r = cli("run", "guest:syscalls:small", "--output-dir", str(out))
    assert one_line_error(r) and "vm1.out: file exists" in r.err
    assert cli("run", "guest:syscalls:small", "--output-dir", str(out), "--force").code == 0


def test_the_rule_is_in_help(cli):
    for command in ("asm", "classify", "scan", "patch", "unpatch", "run"):
        r = cli(command, "--help")
        assert "--force" in r.out and "never one this command reads" in " ".join(r.out.split())


# --- an image's own ISA --------------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["disasm", "{img}", "--isa", "rv32"],
    ["info", "{img}", "--isa", "rv32"],
    ["scan", "{img}", "--isa", "rv32"],
    ["patch", "{img}", "--isa", "rv32", "-o", "{tmp}/p.img"],
    ["run", "{img}", "--isa", "rv32"],
    ["compare", "{img}", "--isa", "rv32"],
])
def test_an_isa_of_another_family_is_one_line(cli, tmp_path, hello, argv):
    r = cli(*[a.format(img=hello, tmp=tmp_path) for a in argv])
    assert one_line_error(r) and "an image for pgm; --isa rv32 is not pgm or a variant of it" in r.err
    assert not (tmp_path / "p.img").exists()


def test_a_guest_with_an_isa_of_another_family_is_one_line(cli):
    r = cli("run", "guest:minios", "--isa", "rv32")
    assert one_line_error(r) and "a bundled guest for pgm-x86; --isa rv32 is not pgm or a variant of it" in r.err


def test_a_variant_of_the_family_may_be_asked_for(cli, hello, tmp_path):
    r = cli("disasm", str(hello), "--isa", "pgm-x86", "--json")
    assert r.code == 0 and json.loads(r.out)["isa"] == "pgm-x86"
    r = cli("info", str(hello), "--isa", "pgm-x86")  # info describes the file: its own ISA
    assert r.code == 0 and r.out.startswith("isa      pgm\n")
    r = cli("patch", str(hello), "--isa", "pgm-x86", "-o", str(tmp_path / "p.img"))
    assert r.code == 0 and Image.from_bytes((tmp_path / "p.img").read_bytes()).isa == "pgm"


@pytest.mark.parametrize("command", ["disasm", "info", "scan"])
def test_an_elf_is_never_raw_bytes(cli, command):
    r = cli(command, str(P_ADD), "--isa", "pgm", "--base", "0x100")
    assert one_line_error(r) and "--base applies to raw binaries only; this is an ELF file" in r.err
    r = cli(command, str(P_ADD), "--isa", "pgm")
    assert one_line_error(r) and "an ELF for rv32; --isa pgm is not rv32 or a variant of it" in r.err
    assert cli(command, str(P_ADD), "--isa", "rv32").code == 0


@pytest.mark.parametrize("command", ["run", "disasm", "info", "scan", "patch", "compare"])
def test_base_is_refused_for_a_guest(cli, command, tmp_path):
    r = cli(command, "guest:syscalls:small", "--base", "0x100")
    assert one_line_error(r) and "--base applies to raw binaries only; this is a bundled guest" in r.err


# --- one --json vocabulary -----------------------------------------------------------------------------
def _json_documents(cli, tmp_path: Path, hello: Path) -> dict[str, object]:
    patched = tmp_path / "p.img"
    docs = {
        "asm": cli("asm", str(HELLO), "-o", str(tmp_path / "a.img"), "--json"),
        "patch": cli("patch", "guest:redpill", "--isa", "pgm-x86", "-o", str(patched), "--json"),
        "unpatch": cli("unpatch", str(patched), "-o", str(tmp_path / "u.img"), "--json"),
        "scan": cli("scan", "guest:minios", "--space", "0x7000:0x1000:0x10c", "--json"),
        "info": cli("info", str(patched), "--json"),
        "disasm": cli("disasm", str(hello), "--json"),
        "isa list": cli("isa", "list", "--json"),
        "isa show": cli("isa", "show", "pgm", "--json"),
        "run": cli("run", "guest:syscalls:small", "--json"),
        "run hybrid": cli("run", "guest:syscalls:small", "--mode", "hybrid", "--json"),
        "guests": cli("guests", "--json"),
    }
    for name, r in docs.items():
        assert r.code == 0, (name, r.err)
    return {name: json.loads(r.out) for name, r in docs.items()}


def _walk(value, path=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield path, k, v, value
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v, path + "[]")


def test_json_keys_mean_one_thing_across_commands(cli, tmp_path, hello):
    for name, doc in _json_documents(cli, tmp_path, hello).items():
        for where, key, value, parent in _walk(doc):
            at = f"{name}: {where}.{key}"
            assert key != "output", f"{at}: say output_file (a file written) or console (guest output)"
            if key.endswith("_count"):
                assert isinstance(value, int), at
                plural = key[: -len("_count")] + "s"
                if plural in parent:
                    assert isinstance(parent[plural], list) and len(parent[plural]) == value, at
            if key in ("sites", "symbols", "patches", "sections", "blocks", "edges", "lines", "restored"):
                assert isinstance(value, list), f"{at} is a list wherever it appears"
            if key.endswith("_file"):
                assert isinstance(value, str), at
            if key == "console":
                assert isinstance(value, str) and "console_hex" in parent, at


# --- storage ---------------------------------------------------------------------------------------------
def _high_image(tmp_path: Path, address: int) -> Path:
    path = tmp_path / "high.img"
    path.write_bytes(Image("pgm", address, [Section("text", address, bytearray(b"\x00\x02"))]).to_bytes())
    return path


@pytest.mark.parametrize("argv", [
    ["run", "{img}"], ["run", "{img}", "--mode", "hybrid"], ["compare", "{img}"],
    ["run", "{img}", "--storage", "512M"],
])
def test_an_image_beyond_the_storage_limit_is_one_line(cli, tmp_path, argv):
    img = _high_image(tmp_path, 0xFFFFFF00)
    r = cli(*[a.format(img=img) for a in argv])
    assert one_line_error(r) and "needs 0x100000000 bytes of storage" in r.err, r.err


def test_storage_raises_the_limit_up_to_the_hard_cap(cli, tmp_path):
    img = _high_image(tmp_path, 0x4800000)  # 72 MiB up: above the default 64 MiB
    r = cli("run", str(img))
    assert one_line_error(r) and "the limit is 0x4000000 (64 MiB): --storage SIZE raises it" in r.err
    r = cli("run", str(img), "--storage", "80M", "--stats")
    assert r.code == 0, r.err
    r = cli("run", str(img), "--storage", "1G")
    assert one_line_error(r) and "at most 0x20000000 bytes (512 MiB)" in r.err
    r = cli("run", "guest:fib:small", "--storage", "1K")  # a limit under 1 MiB was printed as "0 MiB"
    assert one_line_error(r) and "the limit is 0x400 (1 KiB)" in r.err
    r = cli("run", str(img), "--storage", "lots")
    assert one_line_error(r) and "not a size: 'lots'" in r.err


def test_storage_for_has_a_hard_cap():
    img = Image("pgm", 0, [Section("text", MAX_STORAGE, bytearray(2))])
    with pytest.raises(UserError, match="at most 0x20000000"):
        storage_for(load_isa("pgm"), img)


def test_info_and_disasm_of_a_high_image_need_no_storage(cli, tmp_path):
    img = _high_image(tmp_path, 0xFFFFFF00)
    assert cli("info", str(img)).code == 0 and cli("disasm", str(img)).code == 0


# --- Ctrl-C ---------------------------------------------------------------------------------------------------
def _interrupt_after(monkeypatch, steps: int) -> None:
    """Make the machine's run loop see Ctrl-C once it has done ``steps`` instructions."""
    from hybridvmm.machine.core import Machine

    real = Machine.run
    state = {"left": steps}

    def run(self, max_steps=None):
        if state["left"] is None:
            return real(self, max_steps)
        chunk = state["left"] if max_steps is None else min(max_steps, state["left"])
        result = real(self, chunk)
        state["left"] -= result.steps
        if state["left"] <= 0 and result.reason == "max-steps":
            state["left"] = None
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(Machine, "run", run)


@pytest.mark.parametrize("mode", ["bare", "pure", "hybrid", "patch"])
def test_ctrl_c_prints_the_stats_so_far_and_exits_130(cli, monkeypatch, mode):
    _interrupt_after(monkeypatch, 3000)
    r = cli("run", "guest:minios", "--mode", mode, "--stats")
    assert r.code == 130, r.err
    assert "instructions      " in r.err and "final PSW" in r.err
    assert "interrupted" in r.err and "Traceback" not in r.err
    assert r.out.startswith("minios: booting")  # the partial console
    done = int(r.err.split("instructions      ")[1].split()[0])
    assert 0 < done < 50_000


def test_a_device_or_fifo_is_written_into_never_replaced(cli, tmp_path):
    """``-o /dev/null`` (as root, a rename would have replaced the device with a file)."""
    r = cli("asm", str(HELLO), "-o", os.devnull)
    assert r.code == 0 and stat.S_ISCHR(os.lstat(os.devnull).st_mode)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert cli("asm", str(HELLO), "-o", str(fifo)).code == 0  # 174 bytes: well inside a pipe's buffer
        assert os.read(reader, 1 << 16).startswith(b"HVMI")
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


# --- names the system refuses, outputs checked before the work (found by fuzzing) -------------------
LONG = "a" * 300
"""Longer than any file name may be: the system's own error, not a traceback."""


@pytest.mark.parametrize("argv", [
    ["isa", "show", LONG],
    ["info", "guest:fib", "--isa", LONG],
    ["run", LONG],
    ["asm", str(HELLO), "-o", LONG],
    ["scan", "guest:fib", "--dot", LONG],
    ["classify", "--isa", "pgm", "--samples", "2", "--svg", LONG],
    ["patch", "guest:minios", "--isa", "pgm-x86", "-o", LONG],
    ["run", "guest:fib:small", "--output-dir", LONG],
    ["run", "guest:fib:small", "--trace", "--trace-file", LONG],
    ["run", "guest:fib:small", "--dump", LONG],
    ["run", "guest:fib:small", "--mode", "patch", "--costs", LONG],
])
def test_a_name_no_file_can_have_is_one_line(cli, tmp_path, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    r = cli(*argv)
    assert one_line_error(r), r.err
    assert os.listdir(tmp_path) == []


def test_extends_must_name_one_isa(cli, tmp_path):
    spec = tmp_path / "mine.toml"
    text = (ROOT / "isa_specs" / "pgm-virt.toml").read_text()
    spec.write_text(text.replace('extends = "pgm"', 'extends = [["pgm"]]'))
    r = cli("isa", "show", str(spec))
    assert one_line_error(r) and "extends must name one ISA (a string), not an array" in r.err


def test_costs_belongs_to_the_monitor_modes(cli):
    r = cli("run", "guest:fib:small", "--costs", "whatever.toml")
    assert one_line_error(r) and "--mode bare" in r.err


@pytest.mark.parametrize("flag", ["--dump", "--trace-file", "--output-dir"])
def test_run_checks_its_outputs_before_it_runs(cli, tmp_path, flag):
    target = tmp_path / "out"
    if flag == "--output-dir":
        target.mkdir()
        (target / "vm1.out").write_bytes(b"mine")
    else:
        target.write_bytes(b"mine")
    r = cli("run", "guest:fib:small", "--mode", "patch", flag, str(target))
    assert one_line_error(r) and "file exists" in r.err
    assert r.out == ""  # refused before the guest ran, not after
    assert (target / "vm1.out" if flag == "--output-dir" else target).read_bytes() == b"mine"


@pytest.mark.parametrize("command", ["run", "info", "disasm", "scan", "patch", "compare"])
def test_assembly_source_given_as_a_program_names_asm(cli, tmp_path, command):
    """The first thing a new user tries: ``run examples/hello.s``."""
    r = cli(command, str(HELLO))
    assert one_line_error(r) and "looks like assembly source" in r.err and f"asm {HELLO} -o" in r.err


def test_source_without_a_source_suffix_is_still_recognised(cli, tmp_path):
    prog = tmp_path / "prog.txt"
    prog.write_text(HELLO.read_text())
    assert "looks like assembly source" in cli("run", str(prog)).err


@pytest.mark.parametrize("data", [b"abc", bytes(range(256)), b"\xff\xfe.org 0"])
def test_raw_bytes_still_get_the_raw_binary_advice(cli, tmp_path, data):
    blob = tmp_path / "blob.bin"
    blob.write_bytes(data)
    r = cli("info", str(blob))
    assert one_line_error(r) and "give --isa NAME and --base ADDR" in r.err and "assembly" not in r.err
