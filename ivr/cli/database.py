"""A database the command cannot use, said in one line: which URL (password hidden), what
went wrong and what to check.

Only failures that come from outside the program are translated: a URL with an unknown
driver, a server that refuses or does not answer, a role or database that does not
exist, an SQLite file that cannot be opened. Anything else (a query the database
rejects, say) is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from ivr.cli import CliError, UsageError

#: The two URL shapes ivr supports, for messages about a URL that is not one of them.
URL_FORMS = ("use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DB "
             "(--db or IVR_DATABASE_URL)")

#: PostgreSQL's port when the URL names none (what asyncpg then connects to).
POSTGRES_PORT = 5432

#: What to check for the SQLSTATEs PostgreSQL answers a connection attempt with
#: (https://www.postgresql.org/docs/current/errcodes-appendix.html).
SQLSTATE_HINTS = {
    "28000": "check the user name in the URL, and that the role exists and may log in "
             "from here (pg_hba.conf)",
    "28P01": "check the user name and password in the URL",
    "3D000": "check the database name in the URL, or create the database (createdb NAME)",
    "57P03": "PostgreSQL is starting or stopping: try again when it is up",
    "53300": "PostgreSQL has no connection left: raise max_connections or stop idle clients",
}

#: SQLite's words for a file it cannot use, and what to check.
SQLITE_HINTS = {
    "unable to open database file": "check that its directory exists and that this user "
                                    "may write there",
    "attempt to write a readonly database": "check that this user may write the file and "
                                            "its directory",
    "file is not a database": "it is not an SQLite database: check the path",
    "database disk image is malformed": "the file is damaged: restore it from a backup",
    "disk i/o error": "check the disk and the file system",
    "database is locked": "another process holds it: wait, or stop that process",
}

_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]*@")


def shown(url: str) -> str:
    """The URL with its password hidden, as it may be printed and logged."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return _PASSWORD.sub(r"\1***@", url)


@contextlib.contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Turn a database that cannot be used into a one-line :class:`CliError`."""
    try:
        yield
    except (SQLAlchemyError, OSError, ModuleNotFoundError) as exc:
        error = explain(url, exc)
        if error is None:
            raise
        raise error from None


def explain(url: str, exc: BaseException) -> CliError | None:
    """The one-line error for ``exc`` met while using ``url``; None when it is a bug."""
    where = f"database {shown(url)}"
    try:
        parsed: URL | None = make_url(url)
    except ArgumentError:
        parsed = None
    if parsed is None:
        if isinstance(exc, ArgumentError):
            return UsageError(f"database URL {shown(url)!r} is not a URL: {URL_FORMS}")
        return None
    if isinstance(exc, NoSuchModuleError):
        return UsageError(f"{where}: unknown database driver {parsed.drivername!r}: {URL_FORMS}")
    if isinstance(exc, ModuleNotFoundError):
        if exc.name and exc.name.split(".")[0] in parsed.drivername:
            return UsageError(f"{where}: driver {exc.name!r} is not installed: {URL_FORMS}")
        return None
    host = f"{parsed.host or 'localhost'}:{parsed.port or POSTGRES_PORT}"
    if isinstance(exc, socket.gaierror):
        return CliError(f"{where}: unknown host {parsed.host!r}: check the host name in the URL")
    if isinstance(exc, ConnectionRefusedError):
        return CliError(f"{where}: connection refused by {host}: check that PostgreSQL is "
                        "running there and the host and port in the URL")
    if isinstance(exc, TimeoutError):
        return CliError(f"{where}: no answer from {host}: check the host and port in the URL "
                        "and any firewall between")
    if isinstance(exc, OSError):
        return _file_problem(where, parsed, exc)
    if isinstance(exc, DBAPIError):
        return _driver_problem(where, parsed, exc)
    return None


def _file_problem(where: str, parsed: URL, exc: OSError) -> CliError | None:
    if isinstance(exc, ConnectionError):
        return CliError(f"{where}: {exc.strerror or exc}: check that the database is running")
    if exc.filename is None:
        return None
    if parsed.get_backend_name() == "sqlite":  # the file or its directory cannot be used
        return CliError(f"{where}: {exc.filename}: {exc.strerror}")
    return CliError(f"{exc.filename}: {exc.strerror}")


def _driver_problem(where: str, parsed: URL, exc: DBAPIError) -> CliError | None:
    root = driver_error(exc)
    message = str(root).strip().splitlines()[0] if str(root).strip() else type(root).__name__
    sqlstate = str(getattr(root, "sqlstate", "") or getattr(root, "pgcode", "") or "")
    if sqlstate in SQLSTATE_HINTS:
        return CliError(f"{where}: {message}: {SQLSTATE_HINTS[sqlstate]}")
    if sqlstate.startswith("08"):  # connection exception: the server hung up on us
        return CliError(f"{where}: {message}: check the server and its log")
    if parsed.get_backend_name() == "sqlite":
        hint = SQLITE_HINTS.get(message.lower())
        if hint is not None:
            return CliError(f"{where}: {message} ({Path(parsed.database or '')}): {hint}")
    return None


def driver_error(exc: DBAPIError) -> BaseException:
    """The driver's own exception under SQLAlchemy's wrappers (asyncpg's carries sqlstate)."""
    found: BaseException = exc.orig if isinstance(exc.orig, BaseException) else exc
    seen = {id(found)}
    while True:
        inner = found.__cause__ or found.__context__
        if inner is None or id(inner) in seen:
            return found
        seen.add(id(inner))
        found = inner
