"""The loader rejects malformed specs with every problem, each located by file:line."""

from __future__ import annotations

import re
import textwrap

import pytest

from hybridvmm.errors import SpecError
from hybridvmm.isa import load_isa

MINI = textwrap.dedent(
    """\
    [isa]
    name = "mini"
    word_bits = 16
    parcel_bytes = 2
    endian = "little"
    length = { bits = "15", map = { "0" = 2, "1" = 4 } }

    [registers.gpr]
    names = ["r0", "r1", "r2", "r3"]

    [fields]
    ra = { bits = "3:2", kind = "reg" }
    rb = { bits = "1:0", kind = "reg" }
    imm = { bits = "31:16", signed = true }

    [formats]
    RR = { length = 2, fields = ["ra", "rb"] }
    RI = { length = 4, fields = ["ra", "imm"] }

    [instructions]
    add = { pattern = "0 000 0000 0000 ....", format = "RR", asm = "add {ra}, {rb}" }
    sub = { pattern = "0 000 0000 0001 ....", format = "RR", asm = "sub {ra}, {rb}" }
    li = { pattern = "................ 1 000 0000 0000 ..00", format = "RI", asm = "li {ra}, {imm}" }
    """
)


def write_spec(tmp_path, text: str):
    path = tmp_path / "mini.toml"
    path.write_text(text)
    return path


