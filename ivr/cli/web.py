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

    if args.stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Again: "):
            raise UsageError("the two passwords differ")
    if len(password) < 8:
        raise UsageError("use a password of at least 8 characters")
    try:
        print(hash_password(password))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return 0
