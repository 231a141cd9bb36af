"""Fuzz targets for every input a user can hand the tool (issue F, item 2).

Each :class:`Target` is a hypothesis strategy of cases and a check that runs one case and
says how it ended: ``ok``, ``error`` (the tool's own clear error: a :class:`UserError`, or
through the CLI exit 2 with one line on stderr) or ``guest`` (a guest's own failure: exit 1
from ``run``/``compare``).  Anything else raises :class:`Failure` with a reproducer: an
exception escaping, a traceback, a multi-line or unlabelled error, an unexpected exit code,
a hang (every case runs under an alarm; every guest under a small ``--max-steps``), a file
the user had being changed (inputs' bytes and mtimes are compared; other files only change
when named as an output with ``--force``), a file written with a mode other than 0600, or a
temporary file left behind.

``tests/fuzz/test_fuzz.py`` runs each target briefly; ``scripts/fuzz.py`` runs them long.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import shlex
import shutil
import signal
import stat
import struct
import tempfile
import traceback
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from hypothesis import strategies as st

from hybridvmm import loading
from hybridvmm.asm import assemble
from hybridvmm.asm.disassembler import format_instruction
from hybridvmm.cli import main
from hybridvmm.elf import load_elf, read_elf
from hybridvmm.errors import UserError
from hybridvmm.guests import build_guest, guest_source
from hybridvmm.image import Image, PatchRecord, Section
from hybridvmm.isa import Decoder, load_isa
from hybridvmm.isa import loader as spec_loader
from hybridvmm.patch import patch_image

ROOT = Path(__file__).resolve().parents[2]
ELF_DIR = ROOT / "tests" / "data" / "riscv-tests" / "elf"
ISAS = ("pgm", "pgm-virt", "pgm-hybrid", "pgm-x86", "rv32")
MODES = ("bare", "pure", "interpret", "hybrid", "patch")
CASE_TIMEOUT = 60.0
"""Seconds one case may take before it counts as a hang."""

OK, ERROR, GUEST = "ok", "error", "guest"


class Failure(Exception):
    """A case ended in a way the tool must never end; ``reproducer`` says how to see it again."""

    def __init__(self, kind: str, detail: str, reproducer: str):
        super().__init__(f"{kind}: {detail}\n  reproduce: {reproducer}")
        self.kind, self.detail, self.reproducer = kind, detail, reproducer


class Hang(BaseException):
    """Raised by the alarm inside a case that ran past :data:`CASE_TIMEOUT`."""


@contextlib.contextmanager
def alarm(seconds: float):
    """Interrupt the case after ``seconds`` (SIGALRM; the main thread only)."""
    def ring(signum, frame):
        raise Hang()

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# --- the corpus: real inputs to start from ---------------------------------------------------------------
SIGNED_RV32 = """
        .org 0x80000000
        .entry start
start:  la    t0, begin_signature
        lw    t1, 0(t0)
        addi  t1, t1, 1
        sw    t1, 0(t0)
        lui   t5, 0x100
        lui   t6, 5
        addi  t6, t6, 0x555
        sw    t6, 0(t5)
        .org 0x80002000
begin_signature:
        .word 0x12345678
end_signature:
"""

SMALL_GUESTS = ("syscalls:small", "timer:small", "redpill", "stopwatch", "privileged:small", "kcompute:small",
                "hostile-vmtrap", "hostile-midpatch", "hostile-doublefault", "hostile-halt")


@lru_cache(maxsize=None)
def corpus_images(pgm_only: bool = False) -> tuple[bytes, ...]:
    """Serialised images of every kind the tool writes: pgm and rv32, patched and not
    (``pgm_only``: those the monitor runs)."""
    hello = assemble((ROOT / "examples" / "hello.s").read_text(), "pgm", "hello.s")
    rvsum = assemble((ROOT / "examples" / "rv32_sum.s").read_text(), "rv32", "rv32_sum.s")
    signed = assemble(SIGNED_RV32, "rv32", "signed.s")
    redpill = build_guest("redpill", "pgm-x86")
    patched = patch_image(redpill, load_isa("pgm-x86"), "all-sensitive").image
    syscalls = build_guest("syscalls", "pgm-hybrid", small=True)
    midpatch = build_guest("hostile-midpatch", "pgm-x86")
    images = (hello, redpill, patched, syscalls, midpatch) if pgm_only else (hello, rvsum, signed, redpill, patched, syscalls,
                                                                             midpatch)
    return tuple(img.to_bytes() for img in images)


@lru_cache(maxsize=None)
def corpus_elves() -> tuple[bytes, ...]:
    names = ("rv32ui-p-simple", "rv32ui-p-add", "rv32mi-p-csr", "rv32si-p-wfi", "rv32ua-p-amoadd_w", "rv32ui-v-simple")
    return tuple((ELF_DIR / n).read_bytes() for n in names if (ELF_DIR / n).exists())


@lru_cache(maxsize=None)
def corpus_sources() -> tuple[tuple[str, str], ...]:
    """(ISA, source) pairs: the examples and a few bundled guests' sources."""
    out = [("pgm", (ROOT / "examples" / "hello.s").read_text()), ("rv32", (ROOT / "examples" / "rv32_sum.s").read_text()),
           ("rv32", SIGNED_RV32)]
    for name in ("syscalls", "redpill", "timer", "hostile-midpatch"):
        out.append(("pgm-x86", guest_source(name)))
    return tuple(out)


