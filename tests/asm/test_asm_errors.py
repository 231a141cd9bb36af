"""Malformed assembly, one test per kind of error: through `main(["asm", ...])` the user
gets exit 2, one line on stderr naming file:line, no traceback, and no output file."""

from __future__ import annotations

import pytest

CASES = {
    "unknown-mnemonic": ("pgm", "nop\n  addd r1, r2\n", 2, ["unknown mnemonic 'addd'", "did you mean", "add"]),
    "wrong-operand-count": ("pgm", "add r1\n", 1, ["add <ra>, <rb>"]),
    "not-a-register": ("pgm", "\n\nadd r1, r99\n", 3, ["'r99' is not a register", "add <ra>, <rb>"]),
    "register-as-value": ("pgm", "movi r1, r2\n", 1, ["register 'r2'", "movi <ra>, <simm>"]),
    "immediate-out-of-range": ("pgm", "movi r1, 40000\n", 1, ["40000", "-32768..32767"]),
    "rv32-immediate-out-of-range": ("rv32", "addi a0,a0,-2049\n", 1, ["-2049", "-2048..2047"]),
    "branch-out-of-range": ("rv32", "beq a0,a1,target\n.space 4092\ntarget:\n", 1, ["4096 bytes away", "-4096..4094"]),
    "branch-misaligned": ("rv32", "beq a0,a1,3\n", 1, ["multiple of 2"]),
    "undefined-label": ("pgm", "start: br strat\n", 1, ["undefined symbol 'strat'", "did you mean 'start'"]),
    "duplicate-label": ("pgm", "a: nop\nb: nop\na: nop\n", 3, ["duplicate symbol 'a'", "line 1"]),
    "duplicate-equ": ("pgm", ".equ X, 1\nX = 2\n", 2, ["duplicate symbol 'X'"]),
    "label-is-register": ("pgm", "sp: nop\n", 1, ["register name"]),
    "unknown-directive": ("pgm", ".wrod 1\n", 1, ["unknown directive '.wrod'", ".word"]),
    "directive-arguments": ("pgm", ".org\n", 1, [".org takes 1 argument"]),
    "align-not-power-of-two": ("pgm", ".align 3\n", 1, ["power of two"]),
    "org-backwards": ("pgm", "nop\nnop\n.org 0x100\n", 3, ["moves backwards", "0x104"]),
    "space-forward-reference": ("pgm", ".space later\nlater: nop\n", 1, ["not defined yet", "later"]),
    "bad-string": ("pgm", '.data\n.ascii "no end\n', 2, ["unterminated string"]),
    "bad-escape": ("pgm", '.asciz "a\\qb"\n', 1, ["unknown escape"]),
    "not-a-string": ("pgm", ".ascii 42\n", 1, ["double-quoted string"]),
    "bad-expression": ("pgm", "movi r1, (1 + 2\n", 1, ["missing ')'"]),
    "bad-number": ("pgm", "movi r1, 12abc\n", 1, ["bad number"]),
    "bad-char-literal": ("pgm", "movi r1, 'ab'\n", 1, ["character literal"]),
    "division-by-zero": ("pgm", ".equ Z, 0\nmovi r1, 1 / Z\n", 2, ["division by zero"]),
    "byte-out-of-range": ("pgm", ".byte 1, 256\n", 1, ["256", "-128..255"]),
    "self-referential-constant": ("pgm", "A = B + 1\nB = A\nmovi r1, A\n", 1, ["itself"]),
    "sections-overlap": ("pgm", ".org 0x100\nnop\nnop\n.data\n.org 0x102\n.word 1\n", 4, ["overlaps section 'text'"]),
    "isa-after-code": ("pgm", "nop\n.isa pgm\n", 2, [".isa must come before"]),
    "second-entry": ("pgm", ".entry 0\n.entry 1\n", 2, ["second .entry"]),
    "unreadable-line": ("pgm", "nop\n@@@\n", 2, ["cannot read"]),
    "alias-bad-operand": ("pgm", "inc q1\n", 1, ["from alias 'inc'"]),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_malformed_assembly(kind, cli, tmp_path):
    isa, source, line, needles = CASES[kind]
    src = tmp_path / "bad.s"
    src.write_text(source)
    out = tmp_path / "bad.img"
    r = cli("asm", str(src), "-o", str(out), "--isa", isa)
    assert r.code == 2
    assert r.out == ""
    assert r.err.count("\n") == 1, r.err
    assert "Traceback" not in r.err
    assert f"{src}:{line}: " in r.err, r.err
    for needle in needles:
        assert needle in r.err, (needle, r.err)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [src]  # no stray temporary file either


def test_no_isa_anywhere(cli, tmp_path):
    src = tmp_path / "noisa.s"
    src.write_text("nop\n")
    r = cli("asm", str(src))
    assert r.code == 2 and f"{src}:1: " in r.err and "--isa" in r.err and r.err.count("\n") == 1
    assert not (tmp_path / "noisa.img").exists()


def test_unknown_isa_in_source(cli, tmp_path):
    src = tmp_path / "u.s"
    src.write_text("# a comment first\n\n.isa nosuch\nnop\n")
    r = cli("asm", str(src))
    assert r.code == 2 and f"{src}:3: " in r.err and "unknown ISA 'nosuch'" in r.err


def test_missing_source_and_refusing_to_overwrite(cli, tmp_path):
    r = cli("asm", str(tmp_path / "none.s"), "--isa", "pgm")
    assert r.code == 2 and "no such file" in r.err
    src = tmp_path / "keep.s"
    src.write_text(".isa pgm\nnop\n")
    r = cli("asm", str(src), "-o", str(src))
    assert r.code == 2 and "refusing to overwrite" in r.err
    assert src.read_text() == ".isa pgm\nnop\n"


def test_every_error_of_a_file_is_reported(cli, tmp_path):
    src = tmp_path / "many.s"
    src.write_text(
        "nop\n"
        "  addd r1, r2\n"          # 2: unknown mnemonic (pass 1)
        "movi r1, 40000\n"         # 3: out of range (pass 2)
        "br nowhere\n"             # 4: undefined symbol (pass 2)
        "A = B + 1\n"              # 5: defined in terms of itself ...
        "B = A\n"                  # ... reported once, not again for B
        "movi r2, A\n"             # ... nor where A is used
        ".wrod 5\n"                # 8: unknown directive (pass 1)
        "nop\n"
    )
    out = tmp_path / "many.img"
    r = cli("asm", str(src), "-o", str(out), "--isa", "pgm")
    assert r.code == 2 and r.out == "" and "Traceback" not in r.err
    lines = r.err.splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == [f"{src}:{n}" for n in (2, 3, 4, 5, 8)]
    assert "unknown mnemonic 'addd'" in lines[0] and "40000" in lines[1] and "'nowhere'" in lines[2]
    assert "itself" in lines[3] and "unknown directive '.wrod'" in lines[4]
    assert not out.exists()


def test_the_library_raises_one_error_carrying_all():
    from hybridvmm.asm import assemble
    from hybridvmm.asm.assembler import AsmErrors
    from hybridvmm.errors import AsmError

    with pytest.raises(AsmErrors) as info:
        assemble("bogus\nnop\nmovi r1, 99999\nalso bogus\n", "pgm", "p.s")
    err = info.value
    assert isinstance(err, AsmError) and (err.filename, err.line) == ("p.s", 1)
    assert [e.line for e in err.errors] == [1, 3, 4]
    assert str(err).splitlines()[0].startswith("p.s:1: unknown mnemonic 'bogus'") and len(str(err).splitlines()) == 3
