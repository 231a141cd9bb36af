"""Errors a user can cause, and the exit codes.  The CLI prints an error as one line and exits 2.

The exit codes live here, below every command, so that a command can return one without
importing the CLI that runs it.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

EXIT_OK = 0
EXIT_FAILURE = 1
"""A run or comparison found a failure (a guest stopped, a divergence)."""
EXIT_USAGE = 2
"""Bad input or usage: one line on stderr."""
EXIT_INTERRUPTED = 130
"""Ctrl-C (128 + SIGINT, as shells report it)."""


class UserError(Exception):
    """Bad input from the user: a file, an option, a spec, an image.

    Anything raised as (a subclass of) this is reported as a single line on stderr with
    exit code 2 and no traceback.
    """


class SpecError(UserError):
    """A malformed ISA specification.  Carries every problem found, each with file:line."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        first = self.problems[0] if self.problems else "invalid ISA spec"
        more = f" (and {len(self.problems) - 1} more: {'; '.join(self.problems[1:])})" if len(self.problems) > 1 else ""
        super().__init__(first + more)


class UnknownISAError(UserError):
    """No spec of that name."""


class DecodeError(UserError):
    """Bytes at an address that are not an instruction of the ISA."""

    def __init__(self, address: int, data: bytes, reason: str = "undecodable instruction"):
        self.address = address
        self.data = bytes(data)
        super().__init__(f"{reason} at 0x{address:x}: {self.data.hex(' ') or '(no bytes)'}")


class EncodeError(UserError):
    """An operand value that does not fit its field."""


class AsmError(UserError):
    """An assembly source error, formatted ``file:line: message``."""

    def __init__(self, filename: str, line: int, message: str):
        self.filename = filename
        self.line = line
        self.message = message
        super().__init__(f"{filename}:{line}: {message}")


class ImageError(UserError):
    """A truncated, corrupt or unusable image file."""


_INPUTS: set[str] = set()
"""Real paths of the files read since :func:`forget_inputs`: a command never writes over
one of them (see :func:`hybridvmm.cli_support.check_output`)."""


def location(path: str | Path) -> str:
    """The real path of the name itself: its directory resolved, a final symlink not followed."""
    path = Path(path)
    return os.path.join(os.path.realpath(path.parent if str(path.parent) else "."), path.name)


def note_input(path: str | Path) -> None:
    """Remember that this command read ``path``: the file, and the name it was read by (a
    symbolic link the user named is an input too), so that no output of it replaces either."""
    _INPUTS.update((os.path.realpath(path), location(path)))


def one_line(text: str) -> str:
    """``text`` safe to print as one line: control characters and line separators (which a
    file's section names or a source's bytes may hold) escaped, as ``repr`` escapes them."""
    return "".join(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1] for ch in text)


def inputs_read() -> frozenset[str]:
    """The real paths of the files read so far by this command."""
    return frozenset(_INPUTS)


def forget_inputs() -> None:
    """Start a new command: nothing read yet."""
    _INPUTS.clear()


def read_input(path: str | Path) -> bytes:
    """The bytes of a file the user named; any failure is a one-line :class:`UserError`."""
    path = Path(path)
    try:
        data = path.read_bytes()
        note_input(path)
        return data
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None


def parse_toml(text: str, origin: str) -> dict:
    """A TOML document the user wrote (a spec, a cost table) as data; a syntax error, or
    nesting deep enough to exhaust tomllib's recursion, is one :class:`UserError` line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{origin}: TOML syntax error: {exc}") from None
    except RecursionError:
        raise UserError(f"{origin}: TOML nested too deeply to read") from None