@lru_cache(maxsize=None)
def corpus_specs() -> tuple[tuple[str, str], ...]:
    """(file name, text) of the bundled specs: what a user would copy and edit."""
    d = spec_loader.specs_dir()
    return tuple((p.name, p.read_text()) for p in sorted(d.glob("*.toml")))


# --- mutations ---------------------------------------------------------------------------------------------
INTERESTING = (0, 1, 2, 3, 4, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFF00,
               0xFFFFFFFC, 0xFFFFFFFF, 1 << 32, 0x80000000_00000000, (1 << 64) - 1)


def interesting_int(bits: int = 64) -> st.SearchStrategy[int]:
    limit = (1 << bits) - 1
    return st.one_of(st.sampled_from([v & limit for v in INTERESTING]), st.integers(0, limit),
                     st.integers(0, 0x2000), st.integers(0x7FFF_F000, 0x8010_0000))


@st.composite
def mutated_bytes(draw, data: bytes, max_ops: int = 6) -> bytes:
    """``data`` after a few byte-level edits: flips, sets, inserts, deletes, cuts, copies, words."""
    out = bytearray(data)
    for _ in range(draw(st.integers(0, max_ops))):
        op = draw(st.sampled_from(("flip", "set", "insert", "delete", "truncate", "copy", "word")))
        n = len(out)
        at = draw(st.integers(0, max(n - 1, 0)))
        if op == "flip" and n:
            out[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and n:
            out[at] = draw(st.integers(0, 255))
        elif op == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete" and n:
            del out[at:at + draw(st.integers(1, 16))]
        elif op == "truncate":
            del out[at:]
        elif op == "copy" and n:
            length = draw(st.integers(1, 32))
            pos = draw(st.integers(0, n - 1))
            out[pos:pos] = out[at:at + length]
        elif op == "word" and n >= 4:
            at = min(at, n - 4)
            out[at:at + 4] = struct.pack("<I", draw(interesting_int(32)))
    return bytes(out)


def with_crc(body: bytes) -> bytes:
    """An image body with a correct checksum after it (so mutations get past the CRC)."""
    return body + struct.pack("<I", zlib.crc32(body))


NAMES = st.one_of(st.sampled_from(["text", "data", "", "é" * 120, "x" * 255, "start", "tohost", "begin_signature"]),
                  st.text(max_size=12))
ISA_NAMES = st.sampled_from(list(ISAS) + ["nosuch", "", "pgm.toml", "../pgm", "PGM", "rv64", "é"])


def _fits(text: str, limit: int) -> str:
    raw = text.encode("utf-8")[:limit]
    return raw.decode("utf-8", errors="ignore")


@st.composite
def structured_image(draw, pgm_only: bool = False) -> bytes:
    """A corpus image with its fields changed as data (then serialised, checksum and all)."""
    img = Image.from_bytes(draw(st.sampled_from(corpus_images(pgm_only))))
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(("entry", "address", "flags", "data", "add", "drop", "name", "isa", "symbol",
                                   "patch", "patch_over")))
        s = draw(st.sampled_from(img.sections)) if img.sections else None
        if op == "entry":
            img.entry = draw(interesting_int())
        elif op == "address" and s:
            s.address = draw(interesting_int())
        elif op == "flags" and s:
            s.flags = draw(st.integers(0, 255))
        elif op == "data" and s:
            s.data = bytearray(draw(mutated_bytes(bytes(s.data))))
        elif op == "add":
            img.sections.append(Section(_fits(draw(NAMES), 255), draw(interesting_int()),
                                        bytearray(draw(st.binary(max_size=64))), draw(st.integers(0, 255))))
        elif op == "drop" and s:
            img.sections.remove(s)
        elif op == "name" and s:
            s.name = _fits(draw(NAMES), 255)
        elif op == "isa":
            img.isa = _fits(draw(ISA_NAMES), 255)
        elif op == "symbol":
            img.symbols[_fits(draw(NAMES), 0xFFFF)] = draw(interesting_int())
        elif op == "patch":
            img.patches.append(PatchRecord(draw(interesting_int()), draw(st.binary(max_size=12)),
                                           draw(st.binary(max_size=12)), _fits(draw(NAMES), 255)))
        elif op == "patch_over" and s and s.data:
            at = (s.address + draw(st.integers(0, len(s.data) - 1))) & ((1 << 64) - 1)
            size = draw(st.integers(0, 8))
            original = draw(st.one_of(st.just(img.read(at, size)), st.binary(max_size=8)))
            replacement = draw(st.one_of(st.just(bytes.fromhex("0109ffff")[:size]), st.binary(max_size=8)))
            img.patches.append(PatchRecord(at, original, replacement, draw(st.sampled_from(["sensitive", "user-sensitive", "x"]))))
    return img.to_bytes()


@st.composite
def image_bytes(draw, pgm_only: bool = False) -> bytes:
    """Bytes handed to the image loader: structured edits, body edits re-checksummed, raw edits."""
    how = draw(st.sampled_from(("structured", "structured", "body", "body", "raw", "same")))
    if how == "structured":
        return draw(structured_image(pgm_only))
    data = draw(st.sampled_from(corpus_images(pgm_only)))
    if how == "body":
        return with_crc(draw(mutated_bytes(data[:-4])))
    if how == "raw":
        return draw(mutated_bytes(data))
    return data


