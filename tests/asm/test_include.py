""".include "FILE": where FILE is found, errors at the included file's own line, cycles,
the depth limit, an included file's own .isa, and the bundled klib.s reused by a user's guest."""

from __future__ import annotations

from pathlib import Path

import pytest

from hybridvmm.asm import AsmErrors, assemble, assemble_file
from hybridvmm.asm.assembler import GUEST_DIR, MAX_INCLUDE_DEPTH, include_search_path
from hybridvmm.isas import build_machine

KERNEL = """\
.isa pgm
        .include "klib.s"
        .entry boot
boot:   movl    sp, kstack_top
        movl    r1, msg
        call    kputs
        movl    r1, 1234
        call    kputdec
        halt
s_unexpected: .asciz "unexpected trap "
msg:    .asciz "klib says "
        .align  4
        .space  64
kstack_top:
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def run_bare(image) -> bytes:
    m = build_machine(image.isa, image=image)
    assert m.run(100_000).reason == "halted"
    return bytes(m.console.output)


def test_include_reads_the_file_in_place(tmp_path):
    write(tmp_path, "consts.s", "        .equ VALUE, 42\n        movi r2, VALUE\n")
    main = write(tmp_path, "main.s", '.isa pgm\nstart:  movi r1, 1\n        .include "consts.s"\n        halt\n')
    image = assemble_file(main)
    inline = assemble(".isa pgm\nstart:  movi r1, 1\n        movi r2, 42\n        halt\n", "pgm")
    assert image.sections[0].data == inline.sections[0].data
    assert image.symbols == inline.symbols


def test_the_bundled_klib_is_found_from_anywhere(tmp_path):
    """A user's guest reuses the micro-guests' library: no copy, no option."""
    main = write(tmp_path / "deep" / "er", "guest.s", KERNEL)
    assert run_bare(assemble_file(main)) == b"klib says 1234"


def test_a_file_beside_the_includer_comes_before_the_bundled_one(tmp_path):
    write(tmp_path, "klib.s", "kputs:  ret\nkputdec: ret\n")
    main = write(tmp_path, "guest.s", KERNEL)
    assert run_bare(assemble_file(main)) == b""


def test_include_is_relative_to_the_including_file_not_the_current_directory(tmp_path, monkeypatch):
    write(tmp_path, "lib/inner.s", "        .equ INNER, 7\n")
    write(tmp_path, "lib/outer.s", '        .include "inner.s"\n        .equ OUTER, INNER + 1\n')
    main = write(tmp_path, "src/main.s", '.isa pgm\n        .include "../lib/outer.s"\nstart:  movi r1, OUTER\n        halt\n')
    write(tmp_path, "cwd/inner.s", "        .equ INNER, 100\n")  # not this one
    monkeypatch.chdir(tmp_path / "cwd")
    image = assemble_file(main)
    assert image.read(image.entry, 4) == assemble(".isa pgm\nmovi r1, 8\n", "pgm").sections[0].data


def test_include_dirs_are_searched_after_the_including_files_directory(tmp_path):
    write(tmp_path, "inc/defs.s", "        .equ N, 5\n")
    main = write(tmp_path, "src/main.s", '.isa pgm\n        .include "defs.s"\nstart:  movi r1, N\n        halt\n')
    with pytest.raises(AsmErrors) as info:
        assemble_file(main)
    assert "cannot find 'defs.s'" in str(info.value)
    assert assemble_file(main, include_dirs=(tmp_path / "inc",)).symbols["start"] == 0x100
    assert include_search_path(str(main), (tmp_path / "inc",)) == [main.parent, tmp_path / "inc", GUEST_DIR]


def test_a_bundled_guest_source_includes_from_the_guest_directory():
    image = assemble('.include "klib.s"\ns_unexpected:\nkstack_top:\n', "pgm", "guest:mine")
    assert image.symbols["kvectors"] == 0x100
    assert include_search_path("guest:mine")[0] == GUEST_DIR


def test_errors_name_the_included_file_and_its_line(tmp_path):
    write(tmp_path, "lib.s", "        nop\n        addd r1, r2\n        nop\n")
    main = write(tmp_path, "main.s", '.isa pgm\n        movz r1, 1\n        .include "lib.s"\n        jmp nowhere\n')
    with pytest.raises(AsmErrors) as info:
        assemble_file(main)
    lines = str(info.value).splitlines()
    assert lines == [
        f"{main}:2: unknown mnemonic 'movz' (did you mean mov, movl, movi?)",
        f"{tmp_path / 'lib.s'}:2: unknown mnemonic 'addd' (did you mean add, addi?)",
        f"{main}:4: undefined symbol 'nowhere'",
    ]


def test_a_duplicate_symbol_names_the_other_file(tmp_path):
    write(tmp_path, "lib.s", "        nop\nstart:  nop\n")
    main = write(tmp_path, "main.s", '.isa pgm\nstart:  nop\n        .include "lib.s"\n')
    with pytest.raises(AsmErrors) as info:
        assemble_file(main)
    assert str(info.value) == f"{tmp_path / 'lib.s'}:2: duplicate symbol 'start' (first defined at {main}:2)"


def test_missing_file_and_bad_arguments_are_errors_at_the_include_line(tmp_path):
    main = write(tmp_path, "main.s", '.isa pgm\n        .include "none.s"\n        .include none.s\n'
                                     '        .include ""\n        .include "a.s", "b.s"\n        .include "sub"\n')
    (tmp_path / "sub").mkdir()
    with pytest.raises(AsmErrors) as info:
        assemble_file(main)
    errors = [(e.line, e.message) for e in info.value.errors]
    assert [line for line, _ in errors] == [2, 3, 4, 5, 6]
    assert errors[0][1] == f".include: cannot find 'none.s' (looked in {tmp_path}, the bundled guests)"
    assert "expected a double-quoted string" in errors[1][1]
    assert errors[2][1] == ".include needs a file name"
    assert errors[3][1].startswith(".include takes 1 argument(s)")
    assert errors[4][1].startswith(".include: cannot find 'sub'")


def test_an_include_cycle_is_reported_once_at_the_line_that_closes_it(tmp_path):
    write(tmp_path, "a.s", '        nop\n        .include "b.s"\n')
    write(tmp_path, "b.s", '        .include "a.s"\n')
    main = write(tmp_path, "main.s", '.isa pgm\n        .include "a.s"\n')
    with pytest.raises(AsmErrors) as info:
        assemble_file(main)
    assert str(info.value) == f"{tmp_path / 'b.s'}:1: .include 'a.s': include cycle (a.s -> b.s -> a.s)"


def test_a_file_including_itself_is_a_cycle(tmp_path):
    main = write(tmp_path, "main.s", '.isa pgm\n        .include "main.s"\n')
    with pytest.raises(AsmErrors) as info:
        assemble_file(main)
    assert str(info.value) == f"{main}:2: .include 'main.s': include cycle (main.s -> main.s)"


def test_nesting_deeper_than_the_limit_is_an_error(tmp_path):
    for k in range(MAX_INCLUDE_DEPTH + 2):
        write(tmp_path, f"f{k}.s", f'        .include "f{k + 1}.s"\n')
    write(tmp_path, f"f{MAX_INCLUDE_DEPTH + 2}.s", "        nop\n")
    deepest = write(tmp_path, "ok.s", '.isa pgm\n        .include "f3.s"\n')  # 15 deep: fine
    assert assemble_file(deepest).sections[0].data == bytes.fromhex("0001")
    main = write(tmp_path, "main.s", '.isa pgm\n        .include "f0.s"\n')
    with pytest.raises(AsmErrors) as info:
        assemble_file(main)
    [error] = info.value.errors
    assert error.filename == str(tmp_path / f"f{MAX_INCLUDE_DEPTH - 1}.s") and error.line == 1
    assert error.message == f".include 'f{MAX_INCLUDE_DEPTH}.s': includes nested more than {MAX_INCLUDE_DEPTH} deep"


def test_an_included_file_may_say_its_own_isa_first(tmp_path):
    write(tmp_path, "lib.s", ".isa pgm-x86   # so it assembles on its own too\n        .equ K, 3\n")
    main = write(tmp_path, "main.s", '.isa pgm\n        movi r1, 1\n        .include "lib.s"\n        movi r2, K\n')
    assert assemble_file(main).sections[0].data == assemble("movi r1, 1\nmovi r2, 3\n", "pgm").sections[0].data


def test_an_included_file_of_another_family_is_not_read(tmp_path):
    write(tmp_path, "lib.s", ".isa rv32\n        addi a0,a0,1\n")
    write(tmp_path, "bad.s", ".isa nosuch\n        nop\n")
    write(tmp_path, "late.s", "        nop\n.isa pgm\n")
    main = write(tmp_path, "main.s", '.isa pgm\n        .include "lib.s"\n        .include "bad.s"\n        .include "late.s"\n')
    with pytest.raises(AsmErrors) as info:
        assemble_file(main)
    lines = str(info.value).splitlines()
    assert lines[0] == f"{tmp_path / 'lib.s'}:1: this file is written for rv32; the assembly is for pgm (another ISA family)"
    assert lines[1].startswith(f"{tmp_path / 'bad.s'}:1: ") and "nosuch" in lines[1]
    assert lines[2] == f"{tmp_path / 'late.s'}:2: .isa must come before any code, data or symbol"
    assert len(lines) == 3


def test_riscv_syntax_includes_too(tmp_path):
    write(tmp_path, "macros.s", "        .equ EXIT_CODE, 7\nhelper:\n        addi a0,a0,EXIT_CODE\n        ret\n")
    main = write(tmp_path, "main.s", '.isa rv32\n        .globl _start\n_start:\n        call helper\n'
                                     '        ebreak\n        .include "macros.s"\n')
    image = assemble_file(main)
    assert image.symbols["helper"] == image.symbols["_start"] + 12
    inline = assemble(".isa rv32\n_start:\n call helper\n ebreak\nhelper:\n addi a0,a0,7\n ret\n", "rv32")
    assert image.sections[0].data == inline.sections[0].data


def test_local_labels_work_across_an_include(tmp_path):
    write(tmp_path, "loop.s", "1:      addi r1, r1, -1\n        bne 1b\n")
    main = write(tmp_path, "main.s", '.isa pgm\nstart:  movi r1, 3\n        .include "loop.s"\n        br 1f\n1:      halt\n')
    assert run_bare(assemble_file(main)) == b""


def test_asm_command_include_dir_and_error_lines(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "inc/defs.s", "        .equ N, 5\n        bogus\n")
    write(tmp_path, "main.s", '.isa pgm\n        .include "defs.s"\nstart:  movi r1, N\n        halt\n')
    r = cli("asm", "main.s", "-o", "main.img")
    assert r.code == 2 and r.err.splitlines() == ["main.s:2: .include: cannot find 'defs.s' (looked in ., the bundled guests)",
                                                  "main.s:3: undefined symbol 'N'"]
    r = cli("asm", "main.s", "-o", "main.img", "-I", "inc")
    assert r.code == 2 and r.err == "inc/defs.s:2: unknown mnemonic 'bogus' (did you mean bgtu, bgeu?)\n"
    write(tmp_path, "inc/defs.s", "        .equ N, 5\n")
    r = cli("asm", "main.s", "-o", "main.img", "--include-dir", "inc")
    assert r.code == 0, r.err
    r = cli("asm", "main.s", "-o", "other.img", "-I", "missing")
    assert r.code == 2 and r.err == "hybridvmm: error: --include-dir missing: not a directory\n"


def test_asm_never_writes_over_an_included_file(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "defs.s", "        .equ N, 5\n")
    write(tmp_path, "main.s", '.isa pgm\n        .include "defs.s"\nstart:  movi r1, N\n        halt\n')
    r = cli("asm", "main.s", "-o", "defs.s", "--force")
    assert r.code == 2 and "Traceback" not in r.err
    assert (tmp_path / "defs.s").read_text() == "        .equ N, 5\n"
