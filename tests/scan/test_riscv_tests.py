"""The scanner on real RISC-V code: every vendored riscv-tests ELF, with the derived classes.

The classes are the classifier's, per instruction form (``csrrs@cycle`` is not
``csrrs@mstatus``), derived once for the forms the whole suite uses.  The p environment's
handlers are installed by writing ``mtvec``/``stvec`` and its tests entered by an ``mret``
to the ``mepc`` it set: both are followed from ``[system] code_registers``.  The v
environment enters its test at ``userstart`` through an ``sret`` whose ``sepc`` comes from a
trap frame in memory, and its S-mode handler through a *virtual* ``stvec``: no constant
reaches the scanner there, so those two symbols are given as roots.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hybridvmm.classify.derived import DerivedClasses
from hybridvmm.classify.engine import classify_isa
from hybridvmm.isa import load_isa
from hybridvmm.isas import probe_for
from hybridvmm.isas.riscv.probe import RiscvProbe
from hybridvmm.loading import load_program
from hybridvmm.scan import scan_program

ELF_DIR = Path(__file__).resolve().parents[1] / "data" / "riscv-tests" / "elf"
ELFS = sorted(ELF_DIR.iterdir())
SAMPLES = 24
V_ROOTS = ("userstart", "trap_entry")


def roots(image) -> list[str]:
    return [s for s in V_ROOTS if s in image.symbols]


@pytest.fixture(scope="module")
def derived() -> DerivedClasses:
    return DerivedClasses("rv32", samples=SAMPLES, probe=probe_for("rv32"), jobs=1)


@pytest.fixture(scope="module")
def scans(derived):
    images = [load_program(str(p)) for p in ELFS]
    return [(p.name, image, scan_program(image, roots=roots(image), classes_of=derived)) for p, image in zip(ELFS, images)]


def test_every_elf_scans_with_zero_sensitive_unprivileged_sites(scans, derived):
    assert len(scans) == 142
    assert sum(len(s.sites) for _, _, s in scans) == 0
    # the classes really were derived, per form, and the counters' condition is assumed
    assert {"csrrs@cycle", "csrrs@mstatus", "csrrw@mtvec"} <= set(derived.table)
    assert "privileged" in derived.table["csrrs@mstatus"] and derived.table["csrrs@mstatus"] != derived.table["csrrs@misa"]
    assert derived.assumed.get("csrrs@cycle") == "mcounteren.CY=0 or scounteren.CY=0"
    assert "assuming (mcounteren.CY=0 or scounteren.CY=0)" in derived.describe()


def test_cfgs_are_real_and_trap_handlers_are_in_them(scans):
    for name, image, scanned in scans:
        cfg, sc = scanned.main.cfg, scanned.main
        assert len(cfg.blocks) >= 20 and len(list(cfg.edges())) >= 20, name
        assert sc.unresolved() == [], name
        vector_roots = {sc.roots[a][1] for a in sc.roots if sc.roots[a][0] == "vector"}
        assert "mtvec" in vector_roots, name
        for handler in ("trap_vector", "mtvec_handler", "stvec_handler", "trap_entry"):
            address = image.symbols.get(handler)
            if address:
                assert address in cfg.instructions, (name, handler)
        first_test = image.symbols.get("test_2")
        if first_test is not None:
            assert first_test in cfg.instructions, name
        if "-p-" in name:  # the test body is reached by the mret to the mepc the boot code set
            assert any(kind == "trap-return" for kind, _ in sc.roots.values()), name


def test_a_csr_made_accessible_in_u_mode_makes_sites():
    # with mstatus accessible in U mode, every write to it in the boot code is a site
    isa = load_isa("rv32")
    probe = RiscvProbe(isa)
    csr = probe.machine.csr
    lookup = csr.lookup
    csr.lookup = lambda number, priv, write: lookup(number, 3 if number == 0x300 else priv, write)
    mutated = DerivedClasses(isa, samples=SAMPLES, probe=probe, jobs=1)
    image = load_program(str(ELF_DIR / "rv32ui-p-add"))
    sites = scan_program(image, classes_of=mutated).sites
    assert sites and {s.name for s in sites} <= {"csrrw", "csrrs", "csrrwi", "csrrsi", "csrrc", "csrrci"}
    assert all(mutated.key(s.instruction).endswith("@mstatus") for s in sites)


def test_derived_classes_are_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("HYBRIDVMM_CACHE", str(tmp_path))
    image = load_program(str(ELF_DIR / "rv32mi-p-csr"))
    first = DerivedClasses("rv32", samples=4, probe=probe_for("rv32"), jobs=1, cache=True)
    sites = scan_program(image, classes_of=first).sites
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and "rv32" in files[0].name and sites == []
    stored = json.loads(files[0].read_text())["forms"]
    assert set(stored) == set(first.table)
    again = DerivedClasses("rv32", samples=4, probe=probe_for("rv32"), jobs=1, cache=True)
    assert again.table == first.table  # loaded, nothing classified
    # a form's classes do not depend on what it was classified with
    alone = classify_isa("rv32", samples=4, probe=probe_for("rv32"), jobs=1, only=["csrrs@mstatus"]).by_name("csrrs@mstatus")
    assert again.table["csrrs@mstatus"] == alone.derived


def test_scan_cli_shows_vectors_and_derived_classes(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HYBRIDVMM_CACHE", str(tmp_path))
    elf = str(ELF_DIR / "rv32mi-p-csr")
    text = cli("scan", elf)
    assert text.code == 0
    assert "0x80000004  vector mtvec" in text.out and "trap-return mepc" in text.out
    assert "<trap_vector>" in text.out and "0 sensitive sites" in text.out
    derived = cli("scan", elf, "--classes", "derived", "--samples", "4", "--json")
    assert derived.code == 0, derived.err
    data = json.loads(derived.out)
    assert data["site_count"] == 0 and data["classes"].startswith("derived by the classifier (M vs U, 4 states")
    assert cli("scan", elf, "--classes", "derived", "--samples", "0").code == 2


HANDLERS = """
        .org 0x80000000
        .entry start
start:
        la    t0, mhandler
        csrw  mtvec, t0
        la    t1, shandler + 1          # stvec's low bits are its MODE: masked off
        csrw  stvec, t1
        lw    t2, 0(t0)
        csrw  mepc, t2                  # not a constant: no root
        la    t3, after
        csrw  mepc, t3
        mret
mhandler:
        mret
shandler:
        sret
after:
        ecall
"""


def test_constants_written_to_code_registers_are_roots():
    from hybridvmm.asm import assemble
    from hybridvmm.scan import scan_image
    image = assemble(HANDLERS, "rv32")
    sc = scan_image(image)
    found = {(a, kind, name) for a, (kind, name) in sc.roots.items()}
    sym = image.symbols
    assert found == {(sym["start"], "entry", ""), (sym["mhandler"], "vector", "mtvec"),
                     (sym["shandler"], "vector", "stvec"), (sym["after"], "trap-return", "mepc")}
    assert {sym["mhandler"], sym["shandler"], sym["after"]} <= set(sc.cfg.instructions)
    assert scan_image(image, vectors=False).roots.keys() == {sym["start"]}