ELF_FIELDS = {  # ELF32 header and the first program/section header fields: offset, format
    "e_type": (0x10, "<H"), "e_machine": (0x12, "<H"), "e_entry": (0x18, "<I"), "e_phoff": (0x1C, "<I"),
    "e_shoff": (0x20, "<I"), "e_phentsize": (0x2A, "<H"), "e_phnum": (0x2C, "<H"), "e_shentsize": (0x2E, "<H"),
    "e_shnum": (0x30, "<H"), "e_shstrndx": (0x32, "<H"),
}
PHDR_FIELDS = {"p_type": 0, "p_offset": 4, "p_vaddr": 8, "p_paddr": 12, "p_filesz": 16, "p_memsz": 20, "p_flags": 24}
SHDR_FIELDS = {"sh_name": 0, "sh_type": 4, "sh_flags": 8, "sh_addr": 12, "sh_offset": 16, "sh_size": 20, "sh_link": 24}


@st.composite
def elf_bytes(draw) -> bytes:
    """An ELF from the corpus with header fields set to edge values, and/or bytes edited."""
    data = bytearray(draw(st.sampled_from(corpus_elves())))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(("header", "phdr", "shdr", "bytes")))
        value = draw(interesting_int(32))
        if len(data) < 0x34 and kind != "bytes":
            continue
        if kind == "header":
            offset, fmt = ELF_FIELDS[draw(st.sampled_from(sorted(ELF_FIELDS)))]
            struct.pack_into(fmt, data, offset, value & (0xFFFF if fmt == "<H" else 0xFFFFFFFF))
        elif kind == "phdr":
            phoff, = struct.unpack_from("<I", data, 0x1C)
            phnum, = struct.unpack_from("<H", data, 0x2C)
            at = phoff + 32 * draw(st.integers(0, max(phnum - 1, 0))) + PHDR_FIELDS[draw(st.sampled_from(sorted(PHDR_FIELDS)))]
            if at + 4 <= len(data):
                struct.pack_into("<I", data, at, value)
        elif kind == "shdr":
            shoff, = struct.unpack_from("<I", data, 0x20)
            shnum, = struct.unpack_from("<H", data, 0x30)
            at = shoff + 40 * draw(st.integers(0, max(shnum - 1, 0))) + SHDR_FIELDS[draw(st.sampled_from(sorted(SHDR_FIELDS)))]
            if at + 4 <= len(data):
                struct.pack_into("<I", data, at, value)
        else:
            data = bytearray(draw(mutated_bytes(bytes(data), max_ops=3)))
    return bytes(data)


