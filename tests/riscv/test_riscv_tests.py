"""The official riscv-tests (rv32ui/um/ua in p and v, rv32mi/si in p) pass on the bare machine.

Each ELF reports through HTIF ``tohost``: the machine halts with exit code 0 for a pass.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hybridvmm.isas import build_machine
from hybridvmm.loading import load_program

ELF_DIR = Path(__file__).resolve().parents[1] / "data" / "riscv-tests" / "elf"
ELFS = sorted(p.name for p in ELF_DIR.iterdir())
LIMIT = 2_000_000
"""No test needs more than ~60 000 instructions; a hang is a failure, not a timeout."""


def test_the_whole_suite_is_vendored():
    suites = {"-".join(name.split("-")[:2]) for name in ELFS}
    assert len(ELFS) == 142
    assert suites == {"rv32ui-p", "rv32ui-v", "rv32um-p", "rv32um-v", "rv32ua-p", "rv32ua-v", "rv32mi-p", "rv32si-p"}


@pytest.mark.parametrize("name", ELFS)
def test_riscv_test_passes(name):
    m = build_machine("rv32", image=load_program(str(ELF_DIR / name)))
    result = m.run(LIMIT)
    assert result.halted, f"{name}: {result.reason} at pc 0x{result.pc:x} {result.detail}"
    assert (m.exit_code, m.exit_message) == (0, ""), f"{name}: {m.exit_message}"


@pytest.mark.parametrize("env", ["p", "v"])
def test_a_wrong_expectation_fails_with_its_test_number(tmp_path, env, cli):
    """The control README describes: add with a wrong expected value in test case 2."""
    src = ELF_DIR / f"rv32ui-{env}-add"
    data = bytearray(src.read_bytes())
    # test_2 checks `add a4, a1, a2` (0 + 0) against `addi t2, zero, 0`: expect 1 instead
    needle = bytes.fromhex("3387c500") + bytes.fromhex("93030000")    # add a4,a1,a2; addi t2,zero,0
    at = data.index(needle) + 4
    data[at:at + 4] = bytes.fromhex("93031000")                       # addi t2,zero,1
    bad = tmp_path / "add-wrong"
    bad.write_bytes(bytes(data))
    r = cli("run", str(bad))
    assert r.code == 1 and "test 2 failed" in r.err


def test_run_reports_a_pass_with_exit_0(cli):
    r = cli("run", str(ELF_DIR / "rv32ui-p-add"), "--isa", "rv32")
    assert r.code == 0 and r.err == ""
    r = cli("run", str(ELF_DIR / "rv32ui-v-add"))
    assert r.code == 0


def test_run_json_carries_the_exit_code(cli):
    import json
    r = cli("run", str(ELF_DIR / "rv32ui-p-add"), "--json")
    data = json.loads(r.out)
    assert r.code == 0 and data["exit_code"] == 0 and data["halted"]


def test_objdump_agrees_the_elfs_are_rv32():
    if shutil.which("riscv64-unknown-elf-objdump") is None:
        pytest.skip("GNU binutils for RISC-V not installed")
    assert all(load_program(str(ELF_DIR / n)).isa == "rv32" for n in ELFS[:3])


@pytest.mark.parametrize("name", ["rv32ui-p-sw", "rv32ui-v-sw", "rv32si-p-dirty", "rv32mi-p-csr"])
def test_a_machine_over_a_window_of_larger_storage_runs_the_tests(name):
    """A VM's hart: RAM is a window at an offset of the host's storage (as the monitor allocates it)."""
    from hybridvmm.isas.riscv.machine import RiscvMachine
    from hybridvmm.machine import Storage

    host = Storage(0x400000)
    vm = RiscvMachine("rv32", storage=host.window(0x100000, 0x100000))
    vm.load(load_program(str(ELF_DIR / name)))
    assert vm.run(LIMIT).halted and vm.exit_code == 0
    assert any(host.data[0x100000:0x101000]) and not any(host.data[:0x100000])


ELF64_DIR = ELF_DIR.parent / "elf64"
ELFS64 = sorted(p.name for p in ELF64_DIR.iterdir())


@pytest.mark.parametrize("name", ELFS64)
def test_rv64_riscv_test_passes_on_a_64_bit_hart(name):
    """The RV64 suite, on an XLEN-64 hart: the machine must really be 64-bit (a 32-bit one
    would 'pass' a p test whose first instruction already misbehaves), and every test must
    run its checks (each retires at least about a hundred instructions)."""
    m = build_machine("rv64", image=load_program(str(ELF64_DIR / name)))
    assert m.xlen.bits == 64
    result = m.run(LIMIT)
    assert result.halted, f"{name}: {result.reason} at pc 0x{result.pc:x} {result.detail}"
    assert (m.exit_code, m.exit_message) == (0, ""), f"{name}: {m.exit_message}"
    assert m.stats.instructions > 50


def test_the_rv64_suite_is_vendored():
    assert len(ELFS64) == 193 and all(load_program(str(ELF64_DIR / n)).isa == "rv64" for n in ELFS64[:3])
