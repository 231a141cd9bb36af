"""What only the command line needs lives in commands/: exit codes, output names, signatures."""

from __future__ import annotations

import pytest

from hybridvmm import cli, errors
from hybridvmm.asm import assemble
from hybridvmm.commands.patch_paths import default_patched, default_unpatched
from hybridvmm.commands.signature import signature_words
from hybridvmm.errors import UserError
from hybridvmm.isas import build_machine

PGM_SIGNED = """
start:  halt
        .align 4
begin_signature:
        .word 0x12345678, 0xcafe
end_signature:
"""


def test_exit_codes_live_in_errors_and_the_cli_uses_them():
    assert (errors.EXIT_OK, errors.EXIT_FAILURE, errors.EXIT_USAGE, errors.EXIT_INTERRUPTED) == (0, 1, 2, 130)
    assert cli.EXIT_USAGE is errors.EXIT_USAGE and cli.EXIT_OK is errors.EXIT_OK


def test_helpers_are_not_subcommands():
    names = set(cli.build_parser()._subparsers._group_actions[0].choices)
    assert {"patch", "unpatch", "run"} <= names
    assert not names & {"patch_paths", "signature"}


def test_patched_and_unpatched_names():
    assert default_patched("os.img").name == "os.patched.img"
    assert default_patched("guest:minios").name == "minios.patched.img"
    assert default_unpatched("os.patched.img").name == "os.img"
    with pytest.raises(UserError):
        default_patched("/")


def test_read_physical_is_storage_on_pgm():
    image = assemble(PGM_SIGNED, "pgm")
    m = build_machine("pgm", image=image)
    begin = image.symbols["begin_signature"]
    assert m.read_physical(begin, 4) == (0x12345678).to_bytes(4, "little")
    assert m.read_physical(m.storage.size - 2, 4) is None and m.read_physical(-1, 1) is None


def test_the_signature_writer_knows_no_isa():
    image = assemble(PGM_SIGNED, "pgm")
    m = build_machine("pgm", image=image)
    assert signature_words(m, image.symbols) == [0x12345678, 0xCAFE]
    with pytest.raises(UserError, match="begin_signature and end_signature"):
        signature_words(m, {})