@st.composite
def raw_bytes(draw) -> bytes:
    """A raw binary: random bytes, or code lifted out of an image."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=96))
    img = Image.from_bytes(draw(st.sampled_from(corpus_images())))
    return draw(mutated_bytes(bytes(img.sections[0].data), max_ops=3))


# --- TOML values and specs ------------------------------------------------------------------------------------
TOML_VALUES = st.one_of(
    st.sampled_from(["0", "-1", "1", "2", "4", "8", "32", "64", "10000000000000000000000", "-99999999999999999999",
                     "4096", "1e400", "nan", "inf", "true", "false", '""', '"x"', '"0x10"', "[]", "[1, 2]",
                     '["a", 1]', "{}", '{ bits = "31:0" }', '"31:0"', '"99:0"', '"0:31"', '"1000000:0"',
                     '"little"', '"big"', '"pgm"', '"rv32"', '"nosuch"', '"..."', '"0000 0000 .... ...."',
                     '"privileged"', '"sensitive"', '"jump"', '"branch"', '"call"', '"return"', '"reg"', '"imm"']),
    st.integers(-(1 << 70), 1 << 70).map(str),
    st.text(max_size=8).map(lambda t: '"' + t.replace("\\", "").replace('"', "") + '"'),
    st.sampled_from([10, 400, 3000]).map(lambda n: "[" * n + "]" * n),  # nesting deep enough to exhaust a recursive parser
    st.sampled_from([10, 3000]).map(lambda n: "{a = " * n + "1" + " }" * n),
)


@st.composite
def spec_text(draw) -> tuple[str, bytes]:
    """A bundled spec as a user might edit it: lines dropped, doubled, values replaced, bytes broken."""
    name, text = draw(st.sampled_from(corpus_specs()))
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 6))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(("value", "value", "value", "drop", "double", "insert", "key")))
        if op == "value" and "=" in lines[i]:
            key = lines[i].split("=", 1)[0]
            lines[i] = f"{key}= {draw(TOML_VALUES)}"
        elif op == "drop":
            del lines[i]
        elif op == "double":
            lines.insert(i, lines[i])
        elif op == "insert":
            key = draw(st.sampled_from(["name", "extends", "word_bits", "parcel_bytes", "endian", "alignment",
                                        "length", "bits", "kind", "signed", "shift", "pattern", "format", "asm",
                                        "flow", "class", "user_mode", "fields", "names", "numbered"]))
            lines.insert(i, f"{key} = {draw(TOML_VALUES)}")
        elif op == "key" and "=" in lines[i]:
            lines[i] = draw(st.text(alphabet="abcdefgh_.", min_size=1, max_size=6)) + " =" + lines[i].split("=", 1)[1]
    data = ("\n".join(lines) + "\n").encode()
    if draw(st.integers(0, 9)) == 0:
        data = draw(mutated_bytes(data, max_ops=2))
    return name, data


@st.composite
def cost_text(draw) -> bytes:
    events = ("direct", "interpreted", "trap", "reflect", "scan", "patch", "switch", "bogus")
    lines = [f"[{draw(st.sampled_from(events))}]\ncycles = {draw(TOML_VALUES)}" for _ in range(draw(st.integers(0, 3)))]
    if draw(st.sampled_from([False] * 10 + [True])):
        lines.append(f"{draw(st.sampled_from(events))} = {draw(TOML_VALUES)}")
    data = "\n".join(lines).encode()
    return draw(mutated_bytes(data, max_ops=1)) if draw(st.booleans()) else data


# --- assembly -----------------------------------------------------------------------------------------------
DIRECTIVES = (".org", ".word", ".byte", ".half", ".align", ".balign", ".p2align", ".asciz", ".ascii", ".string",
              ".equ", ".set", ".entry", ".isa", ".data", ".text", ".space", ".zero", ".skip", ".global", ".section",
              ".dword", ".quad", ".2byte", ".4byte", ".8byte", ".option", ".attribute", ".type", ".size", ".local")


@lru_cache(maxsize=None)
def asm_tokens(isa_name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    isa = load_isa(isa_name)
    mnemonics = sorted({i.mnemonic for i in isa.instructions.values()} | {a.asm.split()[0] for a in isa.aliases.values()})
    registers = sorted({n for rf in isa.registers.values() for n in rf.names} |
                       {a for rf in isa.registers.values() for a in rf.aliases})
    return tuple(mnemonics), tuple(registers)


@st.composite
def operand(draw, registers: tuple[str, ...]) -> str:
    number = st.one_of(st.sampled_from([str(v) for v in INTERESTING] + [hex(v) for v in INTERESTING] +
                                       ["-1", "-2048", "2047", "-0x80000000", "0b101", "'a'", "1 << 40", "10**3"]),
                       st.integers(-(1 << 66), 1 << 66).map(str))
    simple = st.one_of(st.sampled_from(registers), number, st.sampled_from(
        ["start", "loop", "done", "message", "nowhere", "1b", "1f", ".", "%hi(start)", "%lo(start)",
         "%pcrel_hi(start)", "%pcrel_lo(1b)", '"str"', "(r1)", "0(r1)", "4(sp)", "-8(a0)", "x", "(", ")", ",", ""]))
    if draw(st.sampled_from([False] * 20 + [True])):  # pathological: deep nesting, long chains
        n = draw(st.sampled_from([10, 40, 200, 5000]))
        return draw(st.sampled_from(["(" * n + "1" + ")" * n, "-" * n + "1", "+".join(["1"] * n), "1" + "*2" * n]))
    first = draw(simple)
    if draw(st.booleans()):
        return first
    return f"{first} {draw(st.sampled_from(['+', '-', '*', '/', '%', '<<', '>>', '&', '|', '^', '~']))} {draw(simple)}"


@st.composite
def asm_line(draw, isa_name: str) -> str:
    mnemonics, registers = asm_tokens(isa_name)
    label = draw(st.sampled_from(["", "", "start: ", "loop: ", "1: ", "2: ", "x: ", "done: "]))
    head = draw(st.one_of(st.sampled_from(mnemonics), st.sampled_from(DIRECTIVES), st.text(max_size=6)))
    ops = ", ".join(draw(st.lists(operand(registers), max_size=4)))
    comment = draw(st.sampled_from(["", " ; c", " # c", " // c"]))
    return f"{label}{head} {ops}{comment}"


@st.composite
def asm_source(draw) -> tuple[str, str]:
    """(ISA, source): random lines, or a real source with lines dropped, doubled, swapped or replaced."""
    if draw(st.booleans()):
        isa = draw(st.sampled_from(ISAS))
        return isa, "\n".join(draw(st.lists(asm_line(isa), min_size=1, max_size=12))) + "\n"
    isa, text = draw(st.sampled_from(corpus_sources()))
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        op = draw(st.sampled_from(("drop", "double", "swap", "replace", "edit")))
        if not lines:
            lines.append(draw(asm_line(isa)))
        elif op == "drop":
            del lines[i]
        elif op == "double":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "replace":
            lines[i] = draw(asm_line(isa))
        else:
            lines[i] = draw(mutated_bytes(lines[i].encode(), max_ops=2)).decode("utf-8", errors="replace")
    return isa, "\n".join(lines) + "\n"


@st.composite
def decoder_case(draw) -> tuple[str, bytes, int]:
    """(ISA, bytes, address): an instruction's encoding with its free bits random, or random bytes."""
    isa_name = draw(st.sampled_from(ISAS))
    address = draw(st.sampled_from([0, 0x100, 0x102, 0x80000000, 0xFFFFFFFC, 0xFFFFFFFE]))
    if draw(st.integers(0, 3)) == 0:
        return isa_name, draw(st.binary(min_size=1, max_size=8)), address
    isa = load_isa(isa_name)
    spec = draw(st.sampled_from(sorted(isa.instructions.values(), key=lambda i: i.name)))
    bits = spec.length * 8
    word = spec.match | (draw(st.integers(0, (1 << bits) - 1)) & ~spec.mask)
    data = word.to_bytes(spec.length, isa.endian) + draw(st.binary(max_size=4))
    return isa_name, draw(mutated_bytes(data, max_ops=1)) if draw(st.integers(0, 4)) == 0 else data, address


