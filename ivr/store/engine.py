"""Creating the async engine: the only place in ``ivr`` that opens database connections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

#: Seconds SQLite waits for another writer's lock before failing with "database is
#: locked". Shorter than the write actions' timeout (4 s) on purpose: a statement
#: blocked inside SQLite cannot be interrupted, so cancelling it (the action's timeout)
#: only takes effect when SQLite gives up; this bounds that wait. Readers never wait
#: (WAL mode).
DEFAULT_BUSY_TIMEOUT = 3.0

#: Pool size for PostgreSQL: lookups are short; a few connections per process serve
#: hundreds of concurrent calls, and several servers share one database.
POSTGRES_POOL_SIZE = 10


def normalise_url(url: str) -> URL:
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
    if schema:
        if parsed.get_backend_name() != "postgresql":
            raise ValueError("a schema can only be chosen on PostgreSQL")
        connect_args["server_settings"] = {"search_path": schema}
    return create_async_engine(
        parsed,
        hide_parameters=True,  # errors must not print callers' numbers and account codes
        connect_args=connect_args,
        pool_size=POSTGRES_POOL_SIZE,
        pool_pre_ping=True,  # a restarted database costs one failed ping, not a call
    )


def _sqlite_engine(parsed: URL, busy_timeout: float) -> AsyncEngine:
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    # hide_parameters: errors (logged) must not print callers' numbers and account codes.
    engine = create_async_engine(parsed, hide_parameters=True)

    @event.listens_for(engine.sync_engine, "connect")
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

    return engine
