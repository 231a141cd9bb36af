"""The command line: ``python -m hybridvmm SUBCOMMAND`` / ``hybridvmm SUBCOMMAND``.

Subcommands live in :mod:`hybridvmm.commands`, one module each, discovered at start-up:
a module defines ``register(subparsers)`` which adds its parser and sets ``func``.
Exit codes (:mod:`hybridvmm.errors`): 0 success, 1 a run or comparison found a failure,
2 bad input or usage.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import pkgutil
import sys
from typing import NoReturn

from hybridvmm import __version__
from hybridvmm.cli_support import begin_command
from hybridvmm.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UserError, one_line


EPILOG = (
    "Programs: an image, an ELF, a raw binary (--isa NAME --base ADDR) or guest:NAME; --isa may name the "
    "program's own ISA or a variant of its family, never another family. Files written (-o, --dot, --svg, "
    "--dump, --trace-file, --signature, --output-dir): '-' is stdout; an existing file is replaced only with "
    "--force, a file the command reads never; written atomically, mode 0600. Exit 0 success, 1 a run or "
    "comparison failed, 2 bad input (one line on stderr), 130 interrupted."
)


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error on one line (as every other error) naming ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="hybridvmm",
        description="Popek-Goldberg virtualization made executable: ISA specs, assembler, "
        "classifier, scanner/patcher and a hybrid virtual machine monitor.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"hybridvmm {__version__}")
    parser.add_argument("--no-compile", action="store_true",
                        help="run every guest instruction through the per-instruction path: no block is compiled "
                             "(bare or under the monitor; for comparison and debugging)")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    sub.required = True
    import hybridvmm.commands as commands

    modules = []
    for info in pkgutil.iter_modules(commands.__path__):
        if not info.name.startswith("_"):
            module = importlib.import_module(f"hybridvmm.commands.{info.name}")
            if hasattr(module, "register"):  # the rest are the commands' helpers
                modules.append(module)
    for module in sorted(modules, key=lambda m: (getattr(m, "ORDER", 50), m.__name__)):
        module.register(sub)
    return parser


@functools.lru_cache(maxsize=1)
def _parser() -> argparse.ArgumentParser:
    """The parser, built once per process (building it costs more than most commands)."""
    return build_parser()


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit code (never raises for user errors)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    begin_command(args)
    from hybridvmm.machine.core import Machine

    compiling = Machine.compile_default
    Machine.compile_default = compiling and not args.no_compile
    try:
        result = args.func(args)
    except UserError as exc:
        print(f"hybridvmm: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:  # the system refused a file or directory the user named
        name = f"{exc.filename}: " if exc.filename else ""
        print(f"hybridvmm: error: {one_line(name + (exc.strerror or str(exc)))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("hybridvmm: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        Machine.compile_default = compiling
    sys.stdout.flush()
    return int(result or 0)


def entry_point() -> None:
    """Console-script entry."""
    sys.exit(main())