# --- library targets ----------------------------------------------------------------------------------------------
def _library(run: Callable[[], Any], reproducer: str) -> str:
    try:
        with alarm(CASE_TIMEOUT):
            run()
    except UserError as exc:
        text = str(exc)
        if not text.strip():
            raise Failure("empty error", repr(exc), reproducer) from None
        return ERROR
    except Hang:
        raise Failure("hang", f"more than {CASE_TIMEOUT:.0f} s", reproducer) from None
    except Exception as exc:  # noqa: BLE001 - anything else is the finding
        raise Failure("exception", "".join(traceback.format_exception_only(exc)).strip()[-600:] + "\n" +
                      "".join(traceback.format_tb(exc.__traceback__)[-3:]), reproducer) from None
    return OK


def check_image(data: bytes) -> str:
    def run() -> None:
        img = Image.from_bytes(data, source="fuzz.img")
        again = Image.from_bytes(img.to_bytes(), source="again.img")
        assert (again.isa, again.entry, again.symbols) == (img.isa, img.entry, img.symbols), "round trip"
        assert [(s.name, s.address, bytes(s.data), s.flags) for s in again.sections] == \
            [(s.name, s.address, bytes(s.data), s.flags) for s in img.sections], "round trip"
    return _library(run, f"Image.from_bytes(bytes.fromhex({data.hex()!r}))")


def check_elf(data: bytes) -> str:
    def run() -> None:
        img = load_elf(data, source="fuzz.elf")
        read_elf(data, source="fuzz.elf").symbol_table()
        Image.from_bytes(img.to_bytes())  # what patch -o writes of an ELF
    return _library(run, f"load_elf(bytes.fromhex({data.hex()!r}))")


def check_decoder(case: tuple[str, bytes, int]) -> str:
    isa_name, data, address = case

    def run() -> None:
        isa = load_isa(isa_name)
        decoder = Decoder(isa)
        ins = decoder.decode(data, address)
        assert len(ins.raw) in isa.lengths and bytes(ins.raw) == data[:len(ins.raw)]
        format_instruction(ins, isa)  # as listings print it
        text = format_instruction(ins, isa, target_prefix="0x")  # as disasm --source writes it
        again = Decoder(isa).decode(assemble(f".org {address:#x}\n{text}\n", isa, "<fuzz>").read(address, len(ins.raw)),
                                    address)
        back = format_instruction(again, isa, target_prefix="0x")
        assert back == text, f"{text!r} reassembles as {back!r}"
    return _library(run, f"Decoder(load_isa({isa_name!r})).decode(bytes.fromhex({data.hex()!r}), {address:#x})")


def check_assembler(case: tuple[str, str]) -> str:
    isa, source = case

    def run() -> None:
        img = assemble(source, isa, "fuzz.s")
        Image.from_bytes(img.to_bytes())
    return _library(run, f"assemble({source!r}, {isa!r})")


def check_spec(case: tuple[str, bytes]) -> str:
    name, data = case
    work = _workdir()
    path = work / name
    path.write_bytes(data)

    def run() -> None:
        spec_loader._load_cached.cache_clear()
        isa = load_isa(str(path))
        decoder = Decoder(isa)
        for word in (b"\x00" * 8, b"\xff" * 8, bytes(range(8)), b"\x13\x05\x00\x00\x00\x02\x00\x00"):
            try:
                format_instruction(decoder.decode(word, 0x100), isa)
            except UserError:
                pass
    try:
        outcome = _library(run, f"load_isa({name!r}) of bytes.fromhex({data.hex()!r})")
        if outcome == OK:  # and the CLI prints it
            _cli(["isa", "show", name], inputs={name}, reproducer_files={name: data}, work=work)
        return outcome
    finally:
        spec_loader._load_cached.cache_clear()


# --- the CLI -------------------------------------------------------------------------------------------------------
_WORK: Path | None = None
_GUESTS: dict[tuple, Image] = {}


def _built_guest(name: str, isa: str | None = None, defines: dict[str, int] | None = None, *,
                 small: bool = False) -> Image:
    """``guest:NAME`` as the CLI's loader builds it, assembled once per process and handed
    out as a copy: the cases name the same bundled guests thousands of times, and assembling
    the same source again (a quarter of a run case's time) finds nothing new.  Names and
    overrides that fail are not remembered: each case meets their error afresh."""
    key = (name, isa, tuple(sorted((defines or {}).items())), small)
    if key not in _GUESTS:
        _GUESTS[key] = build_guest(name, isa, defines, small=small)
    return _GUESTS[key].copy()


loading.build_guest = _built_guest


def _workdir() -> Path:
    """A fresh, empty directory for one case (the same one each time in a process)."""
    global _WORK
    if _WORK is None:
        shm = Path("/dev/shm")  # a memory file system where there is one: cases create and delete files by the thousand
        _WORK = Path(tempfile.mkdtemp(prefix="hybridvmm-fuzz-", dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None))
        atexit.register(shutil.rmtree, _WORK, True)
    for p in _WORK.iterdir():
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()
    return _WORK


