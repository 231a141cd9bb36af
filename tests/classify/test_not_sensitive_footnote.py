"""``classify`` explains the rows that are privileged but not sensitive (issue K §4, item 9):
readers of Popek and Goldberg ask why ``in``/``out`` trap yet are not sensitive."""

from __future__ import annotations

import json

from hybridvmm.classify.report import NOT_SENSITIVE_WHY, not_sensitive_reasons
from hybridvmm.isa import load_isa

CONSOLE = "the console is a device, not system state in the model"


def _footnotes(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("* ")]


def test_pgm_footnote_names_in_and_out_and_why(cli):
    r = cli("classify", "--isa", "pgm", "--only", "in,out,halt,nop", "--samples", "20")
    assert r.code == 0
    table_end = r.out.splitlines().index(next(line for line in r.out.splitlines() if line.startswith("  out ")))
    notes = _footnotes(r.out)
    assert notes == [f"* privileged but not sensitive: in, out ({CONSOLE}): they trap in user mode, though the "
                     f"theorems need only the sensitive to (docs/theory.md, 'Instruction classes')."]
    assert r.out.splitlines().index(notes[0]) == table_end + 2   # right after the table
    assert "Instruction classes" in r.out and "halt" not in notes[0]


def test_no_footnote_when_every_privileged_row_is_sensitive(cli):
    r = cli("classify", "--isa", "pgm", "--only", "halt,setr,nop", "--samples", "20")
    assert r.code == 0 and _footnotes(r.out) == []


def test_json_lists_them_with_the_reason(cli):
    r = cli("classify", "--isa", "pgm", "--only", "in,out,halt", "--samples", "20", "--json")
    assert json.loads(r.out)["privileged_not_sensitive"] == [{"name": "in", "why": CONSOLE}, {"name": "out", "why": CONSOLE}]


def test_many_forms_are_counted_and_the_generic_reason_given(cli):
    r = cli("classify", "--isa", "rv32", "--only", "sfence.vma,csrrs", "--samples", "10")
    (note,) = _footnotes(r.out)
    assert note.startswith("* privileged but not sensitive: sfence.vma (it changes no system state")
    assert "forms of csrrs (" + NOT_SENSITIVE_WHY + ")" in note


def test_reasons_come_from_the_specs():
    assert not_sensitive_reasons(load_isa("pgm-x86")) == {"in": CONSOLE, "out": CONSOLE}
    assert set(not_sensitive_reasons(load_isa("rv64"))) == {"sfence.vma"}
