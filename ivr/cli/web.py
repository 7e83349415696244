"""``ivr web``: helpers for the web app's configuration (password hashes)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "web",
        help="web app helpers (password hashes for the config file)",
        description="Helpers for the agent console / softphone web app.",
    )
    sub = parser.add_subparsers(dest="web_command", metavar="ACTION")
    sub.required = True
    hashing = sub.add_parser(
        "hash-password",
        help="print a bcrypt hash for a web user's password_hash",
        description=(
            "Print a bcrypt hash to paste as password_hash under web.users in the service "
            "config file. Asks for the password twice (not echoed), or reads one line from "
            "standard input with --stdin."
        ),
    )
    hashing.add_argument("--stdin", action="store_true",
                         help="read the password from the first line of standard input")
    hashing.set_defaults(func=hash_password_command)


def hash_password_command(args: argparse.Namespace) -> int:
    from ivr.cli import UsageError
    from ivr.web.auth import hash_password

    password = _read_stdin() if args.stdin else _ask_twice()
    if len(password) < 8:
        raise UsageError("use a password of at least 8 characters")
    try:
        print(hash_password(password))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return 0


def _read_stdin() -> str:
    from ivr.cli import UsageError

    line = sys.stdin.readline() if sys.stdin is not None else ""
    if not line.strip("\r\n"):  # closed, empty or a blank first line
        raise UsageError("no password on standard input (--stdin reads its first line)")
    return line.rstrip("\r\n")


def _ask_twice() -> str:
    from ivr.cli import UsageError

    # getpass falls back to echoing from a pipe (and fails on a closed one): without a
    # terminal there is no one to ask.
    if sys.stdin is None or not sys.stdin.isatty():
        raise UsageError("no terminal to ask for the password: pipe it in with --stdin")
    try:
        password = getpass.getpass("Password: ")
        again = getpass.getpass("Again: ")
    except EOFError:  # Ctrl-D at the prompt
        raise UsageError("no password given") from None
    if password != again:
        raise UsageError("the two passwords differ")
    return password
