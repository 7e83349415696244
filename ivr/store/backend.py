"""How a store method reaches the database: one hop per method, not one per statement.

A store method is a plain function of a SQLAlchemy Core :class:`~sqlalchemy.Connection`
(the query modules are synchronous) handed to a backend in one piece:

- **SQLite**: two database threads per store, each with one long-lived ``sqlite3``
  connection. The writer thread runs every write, one at a time, each in its own
  ``BEGIN IMMEDIATE`` transaction: its queue is the write gate (SQLite has one writer at
  a time; queued here in arrival order, no writer polls SQLite's busy handler against
  another of ours). The reader thread runs the reads; in WAL mode they never wait for
  the writer, so a write stuck behind another process's lock (``busy_timeout``) never
  holds a lookup. A method costs one hand-over to a thread and one back, instead of
  aiosqlite's hand-over per statement, cursor and fetch.
- **PostgreSQL**: the async engine (asyncpg). A method's statements run in one greenlet
  hop (``run_sync``); reads run in autocommit (no ``BEGIN``/``ROLLBACK`` round trips),
  writes in one transaction. No pre-ping per checkout: a pooled connection the database
  dropped fails its statement, SQLAlchemy then recycles the whole pool, and a read is
  retried once on a fresh connection. Writes are not retried (the commit may have gone
  through); the call gets the error branch and the circuit breaker counts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")
Work = Callable[[Connection], T]
"""A whole store method's statements, run on one connection."""
BeforeCommit = Callable[[], None]
"""Runs inside a write transaction just before it commits; raising rolls it back."""


class Backend(Protocol):
    async def read(self, work: Work[T]) -> T: ...

    async def write(self, work: Work[T], before_commit: BeforeCommit) -> T: ...

    async def drop_connections(self) -> None:
        """Close every open connection; the next operation opens a new one."""

    async def close(self) -> None: ...


class _DatabaseThread:
    """One thread, one long-lived connection, a queue of work.

    Its own thread and queue rather than an executor: a hand-over is one queue put and,
    coming back, one ``call_soon_threadsafe`` that wakes the loop, without the two
    futures chained across threads ``run_in_executor`` costs on every call.
    """

    def __init__(self, engine: Engine, name: str) -> None:
        self._engine = engine
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._conn: Connection | None = None
        self._closed = False
        self.thread_ids: set[int] = set()

    def _connection(self) -> Connection:
        conn = self._conn
        if conn is None or conn.closed or conn.invalidated:
            if conn is not None:
                conn.close()
            conn = self._conn = self._engine.connect()
        return conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _run(self, work: Work[T], before_commit: BeforeCommit | None) -> T:
        conn = self._connection()
        try:
            if before_commit is None:
                try:
                    return work(conn)
                finally:
                    conn.rollback()  # ends the read (no SQL for a read-only sqlite3 txn)
            with conn.begin():
                # Take the write lock first: a transaction that reads then writes would
                # otherwise fail at once (SQLITE_BUSY_SNAPSHOT) when another process
                # wrote in between, instead of waiting its busy_timeout.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                result = work(conn)
                before_commit()
            return result
        except DBAPIError as exc:
            if exc.connection_invalidated:
                self._drop()
            raise

    def _serve(self) -> None:
        self.thread_ids.add(threading.get_ident())
        while True:
            job = self._jobs.get()
            if job is None:
                return
            loop, done, work, before_commit = job
            # A caller that gave up (its timeout) before the work started: drop it
            # unstarted. Once started it runs to its end (a statement inside SQLite
            # cannot be interrupted); busy_timeout bounds how long that can be.
            if done.cancelled():
                continue
            try:
                result: Any = None
                if work is _DROP:
                    self._drop()
                else:
                    result = self._run(work, before_commit)
            except BaseException as exc:  # handed to the caller, raised there
                _deliver(loop, done, None, exc)
            else:
                _deliver(loop, done, result, None)

    async def run(self, work: Work[T], before_commit: BeforeCommit | None = None) -> T:
        if self._closed:
            raise RuntimeError("the store is closed")
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
            self._thread.start()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, done, work, before_commit))
        return await done

    async def drop(self) -> None:
        if self._thread is None:
            self._drop()
            return
        await self.run(_DROP)

    async def close(self) -> None:
        if self._closed:
            return
        await self.drop()
        self._closed = True
        self._jobs.put(None)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)


_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Work[Any], BeforeCommit | None]


def _deliver(loop: asyncio.AbstractEventLoop, done: asyncio.Future[Any], result: Any,
             exc: BaseException | None) -> None:
    def settle() -> None:
        if done.cancelled():
            return
        if exc is not None:
            done.set_exception(exc)
        else:
            done.set_result(result)

    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
        loop.call_soon_threadsafe(settle)


def _DROP(_conn: Connection) -> None:
    """Marker work: close the thread's connection (the next work opens a new one)."""


class SqliteBackend:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reader = _DatabaseThread(engine, "ivr-db-read")
        self._writer = _DatabaseThread(engine, "ivr-db-write")

    async def read(self, work: Work[T]) -> T:
        return await self._reader.run(work)

    async def write(self, work: Work[T], before_commit: BeforeCommit) -> T:
        return await self._writer.run(work, before_commit)

    @property
    def thread_ids(self) -> set[int]:
        """Threads that have run store work (tests: every method runs on these two)."""
        return self._reader.thread_ids | self._writer.thread_ids

    async def drop_connections(self) -> None:
        await self._reader.drop()
        await self._writer.drop()

    async def close(self) -> None:
        await self._reader.close()
        await self._writer.close()
        self.engine.dispose()


class AsyncBackend:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._reads = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def read(self, work: Work[T]) -> T:
        try:
            async with self._reads.connect() as conn:
                return await conn.run_sync(work)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        # The pooled connection was dead (a database restarted since): once more, on a
        # new one. A database still down fails this try too, for the breaker to count.
        async with self._reads.connect() as conn:
            return await conn.run_sync(work)

    async def write(self, work: Work[T], before_commit: BeforeCommit) -> T:
        async with self.engine.begin() as conn:
            result = await conn.run_sync(work)
            before_commit()
        return result

    async def drop_connections(self) -> None:
        await self.engine.dispose()

    async def close(self) -> None:
        await self.engine.dispose()
