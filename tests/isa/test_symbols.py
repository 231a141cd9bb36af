"""symbols.SymbolTable: objdump's choice among symbols, the plain nearest-in-section rule,
and mapping symbols never naming an address."""

from __future__ import annotations

from hybridvmm.image import FLAG_CODE, Image, Section
from hybridvmm.symbols import Region, Symbol, SymbolTable, describe, is_mapping_symbol

TEXT = Region(".text", 0x1000, 0x1100)
DATA = Region(".data", 0x2000, 0x2100)


def table(*symbols: Symbol) -> SymbolTable:
    return SymbolTable(list(symbols), [TEXT, DATA])


def test_objdump_prefers_functions_objects_globals_then_size_and_name():
    at = 0x1010
    syms = [
        Symbol("b_local", at, ".text", "notype", "local"),
        Symbol("a_global", at, ".text", "notype", "global"),
        Symbol("an_object", at, ".text", "object", "local"),
        Symbol("a_function", at, ".text", "func", "local"),
    ]
    assert table(*syms).label(at) == "<a_function>"
    assert table(*syms[:3]).label(at) == "<an_object>"
    assert table(*syms[:2]).label(at) == "<a_global>"
    assert table(Symbol("small", at, ".text", size=4), Symbol("big", at, ".text", size=8)).label(at) == "<big>"
    assert table(Symbol(".dotted", at, ".text"), Symbol("zplain", at, ".text")).label(at) == "<zplain>"


def test_objdump_offsets_and_the_section_being_shown():
    t = table(Symbol("start", 0x1000, ".text"), Symbol("later", 0x1080, ".text"), Symbol("buf", 0x2000, ".data"))
    assert t.label(0x1004) == "<start+0x4>"
    assert t.label(0x10A0) == "<later+0x20>"
    assert t.label(0x800) == "<start-0x800>"  # below every symbol: the first, from below
    assert t.label(0x2010) == "<buf+0x10>"
    same = table(Symbol("in_text", 0x3000, ".text"), Symbol("in_data", 0x3000, ".data"))
    assert same.label(0x3000, ".data") == "<in_data>" and same.label(0x3000, ".text") == "<in_text>"


def test_mapping_symbols_mark_but_never_name():
    assert is_mapping_symbol("$x") and is_mapping_symbol("$d") and is_mapping_symbol("$xrv32i2p1_m2p0")
    assert not is_mapping_symbol("$ok") and not is_mapping_symbol("x$")
    t = table(Symbol("$xrv32i2p1", 0x1000, ".text", bind="local"), Symbol("_start", 0x1000, ".text"), Symbol("$d", 0x1040, ".text", bind="local"))
    assert t.label(0x1044) == "<_start+0x44>" and t.at(0x1000) == ["_start"] and t.nearest(0x1044) == "<_start+0x44>"


def test_nearest_stays_inside_the_section():
    t = table(Symbol("start", 0x1000, ".text"), Symbol("buf", 0x2000, ".data"))
    assert t.nearest(0x1008) == "<start+0x8>"
    assert t.nearest(0x2000) == "<buf>"
    assert t.nearest(0x1800) == ""  # in no section
    assert table(Symbol("late", 0x1010, ".text")).nearest(0x1004) == ""  # before the first symbol
    assert describe(0x1008, t) == "0x1008 <start+0x8>" and describe(0x1800, t) == "0x1800"
    assert describe(0x1008, None, width=8) == "0x00001008"


def test_from_image_homes_each_symbol_in_its_section():
    image = Image("pgm", 0x100, [Section("text", 0x100, bytearray(16), FLAG_CODE)], {"boot": 0x100, "far": 0x900})
    t = SymbolTable.from_image(image)
    assert {s.name: s.section for s in t.symbols} == {"boot": "text", "far": "*ABS*"}
    assert t.nearest(0x104) == "<boot+0x4>" and t.label(0x104) == "<boot+0x4>"
    assert not SymbolTable.from_image(Image("pgm", 0, [Section("text", 0, bytearray(4))])) and SymbolTable.from_image(image)
