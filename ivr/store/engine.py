"""Creating the engines: the only place in ``ivr`` that opens database connections."""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

#: Seconds SQLite waits for another writer's lock before failing with "database is
#: locked". Shorter than the write lookups' timeout (4 s) on purpose: a statement
#: blocked inside SQLite cannot be interrupted, so cancelling it (the action's timeout)
#: only takes effect when SQLite gives up; this bounds that wait. Readers never wait
#: (WAL mode).
DEFAULT_BUSY_TIMEOUT = 3.0

#: Pool size for PostgreSQL: lookups are short; a few connections per process serve
#: hundreds of concurrent calls, and several servers share one database.
POSTGRES_POOL_SIZE = 10

#: Mode of a new SQLite file: it holds callers' numbers and account codes, so only the
#: service user may read it (like the secrets beside it). SQLite gives the -wal and -shm
#: files it makes the database file's permission bits.
SQLITE_FILE_MODE = 0o600
#: Seconds to wait for PostgreSQL to accept a connection (asyncpg's default is 60). A
#: host that swallows packets must fail a start (which then serves degraded) or a
#: breaker probe in seconds, not hold a pooled connection for a minute.
POSTGRES_CONNECT_TIMEOUT = 5.0



def normalise_url(url: str | URL) -> URL:
    """Accept the async dialects, and map sync spellings to them (``sqlite://``)."""
    parsed = make_url(url)
    driver = parsed.drivername
    if driver in {"sqlite", "sqlite+pysqlite"}:
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif driver in {"postgresql", "postgres", "postgresql+psycopg2"}:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed


def asyncpg_dsn(database_url: str) -> str | None:
    """The plain ``postgresql://`` DSN asyncpg wants (for the screen-pop's own LISTEN
    connection, :mod:`ivr.screenpop.pgbus`), or None if the store is not PostgreSQL."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def make_engine(
    url: str, *, schema: str | None = None, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
) -> AsyncEngine:
    """An async engine with the per-backend settings the store relies on.

    ``schema`` (PostgreSQL only) puts every table in that schema via ``search_path``;
    tests use it to keep parallel runs apart.
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, busy_timeout)
    connect_args: dict[str, Any] = {}
    if parsed.get_driver_name() == "asyncpg":
        connect_args["timeout"] = POSTGRES_CONNECT_TIMEOUT
    if schema:
        if parsed.get_backend_name() != "postgresql":
            raise ValueError("a schema can only be chosen on PostgreSQL")
        connect_args["server_settings"] = {"search_path": schema}
    return create_async_engine(
        parsed,
        hide_parameters=True,  # errors must not print callers' numbers and account codes
        connect_args=connect_args,
        pool_size=POSTGRES_POOL_SIZE,
        # No ping per checkout (a round trip per store method): a connection the
        # database dropped fails its first statement, SQLAlchemy then recycles the
        # whole pool, and the store retries a read once (ivr/store/backend.py); the
        # circuit breaker catches a database that stays away.
        pool_pre_ping=False,
    )


def sqlite_file(url: str | URL) -> Path | None:
    """The file an SQLite URL names; None for an in-memory or non-SQLite database."""
    parsed = normalise_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def _create_private(path: Path) -> None:
    """Create ``path`` empty (a valid empty SQLite database) with SQLITE_FILE_MODE, so
    SQLite never creates it with the umask's usual 0644; an existing file is left as
    it is (its owner may have chosen its mode).

    A path SQLite could not open is refused here, as an OSError naming it: aiosqlite's
    failed connect leaves its worker thread to report to a loop that may be gone.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SQLITE_FILE_MODE))
    if not os.access(path, os.R_OK | os.W_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))


def _sqlite_engine(parsed: URL, busy_timeout: float) -> AsyncEngine:
    """The async engine over aiosqlite: migrations, the seeder and ad-hoc reads. The
    store's calls do not come here: they run on :func:`make_sqlite_sync_engine`'s
    engine in the store's own database threads (:mod:`ivr.store.backend`)."""
    # hide_parameters: errors (logged) must not print callers' numbers and account codes.
    engine = create_async_engine(parsed, hide_parameters=True)
    _sqlite_settings(engine.sync_engine, sqlite_file(parsed), busy_timeout)
    return engine


def make_sqlite_sync_engine(
    url: str | URL, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
) -> Engine:
    """A synchronous engine (the stdlib ``sqlite3`` driver) on the same file with the same
    settings, for the store's database threads: each holds one long-lived connection and
    runs a whole store method on it, so a method costs one hop between threads instead of
    one per statement as through aiosqlite."""
    parsed = normalise_url(url).set(drivername="sqlite+pysqlite")
    engine = create_engine(
        parsed,
        hide_parameters=True,
        # Opened in its thread and closed from the store's close(): sqlite3 must not
        # refuse that second thread (one thread uses a connection at any time).
        connect_args={"check_same_thread": False},
        # No pool: each database thread keeps its one connection open itself, and a
        # connection it drops (after a failure) is closed for real, so the next one is
        # opened anew and passes the file identity check.
        poolclass=NullPool,
    )
    _sqlite_settings(engine, sqlite_file(parsed), busy_timeout)
    return engine


def _sqlite_settings(engine: Engine, path: Path | None, busy_timeout: float) -> None:
    if path is not None:
        # At the first connect that works, not here: a path that cannot be opened at
        # start is a database that is down (``ivr serve`` starts degraded and retries).
        # Once made, never again: a file deleted under a running server must stay
        # missing for the store's identity check (ivr/store/health.py), not reappear empty.
        made = False

        @event.listens_for(engine, "do_connect")
        def _private_file(*_args: Any) -> None:
            nonlocal made
            if not made:
                _create_private(path)
                made = True

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        # WAL: readers never block the writer, so lookups keep flowing during writes.
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives the process being killed (the WAL is in
        # the OS cache); only a power loss can lose the last transactions.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache per connection
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()