def _snapshot(root: Path) -> dict[str, tuple]:
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            st_ = os.lstat(p)
            if stat.S_ISLNK(st_.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISREG(st_.st_mode):
                out[rel] = ("file", p.read_bytes(), st_.st_mtime_ns, stat.S_IMODE(st_.st_mode))
            else:
                out[rel] = ("dir",)
    return out


@dataclass
class CliCase:
    """One command line and the files it runs among (written into the case's directory)."""

    argv: list[str]
    files: dict[str, bytes] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    dirs: tuple[str, ...] = ()
    inputs: frozenset[str] = frozenset()

    def shell(self) -> str:
        return "python -m hybridvmm " + " ".join(shlex.quote(a) for a in self.argv)


def _cli(argv: list[str], inputs: set[str] | frozenset[str], reproducer_files: dict[str, bytes], work: Path,
         guest_exit: bool = False) -> str:
    """Run ``main(argv)`` in ``work`` (files already there) and judge how it ended."""
    before = _snapshot(work)
    reproducer = "cd a directory holding " + (", ".join(sorted(reproducer_files)) or "nothing") + \
        "; python -m hybridvmm " + " ".join(shlex.quote(a) for a in argv)
    out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="replace"), io.StringIO()
    cwd = os.getcwd()
    os.chdir(work)
    try:
        with alarm(CASE_TIMEOUT), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
            out.flush()
    except Hang:
        raise Failure("hang", f"more than {CASE_TIMEOUT:.0f} s", reproducer) from None
    except BaseException as exc:  # noqa: BLE001 - SystemExit, MemoryError ... all findings
        raise Failure("traceback", "".join(traceback.format_exception_only(exc)).strip()[-600:] + "\n" +
                      "".join(traceback.format_tb(exc.__traceback__)[-4:]), reproducer) from None
    finally:
        os.chdir(cwd)
    text = err.getvalue()
    if "Traceback" in text:
        raise Failure("traceback", text[-800:], reproducer)
    after = _snapshot(work)
    _check_files(argv, before, after, inputs, reproducer)
    if code == 0:
        return OK
    if code == 2:
        lines = text.splitlines()
        if "--trace" in argv or "--stats" in argv:  # their lines go to stderr too; the error comes last
            lines = [ln for ln in lines if ln.startswith("hybridvmm")][-1:] if lines and lines[-1].startswith("hybridvmm") else lines
        asm_lines = argv[:1] == ["asm"] and lines and all(":" in ln and not ln.startswith("hybridvmm") for ln in lines)
        if not asm_lines and not (len(lines) == 1 and lines[0].startswith("hybridvmm") and "error: " in lines[0]):
            raise Failure("unclear error", repr(text[-600:]), reproducer)
        return ERROR
    if code == 1 and guest_exit:
        return GUEST
    raise Failure("exit code", f"{code}; stderr {text[-400:]!r}", reproducer)


def _check_files(argv: list[str], before: dict, after: dict, inputs: frozenset[str] | set[str], reproducer: str) -> None:
    named = {os.path.normpath(a) for a in argv if not a.startswith("-")} | set(_default_outputs(argv))
    force = "--force" in argv
    for rel, old in before.items():
        new = after.get(rel)
        if new == old:
            continue
        if rel in inputs:
            raise Failure("input changed", f"{rel}: {old[:1]} -> {new[:1] if new else 'gone'}", reproducer)
        if not force or not (rel in named or any(rel.startswith(n + os.sep) for n in named)):
            raise Failure("file changed", f"{rel} changed without being named as an output with --force", reproducer)
    for rel, new in after.items():
        if Path(rel).name.startswith(".") and rel not in before:
            raise Failure("temporary file left", rel, reproducer)
        if new[0] == "file" and (rel not in before or new != before[rel]) and new[3] != 0o600:
            raise Failure("mode", f"{rel} written with mode {new[3]:o}, not 600", reproducer)


def _default_outputs(argv: list[str]) -> list[str]:
    """Where patch/unpatch write without -o (they may replace those with --force)."""
    from hybridvmm.commands.patch_paths import default_patched, default_unpatched

    if argv[:1] not in (["patch"], ["unpatch"]) or len(argv) < 2:
        return []
    fn = default_patched if argv[0] == "patch" else default_unpatched
    try:
        return [os.path.normpath(str(fn(argv[1])))]
    except UserError:
        return []


def run_cli_case(case: CliCase, guest_exit: bool = False) -> str:
    work = _workdir()
    for d in case.dirs:
        (work / d).mkdir(parents=True, exist_ok=True)
    for name, data in case.files.items():
        (work / name).write_bytes(data)
        os.utime(work / name, ns=(1_000_000_000, 1_000_000_000))  # an mtime a rewrite cannot keep
    for name, target in case.links.items():
        (work / name).symlink_to(target)
    return _cli(case.argv, case.inputs, case.files, work, guest_exit)