def problems_of(tmp_path, text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_isa(str(write_spec(tmp_path, text)))
    return info.value.problems


def line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(needle)


def test_the_minimal_spec_is_valid(tmp_path):
    isa = load_isa(str(write_spec(tmp_path, MINI)))
    assert set(isa.instructions) == {"add", "sub", "li"}
    assert isa.lengths == (2, 4)


def test_overlapping_encodings(tmp_path):
    text = MINI + 'dup = { pattern = "0 000 0000 0000 ....", format = "RR", asm = "dup {ra}, {rb}" }\n'
    (p,) = problems_of(tmp_path, text)
    assert f"mini.toml:{line_of(text, 'dup =')}:" in p
    assert "overlaps 'add'" in p


def test_bits_covered_twice(tmp_path):
    text = MINI.replace('"0 000 0000 0001 ...."', '"0 000 0000 0001 1..."')
    (p,) = problems_of(tmp_path, text)
    assert f"mini.toml:{line_of(text, 'sub =')}:" in p and "bit(s) 3 covered twice" in p


def test_bits_covered_by_nothing(tmp_path):
    text = MINI.replace('"0 000 0000 0001 ...."', '"0 000 000. 0001 ...."')
    (p,) = problems_of(tmp_path, text)
    assert "bit(s) 8 covered by no field and no fixed bit" in p and f":{line_of(text, 'sub =')}:" in p


def test_overlapping_fields_in_a_format(tmp_path):
    text = MINI.replace('RR = { length = 2, fields = ["ra", "rb"] }', 'RR = { length = 2, fields = ["ra", "rb", "ra2"] }').replace(
        "[formats]", '[formats]\n').replace('imm = { bits', 'ra2 = { bits = "2" }\nimm = { bits')
    problems = problems_of(tmp_path, text)
    assert any("covers bits another field covers" in p for p in problems)


def test_format_names_unknown_field(tmp_path):
    text = MINI.replace('fields = ["ra", "imm"]', 'fields = ["ra", "immediate"]')
    problems = problems_of(tmp_path, text)
    assert any(f"mini.toml:{line_of(text, 'RI =')}: format 'RI' names unknown field 'immediate'" in p for p in problems)


def test_asm_template_names_unknown_operand(tmp_path):
    text = MINI.replace('asm = "sub {ra}, {rb}"', 'asm = "sub {ra}, {rc}"')
    problems = problems_of(tmp_path, text)
    assert any("asm template names unknown operand 'rc'" in p and f":{line_of(text, 'sub =')}:" in p for p in problems)


def test_unknown_flow_kind(tmp_path):
    text = MINI.replace('asm = "sub {ra}, {rb}" }', 'asm = "sub {ra}, {rb}", flow = "teleport" }')
    (p,) = problems_of(tmp_path, text)
    assert "unknown flow kind 'teleport'" in p and f":{line_of(text, 'sub =')}:" in p


def test_flow_condition_on_unknown_field(tmp_path):
    text = MINI.replace('asm = "sub {ra}, {rb}" }', 'asm = "sub {ra}, {rb}", flow = [["rz == 0", "jump"], ["", "none"]] }')
    (p,) = problems_of(tmp_path, text)
    assert "flow condition names unknown field 'rz'" in p


def test_unknown_class_and_user_mode(tmp_path):
    text = MINI.replace('asm = "sub {ra}, {rb}" }', 'asm = "sub {ra}, {rb}", class = ["sneaky"], user_mode = "maybe" }')
    problems = problems_of(tmp_path, text)
    assert any("unknown class 'sneaky'" in p for p in problems)
    assert any("user_mode must be one of trap, execute" in p for p in problems)


def test_pattern_length_must_match_format_and_length_rule(tmp_path):
    text = MINI.replace('"0 000 0000 0001 ...."', '"1 000 0000 0001 ...."')
    (p,) = problems_of(tmp_path, text)
    assert "its length bits say 4 bytes, the pattern is 2" in p


def test_unknown_format_and_missing_keys(tmp_path):
    text = MINI + 'bad = { pattern = "0 000 0000 0010 ....", format = "ZZ", asm = "bad" }\nworse = { format = "RR" }\n'
    problems = problems_of(tmp_path, text)
    assert any("uses unknown format 'ZZ'" in p for p in problems)
    assert any("'worse' needs 'pattern'" in p for p in problems)


def test_all_problems_are_reported_at_once(tmp_path):
    text = (
        MINI.replace('fields = ["ra", "imm"]', 'fields = ["ra", "immediate"]')
        .replace('asm = "sub {ra}, {rb}" }', 'asm = "sub {ra}, {rb}", flow = "teleport" }')
    )
    problems = problems_of(tmp_path, text)
    assert len(problems) >= 2
    assert all(re.match(r"mini\.toml:\d+: ", p) for p in problems)


def test_toml_syntax_error(tmp_path):
    (p,) = problems_of(tmp_path, MINI + "oops = [\n")
    assert "TOML syntax error" in p


def test_variant_extends_unknown_base(tmp_path):
    (tmp_path / "v.toml").write_text('[isa]\nname = "v"\nextends = "no-such-isa"\n')
    with pytest.raises(SpecError) as info:
        load_isa(str(tmp_path / "v.toml"))
    assert "v.toml:3: extends unknown ISA 'no-such-isa'" in str(info.value)


def test_variant_overrides_only_what_differs(tmp_path):
    write_spec(tmp_path, MINI)
    (tmp_path / "mini-v.toml").write_text(
        '[isa]\nname = "mini-v"\nextends = "mini"\n\n[instructions]\nsub = { class = ["privileged"], user_mode = "trap" }\n'
    )
    base, variant = load_isa(str(tmp_path / "mini.toml")), load_isa(str(tmp_path / "mini-v.toml"))
    assert variant.instructions["sub"].privileged and not base.instructions["sub"].privileged
    assert variant.instructions["sub"].match == base.instructions["sub"].match
    assert variant.instructions["add"] == base.instructions["add"]


def test_alias_must_expand_to_a_real_instruction(tmp_path):
    text = MINI + '\n[aliases]\nmv = { asm = "mv {ra}", expands = "mov {ra}, {ra}" }\n'
    (p,) = problems_of(tmp_path, text)
    assert "alias 'mv' expands to unknown instruction 'mov'" in p


def test_cli_reports_a_malformed_spec_in_one_line(tmp_path, cli):
    path = write_spec(tmp_path, MINI.replace('asm = "sub {ra}, {rb}"', 'asm = "sub {ra}, {rc}"'))
    result = cli("isa", "show", str(path))
    assert result.code == 2
    assert result.out == ""
    assert len(result.err.strip().splitlines()) == 1
    assert "mini.toml:" in result.err and "unknown operand 'rc'" in result.err
    assert "Traceback" not in result.err


def test_cli_unknown_isa(cli):
    result = cli("isa", "show", "z80")
    assert result.code == 2 and "unknown ISA 'z80'" in result.err


def test_bundled_specs_all_load():
    for name in ("pgm", "pgm-virt", "pgm-hybrid", "pgm-x86", "rv32", "rv64"):
        assert load_isa(name).instructions


def test_lineage_runs_from_the_variant_to_its_base(tmp_path):
    assert load_isa("pgm-x86").lineage == ("pgm-x86", "pgm")
    assert load_isa("rv32").lineage == ("rv32",)
    assert load_isa("rv64").lineage == ("rv64", "rv32")
    (tmp_path / "mine.toml").write_text('[isa]\nname = "mine"\nextends = "pgm-hybrid"\n')
    assert load_isa(str(tmp_path / "mine.toml")).lineage == ("mine", "pgm-hybrid", "pgm")


# Found by fuzzing (scripts/fuzz.py --target spec): a value of the wrong type or an out-of-range
# number raised ValueError/TypeError deep in the loader; each is now a problem with its line.
@pytest.mark.parametrize("old, new, message", [
    ('ra = { bits = "3:2", kind = "reg" }', 'ra = { bits = -1, kind = "reg" }', "bad bit range -1"),
    ('imm = { bits = "31:16", signed = true }', 'imm = { bits = "1000000:0" }', "bits are numbered 0..127"),
    ("parcel_bytes = 2", 'parcel_bytes = "2"', "parcel_bytes must be an integer in 1..16, not '2'"),
    ("word_bits = 16", "word_bits = 100000000000000000000", "word_bits must be an integer in 8..64"),
    ('names = ["r0", "r1", "r2", "r3"]', 'names = ["r0", "r1", "r2", "r3"]\naliases = 5', "aliases must be a table, not 5"),
    ('names = ["r0", "r1", "r2", "r3"]', 'names = [1, 2]', "names must be a list of strings"),
    ('imm = { bits = "31:16", signed = true }', 'imm = { bits = "31:16", shift = "x" }', "shift must be an integer"),
    ('imm = { bits = "31:16", signed = true }', 'imm = { bits = "31:16", signed = "yes" }', "signed must be true or false"),
    ('map = { "0" = 2, "1" = 4 }', 'map = 3', "the length map must be a table, not 3"),
    ('map = { "0" = 2, "1" = 4 }', 'map = { "0" = 2, "1" = "four" }', "length map entry '1' must be an integer"),
    ('RR = { length = 2, fields = ["ra", "rb"] }', 'RR = { length = 2, fields = 7 }', "fields must be a list of strings"),
    ('asm = "add {ra}, {rb}" }', 'asm = "add {ra}, {rb}", class = 3 }', "class must be a list of strings"),
    ('asm = "add {ra}, {rb}" }', 'asm = "add {ra}, {rb}", doc = 3 }', "doc must be a string"),
    ('name = "mini"', 'name = "mini"\nextends = 4', "extends must name one ISA (a string), not a number"),
])
def test_a_value_of_the_wrong_type_is_a_problem_not_an_exception(tmp_path, old, new, message):
    assert old in MINI
    problems = problems_of(tmp_path, MINI.replace(old, new, 1))
    assert any(message in p for p in problems), problems


def test_an_isa_header_that_is_not_a_table(tmp_path):
    problems = problems_of(tmp_path, "isa = 5\n[registers.gpr]" + MINI.split("[registers.gpr]", 1)[1])
    assert problems[0].endswith("[isa] must be a table")


@pytest.mark.parametrize("text", ["a = " + "[" * 3000 + "]" * 3000, "[isa]\nname = 'x'\nb = " + "{a = " * 3000 + "1" + "}" * 3000])
def test_toml_nested_too_deeply_is_a_spec_error(tmp_path, text):
    """tomllib recurses per nesting level: a deep array raised RecursionError (a traceback)."""
    problems = problems_of(tmp_path, text)
    assert problems == [f"{tmp_path / 'mini.toml'}: TOML nested too deeply to read"]
