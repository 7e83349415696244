"""The ``ivr`` command: one subcommand per module in this package.

Each subcommand module exposes ``register(subparsers)``, which adds its parser and sets
``func`` to a callable taking the parsed arguments and returning an exit code. Modules
keep heavy imports inside their functions so ``ivr --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from ivr.errors import IvrError

#: Subcommand modules in the order ``--help`` lists them.
COMMANDS = ("serve", "validate", "simulate", "test-flows", "agi", "say", "prompts", "db", "web",
            "loadtest", "graph")


class CliError(IvrError):
    """A problem outside the program (a database that does not answer, a missing file)
    whose message is enough on its own: one line, no traceback, exit 1."""

    exit_code = 1


class UsageError(CliError):
    """A mistake on the command line or in the configuration: one line, exit 2."""

    exit_code = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ivr",
        description="Telephone IVR call-flow engine for Asterisk (FastAGI, AGI, AMI).",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        # A command may have a '-' (test-flows); its module cannot (test_flows).
        module_name = f"ivr.cli.{name.replace('-', '_')}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # subcommand not part of this build
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The one edge where a product error becomes one line: commands raise CliError (or
    # UsageError) with a message saying what is wrong and what to check. Anything else
    # is a bug and keeps its traceback.
    try:
        code: int = args.func(args)
    except CliError as exc:
        print(f"ivr: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        # Ctrl-C at a prompt (ivr simulate, hash-password): the user's choice, not a crash;
        # the newline ends the half-typed line so the shell prompt starts clean.
        print("\nivr: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    raise SystemExit(main())