# --- CLI arguments ----------------------------------------------------------------------------------------------
def number_text(bits: int = 64) -> st.SearchStrategy[str]:
    return st.one_of(interesting_int(bits).map(hex), interesting_int(bits).map(str),
                     st.sampled_from(["-1", "-0x100", "x", "", "0x", "1_000", "0b11", "1e3"]))


@st.composite
def program(draw, allow_guest: bool = True, monitor: bool = False) -> tuple[str, dict[str, bytes], dict[str, str], list[str]]:
    """An IMAGE argument: (argument, files, links, options it needs), e.g. a mutated image file
    (``monitor``: mostly pgm programs, which the monitor runs; the rest end at its first check)."""
    kinds = ("image",) * 12 + ("elf",) * (1 if monitor else 4) + ("raw",) * 2 + ("guest",) * 4 + ("link", "link", "missing",
                                                                                                   "dir")
    kind = draw(st.sampled_from(kinds + (() if monitor else ("source",))))
    if kind == "guest" and allow_guest:  # (monitor targets: the rv32 guest only among the odd names)
        name = draw(st.one_of(st.sampled_from(SMALL_GUESTS),
                              st.sampled_from(["", "nosuch", "syscalls:SYSCALLS_N=3", "syscalls:NOPE=1", "timer:small,x",
                                               "redpill:small", "rvminios", "syscalls:SYSCALLS_N=-5"])))
        return f"guest:{name}", {}, {}, []
    if kind == "elf":
        return "prog.elf", {"prog.elf": draw(elf_bytes())}, {}, []
    if kind == "raw":
        isas = ISAS[:4] if monitor else ISAS
        return "prog.bin", {"prog.bin": draw(raw_bytes())}, {}, ["--isa", draw(st.sampled_from(isas)),
                                                                "--base", draw(number_text(32))]
    if kind == "missing":
        return draw(st.sampled_from(["missing.img", "", ".", "nodir/x.img"])), {}, {}, []
    if kind == "dir":
        return "subdir", {}, {}, []
    if kind == "source":
        return "prog.s", {"prog.s": draw(asm_source())[1].encode()}, {}, []
    data = draw(image_bytes(pgm_only=monitor and draw(st.sampled_from([True] * 9 + [False]))))
    if kind == "link":
        return "link.img", {"prog.img": data}, {"link.img": "prog.img"}, []
    return "prog.img", {"prog.img": data}, {}, []


TOO_LONG = "n" * 300
"""A name longer than any file system allows (the system's own error, ENAMETOOLONG)."""
OUTPUTS = st.sampled_from(["out.img"] * 6 + ["-", "-", "decoy.txt", "decoy-link", "{input}", "subdir", "nodir/x",
                           "", ".", "dangling", TOO_LONG])
"""Where an output option points: a new name, stdout, an existing file, a symlink to one, the
input, a directory, a missing directory, and odd names."""


@st.composite
def option_value(draw, option: str, image_arg: str) -> list[str]:
    if option in ("-o", "--dot", "--dump", "--trace-file", "--signature", "--svg"):
        value = draw(OUTPUTS).replace("{input}", image_arg)
        return [option, value]
    if option == "--isa":
        return [option, draw(st.sampled_from(list(ISAS) * 4 + ["nosuch", "", "mine.toml", "mine.toml", "bad.toml",
                                                                "missing.toml", TOO_LONG]))]
    if option in ("--base", "--entry"):
        return [option, draw(number_text(32))]
    if option == "--root":
        return [option, draw(st.one_of(st.sampled_from(["start", "loop", "main", "nosuch", "0x100", "0x80000000", ""]),
                                       number_text(32)))]
    if option == "--space":
        parts = [draw(number_text(32)) for _ in range(3)]
        return [option, draw(st.sampled_from([":".join(parts), ":".join(parts[:2]), parts[0], "0x7000:0x1000:0x10c",
                                              "0x2000:0x1000:0,6", "::", ""]))]
    if option == "--slice":
        return [option, draw(st.one_of(st.sampled_from(["0", "1", "-3", "x", "7"]), st.integers(1, 5000).map(str),
                                       st.integers(1, 500).map(str)))]
    if option == "--input-text":
        return [option, draw(st.text(max_size=12))]
    if option == "--input":
        return [option, draw(st.sampled_from(["decoy.txt", "decoy.txt", "missing.txt", "subdir", TOO_LONG]))]
    if option == "--prompt":
        return [option, draw(st.sampled_from(["$ ", "> ", "", "\n"]))]
    if option == "--input-interval":
        return [option, draw(st.sampled_from(["0", "1", "100", "-1", "x"]))]
    if option == "--drive":
        return [option, draw(st.sampled_from(["decoy.txt", "decoy.txt", "missing.img", "subdir", TOO_LONG]))]
    if option == "--ram":
        return [option, draw(st.sampled_from(["1M", "16M", "64K", "1000000", "0", "x", "1G"]))]
    if option == "--trace":
        return [option, draw(st.sampled_from(["insn", "trap", "exit,patch", "all", "all", "scan,switch", "bogus"]))]
    if option == "--costs":
        return [option, draw(st.sampled_from(["costs.toml", "costs.toml", "missing.toml", "decoy.txt", TOO_LONG]))]
    if option == "--storage":
        return [option, draw(st.sampled_from(["64K", "1M", "1M", "2M", "8M", "8M", "64M", "0x10000", "0", "x", "100",
                                              "1G"]))]
    if option == "--modes":
        return [option, draw(st.sampled_from(["pure", "hybrid,patch", "interpret", "hybrid-no-patch", "bogus", "",
                                              "pure,interpret,hybrid,hybrid-no-patch,patch"]))]
    if option == "--style":
        return [option, draw(st.sampled_from(["default", "objdump", "bogus"]))]
    if option == "--only":
        return [option, draw(st.sampled_from(["user-sensitive", "all"]))]
    if option == "--output-dir":
        return [option, draw(st.sampled_from(["outdir"] * 5 + ["decoy.txt", "subdir", image_arg, TOO_LONG]))]
    return [option]  # a flag


