"""Drawing part of a CFG: ``scan --dot/--svg --function SYM`` and ``--around ADDR --depth N``."""

from __future__ import annotations

import re
import shutil

import pytest

from hybridvmm.scan import scan_image
from hybridvmm.scan.excerpt import block_at, function_blocks, function_entries, neighbourhood, owning_function

SOURCE = """
        .entry start
start:  movi r1, 3
loop:   call work
        addi r1, r1, -1
        cmpi r1, 0
        bne loop
        halt
work:   pushf
        cmpi r1, 2
        beq two
one:    popf
        ret
two:    rdtime r2
        popf
        ret
"""


@pytest.fixture
def program(tools, tmp_path):
    image = tools.build(SOURCE, "pgm-x86")
    path = tmp_path / "calls.img"
    image.save(path)
    return image, path


def blocks_named(image, *names):
    return {image.symbols[n] for n in names}


def test_function_is_what_the_entry_reaches_without_calling(program, tools):
    image, _ = program
    scanner = scan_image(image)
    start, loop, work, one, two = tools.sym(image, "start", "loop", "work", "one", "two")
    entries = function_entries(scanner)
    assert {start, work} <= entries
    main = function_blocks(scanner, start, entries)
    assert start in main and loop in main and work not in main and two not in main
    assert function_blocks(scanner, work) == {work, one, two}
    assert owning_function(scanner, two + 2) == work and owning_function(scanner, loop) == start
    assert block_at(scanner, two + 1) == two  # a byte inside an instruction
    assert function_blocks(scanner, 0x5000) == set() and owning_function(scanner, 0x5000) is None


def test_neighbourhood_counts_edges_either_way(program, tools):
    image, _ = program
    scanner = scan_image(image)
    loop, work, two = tools.sym(image, "loop", "work", "two")
    assert neighbourhood(scanner, two, 0) == {two}
    assert neighbourhood(scanner, two, 1) == {two, work}
    assert loop in neighbourhood(scanner, two, 2)  # two <- work <- loop (the call)


def _blocks_in_dot(text: str) -> set[int]:
    return {int(m, 16) for m in re.findall(r"^\s*b([0-9a-f]+) \[label", text, re.M)}


def test_scan_dot_function_draws_one_function_with_stubs(cli, program, tools, tmp_path):
    image, path = program
    work, one, two = tools.sym(image, "work", "one", "two")
    out = tmp_path / "work.dot"
    r = cli("scan", str(path), "--dot", str(out), "--function", "work")
    assert r.code == 0, r.err
    text = out.read_text()
    assert _blocks_in_dot(text) == {work, one, two}
    assert "rdtime r2 [behavior-sensitive, user-sensitive]" in text
    whole = tmp_path / "all.dot"
    assert cli("scan", str(path), "--dot", str(whole)).code == 0
    assert len(_blocks_in_dot(whole.read_text())) > 3


def test_scan_dot_around_an_address_with_depth(cli, program, tools, tmp_path):
    image, path = program
    work, two = tools.sym(image, "work", "two")
    out = tmp_path / "around.dot"
    assert cli("scan", str(path), "--dot", str(out), "--around", hex(two), "--depth", "0").code == 0
    text = out.read_text()
    assert _blocks_in_dot(text) == {two}
    out1 = tmp_path / "around1.dot"
    assert cli("scan", str(path), "--dot", str(out1), "--around", "two", "--depth", "1").code == 0
    assert _blocks_in_dot(out1.read_text()) == {two, work}


def test_an_edge_leaving_the_excerpt_ends_at_a_named_stub(cli, program, tmp_path):
    _, path = program
    out = tmp_path / "start.dot"
    assert cli("scan", str(path), "--dot", str(out), "--function", "start").code == 0
    text = out.read_text()
    assert re.search(r'x[0-9a-f]+ \[shape=box, style="dashed,rounded".*label="0x[0-9a-f]+ <work>"\]', text)
    assert re.search(r'-> x[0-9a-f]+ \[label="call"', text)


