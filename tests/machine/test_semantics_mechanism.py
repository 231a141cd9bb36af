"""The one semantics mechanism (machine/semantics.py) and pgm's tables expanded through it."""

from __future__ import annotations

import linecache

import pytest

from hybridvmm.isa import Decoder, load_isa
from hybridvmm.isas import build_machine
from hybridvmm.isas.pgm.env import PgmEnv
from hybridvmm.isas.pgm.semantics import SEMANTICS
from hybridvmm.machine import semantics as mechanism
from hybridvmm.machine.inline import inline_piece

OPERANDS = {"ra": 1, "rb": 2, "simm": -8, "imm32": 0x12345678, "code": 3, "port": 0, "rel": 16, "abs": 0x2000}


def test_substitute_replaces_whole_words_once():
    assert mechanism.substitute("a + b + ab", {"a": "r[b]", "b": "I"}) == "r[b] + I + ab"


def test_fill_keeps_indentation_and_drops_empty_lines():
    template = "def f():\n    BEFORE\n    BODY\n    return X\n"
    assert mechanism.fill(template, BEFORE="", BODY="a = 1\nb = 2", X="a") == "def f():\n    a = 1\n    b = 2\n    return a\n"


def test_let_puts_names_in_place_and_computes_the_rest_once():
    assert mechanism.let({"a": "r[ra]", "b": "I"}, "s = a + b") == "a = r[ra]\ns = a + I"


def test_generate_registers_its_source_and_names_the_handler():
    source = "def factory(m, ins, env):\n    def NAME():\n        return 7\n    return NAME\n"
    factory = mechanism.generate("and", source, {}, "test")
    assert factory.__name__ == "and__factory" and factory(None, None, None).__name__ == "and_"
    assert "".join(linecache.getlines("<test-semantics:and>")).replace("and_", "NAME") == source


def test_both_families_share_one_semantic_class():
    from hybridvmm.isas.pgm import Semantic as PgmSemantic
    from hybridvmm.isas.riscv.semantics import Semantic as RiscvSemantic
    assert PgmSemantic is RiscvSemantic is mechanism.Semantic


@pytest.mark.parametrize("base", [0, 2], ids=["word-view", "no-word-view"])
def test_every_pgm_handler_off_the_exact_path_is_inlined_by_the_block_compiler(base):
    """Not the fallback call: the block compiler reads each generated handler's own lines."""
    isa = load_isa("pgm")
    m = build_machine(isa, storage_size=0x10000)
    decoder = Decoder(isa)
    env = PgmEnv(m, base, 0x8000)
    refused = []
    for name, spec in isa.instructions.items():
        if SEMANTICS[name].system:
            continue
        code = decoder.encode(spec, {f: OPERANDS[f] for f in spec.format.fields})
        m.write(0x1000, code)
        ins = decoder.decode(m.storage.data, 0x1000, m.storage.offset + 0x1000)
        if inline_piece(ins, SEMANTICS[name].factory(m, ins, env), 0) is None:
            refused.append(name)
    assert refused == []