OPTIONS = {
    "info": ("--isa", "--base", "--entry", "--json"),
    "disasm": ("--isa", "--base", "--entry", "--json", "--source", "--style"),
    "scan": ("--isa", "--base", "--entry", "--json", "--root", "--space", "--no-vectors", "--dot", "--force"),
    "patch": ("--isa", "--base", "--entry", "--json", "-o", "--only", "--all-sensitive", "--root", "--space", "--force"),
    "unpatch": ("-o", "--json", "--force"),
    "run": ("--isa", "--base", "--entry", "--json", "--no-patch", "--slice", "--input-text", "--input", "--prompt",
            "--input-interval", "--drive", "--ram", "--output-dir", "--stats", "--trace", "--trace-file", "--costs",
            "--dump", "--signature", "--storage", "--timing", "--force"),
    "compare": ("--isa", "--base", "--entry", "--json", "--modes", "--slice", "--input-text", "--input", "--prompt",
                "--input-interval", "--drive", "--ram", "--costs", "--no-locate"),
}


@st.composite
def cli_case(draw, command: str, mode: str | None = None) -> CliCase:
    """A command line for ``command``: a mutated program, options drawn from the command's,
    decoy files around it, and (for guests) a small ``--max-steps`` last."""
    monitor = command == "compare" or mode not in (None, "bare")
    several = command in ("run", "compare") and draw(st.sampled_from([False] * 5 + [True]))
    arg, files, links, needs = draw(program(allow_guest=command != "unpatch", monitor=monitor))
    images = [arg]
    if several:  # a second program, its files named b-*
        arg2, files2, links2, _ = draw(program(monitor=monitor))
        images.append(arg2 if arg2.startswith("guest:") else "b-" + arg2)
        files.update({"b-" + k: v for k, v in files2.items()})
        links.update({"b-" + k: "b-" + v for k, v in links2.items()})
    argv = [command, *images, *needs]
    allowed = [o for o in OPTIONS[command] if not (o == "--signature" and mode not in (None, "bare"))]
    for option in draw(st.lists(st.sampled_from(allowed), max_size=5, unique=True)):
        argv += draw(option_value(option, arg))
    if mode is not None:
        argv += ["--mode", mode]
        if mode == "hybrid" and draw(st.booleans()):
            argv.append("--no-patch")
    if command in ("run", "compare"):  # every guest bounded, a few times by a bad limit first
        if draw(st.sampled_from([False] * 30 + [True])):
            argv += ["--max-steps", draw(st.sampled_from(["-1", "x", ""]))]
        argv += ["--max-steps", str(draw(st.one_of(st.integers(0, 3000), st.integers(0, 300))))]
    spec = draw(spec_text()) if "mine.toml" in argv else None
    files["decoy.txt"] = b"the user's own file\n"
    files["costs.toml"] = draw(cost_text())
    if spec is not None:
        files["mine.toml"] = spec[1]
    files["bad.toml"] = b"\xff\xfe[isa]\n"
    links.setdefault("decoy-link", "decoy.txt")
    links.setdefault("dangling", "nowhere")
    inputs = {a for a in images if a in files or a in links}
    inputs |= {links[a] for a in images if a in links}
    inputs |= {f for f in ("mine.toml", "bad.toml", "costs.toml") if f in argv}
    return CliCase(argv, files, links, ("subdir",), frozenset(inputs))


# --- the targets ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    name: str
    strategy: Callable[[], st.SearchStrategy]
    check: Callable[[Any], str]
    describe: str


def _cli_target(command: str, mode: str | None = None) -> Target:
    name = command if mode is None else f"{command}-{mode}"
    guest = command in ("run", "compare")
    return Target(name, lambda: cli_case(command, mode), lambda case: run_cli_case(case, guest_exit=guest),
                  f"hybridvmm {command}{' --mode ' + mode if mode else ''} on mutated programs and options")


TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("image", image_bytes, check_image, "Image.from_bytes on structured, re-checksummed and raw mutations"),
    Target("elf", elf_bytes, check_elf, "the ELF loader on header-field and byte mutations of riscv-tests ELFs"),
    Target("spec", spec_text, check_spec, "the spec loader on edited bundled specs (values, huge numbers, non-UTF-8)"),
    Target("decoder", decoder_case, check_decoder, "decode random words on every ISA; what decodes reassembles to the same text"),
    Target("asm", asm_source, check_assembler, "the assembler on random lines and edited real sources"),
    _cli_target("info"), _cli_target("disasm"), _cli_target("scan"), _cli_target("patch"), _cli_target("unpatch"),
    *(_cli_target("run", m) for m in MODES),
    _cli_target("compare"),
)}