def test_a_static_patch_is_marked_apart_from_the_sites(cli, program, tmp_path):
    _, path = program
    assert cli("patch", str(path)).code == 0
    patched = path.with_name("calls.patched.img")
    out = tmp_path / "patched.dot"
    assert cli("scan", str(patched), "--dot", str(out), "--function", "work").code == 0
    text = out.read_text()
    assert "pushf [behavior-sensitive, user-sensitive, patched]" in text and "#ffd27a" in text


@pytest.mark.parametrize("argv, message", [
    (["--function", "work"], "--function chooses what to draw: use it with --dot or --svg"),
    (["--dot", "X", "--function", "nowhere"], "--function nowhere: neither a symbol of the image nor a number"),
    (["--dot", "X", "--around", "0x9000"], "--around 0x9000: no scanned block holds 0x9000"),
    (["--dot", "X", "--depth", "2"], "--depth goes with --around"),
    (["--dot", "X", "--around", "work", "--depth", "-1"], "--depth -1: must be 0 or more"),
])
def test_bad_drawing_options_are_one_line_errors(cli, program, tmp_path, argv, message):
    _, path = program
    argv = [str(tmp_path / "o.dot") if a == "X" else a for a in argv]
    r = cli("scan", str(path), *argv)
    assert r.code == 2 and message in r.err and len(r.err.strip().splitlines()) == 1
    assert not (tmp_path / "o.dot").exists()


def test_function_and_around_exclude_each_other(cli, program, tmp_path):
    _, path = program
    r = cli("scan", str(path), "--dot", str(tmp_path / "o.dot"), "--function", "work", "--around", "work")
    assert r.code == 2 and "not allowed with argument" in r.err


def test_scan_svg_draws_a_function(cli, program, tmp_path):
    _, path = program
    out = tmp_path / "work.svg"
    if shutil.which("dot") is None:
        r = cli("scan", str(path), "--svg", str(out), "--function", "work")
        assert r.code == 2 and "apt-get install graphviz" in r.err
        pytest.skip("Graphviz is not installed")
    r = cli("scan", str(path), "--svg", str(out), "--function", "work")
    assert r.code == 0, r.err
    svg = out.read_text()
    assert "<svg" in svg and "rdtime r2" in svg and "halt" not in svg
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert cli("scan", str(path), "--svg", str(out)).code == 2  # exists: --force to replace


def test_scan_svg_refuses_the_same_file_as_dot(cli, program, tmp_path):
    _, path = program
    same = str(tmp_path / "cfg.out")
    r = cli("scan", str(path), "--svg", same, "--dot", same)
    assert r.code == 2 and "choose two files" in r.err


def test_function_in_a_relocated_space(cli, tools, tmp_path):
    path = tmp_path / "task.img"
    tools.build("""
    .entry start
    start:  halt
    .org 0x2000
    task:   nop
            br task2
    task2:  pushf
            jrstu 0
    """, "pgm-x86").save(path)
    out = tmp_path / "task.dot"
    r = cli("scan", str(path), "--space", "0x2000:0x100:0", "--dot", str(out), "--around", "task2", "--depth", "0")
    assert r.code == 0, r.err
    text = out.read_text()
    assert "subgraph cluster_0" in text and "s0_b6 [label" in text and "s0_b0 [label" not in text


def test_an_indirect_call_starts_a_function_of_its_own():
    """RISC-V calls through a register (``auipc ra; jalr ra``): a resolved target is a callee,
    not part of the caller, though its edge is an ``indirect`` one like a jump table's."""
    from hybridvmm.loading import load_program

    image = load_program("guest:rvminios")
    scanner = scan_image(image)
    start, kputs = image.symbols["_start"], image.symbols["kputs"]
    entries = function_entries(scanner)
    assert kputs in entries
    caller = function_blocks(scanner, start, entries)
    assert kputs not in caller and len(caller) <= 3
    assert owning_function(scanner, kputs + 4, entries) == kputs
