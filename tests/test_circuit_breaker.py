"""The circuit breaker: a database that fails or hangs is refused at once after a few
failures in a row, probed after a growing break, and trusted again when it answers.

Real databases, really stuck: SQLite write-locked by another connection, PostgreSQL
behind a TCP listener that accepts and never answers (then relays to the real server:
the database "returns"). What reaches the database is counted with SQLAlchemy's own
events (statements, connection attempts), never inferred from time; the breaker's clock
is a stepped fake.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url
from store_helpers import NOW, Db

from ivr.clock import FixedClock
from ivr.lookups import LookupContext, LookupRegistry, LookupStatus
from ivr.store import Store
from ivr.store.demo import UNPAID
from ivr.store.health import FAILURES_TO_OPEN, FIRST_BREAK, MAX_BREAK, Breaker, CircuitBreaker
from ivr.store.lookups import build_lookups
from ivr.store.seed import seed

pytest_plugins = ("store_fixtures",)

CTX = LookupContext(call_id="c-1", caller=UNPAID.phones[0], dialled="1900545454", language="vi")
BALANCE = {"account": UNPAID.code}


class Steps:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def breaker_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records
            if r.name == "ivr.store.health"]


# -- the breaker on its own --------------------------------------------------------------


def test_opens_after_failures_in_a_row_backs_off_and_closes_on_an_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="ivr.store.health")
    now = Steps()
    b = CircuitBreaker("db", now=now)
    for _ in range(FAILURES_TO_OPEN - 1):
        b.failed("TimeoutError")
    b.answered()  # an answer between failures: not "in a row"
    for _ in range(FAILURES_TO_OPEN - 1):
        b.failed("TimeoutError")
    assert b.state is Breaker.CLOSED and b.allow()
    b.failed("OperationalError: database is locked")
    assert b.state is Breaker.OPEN and not b.allow()

    breaks = []
    for _ in range(8):
        start = now.t
        while not b.probe_due():
            assert not b.allow()
            now.t += 0.25
        breaks.append(now.t - start)
        assert b.allow()  # the probe
        assert b.state is Breaker.HALF_OPEN and not b.allow()  # only one at a time
        b.failed("TimeoutError")
    assert breaks == [FIRST_BREAK, 2, 4, 8, 16, MAX_BREAK, MAX_BREAK, MAX_BREAK]

    now.t += MAX_BREAK
    assert b.allow()
    b.answered()
    assert b.state is Breaker.CLOSED and b.allow()
    lines = [(lvl, msg) for lvl, msg in breaker_lines(caplog) if lvl >= logging.INFO]
    assert [lvl for lvl, _ in lines] == [logging.WARNING, logging.INFO], lines
    assert "3 failures in a row (last: OperationalError: database is locked)" in lines[0][1]
    assert "answers again" in lines[1][1]

    # Broken again later: the break starts short again.
    for _ in range(FAILURES_TO_OPEN):
        b.failed("TimeoutError")
    assert b.retry_in() == FIRST_BREAK


# -- SQLite, write-locked by another connection ------------------------------------------


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def count_statements(store: Store) -> list[str]:
    seen: list[str] = []

    @event.listens_for(store.sync_engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    return seen


async def test_sqlite_locked_for_writes_opens_the_write_circuit_while_reads_go_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="ivr.store.health")
    path = tmp_path / "ivr.db"
    now = Steps()
    store = await Store.open(f"sqlite+aiosqlite:///{path}", clock=FixedClock(NOW),
                             busy_timeout=0.05, monotonic=now)
    await store.migrate()
    await seed(store, n_accounts=20, seed=1)
    registry = build_lookups(store)
    survey = {"score": 4}
    statements = count_statements(store)
    reported: list[bool] = []  # what the service's gauge is told (ivr_database_circuit_open)
    store.health.watch_circuits(reported.append)
    try:
        with exclusive_lock(path):
            for _ in range(FAILURES_TO_OPEN):
                result = await registry.run("record_survey", survey, CTX)
                assert result.status is LookupStatus.ERROR
                assert "database is locked" in result.error
            assert store.health.writes.state is Breaker.OPEN
            assert reported == [False, True]
            reached = len(statements)
            for _ in range(10):
                refused = await registry.run("record_survey", survey, CTX)
                assert refused.status is LookupStatus.ERROR
                assert "circuit open" in refused.error, refused.error
            assert len(statements) == reached  # nothing reached the database
            read = await registry.run("balance", BALANCE, CTX)  # WAL: reads are not locked
            assert read.status is LookupStatus.FOUND
            assert store.database_health()["state"] == "circuit_open"
            assert store.database_health()["writes"]["circuit"] == "open"
        now.t += FIRST_BREAK
        again = await registry.run("record_survey", survey, CTX)  # the probe
        assert again.status is LookupStatus.FOUND, again.error
        assert store.health.writes.state is Breaker.CLOSED
        assert store.database_health() == {"state": "ok"}
        assert reported == [False, True, False]  # once each way, not once per refusal
    finally:
        await store.close()
    levels = [lvl for lvl, _ in breaker_lines(caplog) if lvl >= logging.INFO]
    assert levels == [logging.WARNING, logging.INFO]


# -- PostgreSQL behind a host that accepts and never answers ------------------------------


class Blackhole:
    """A TCP listener that accepts connections and never says a word (a database host
    that hangs); once ``forward`` is set, new connections are relayed to ``target``."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.forward = False
        self.accepted = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> Blackhole:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.ensure_future(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if not self.forward:
                while await reader.read(65536):
                    pass  # swallow the startup packet; never answer
                return
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@pytest.fixture
async def pg_store(db_target: Db) -> AsyncIterator[Store]:
    """Only the PostgreSQL side of ``store`` (indirect parametrisation below)."""
    from store_fixtures import _create_schema, _drop_schema

    assert db_target.schema is not None
    await _create_schema(db_target.url, db_target.schema)
    s = await db_target.open()
    try:
        await s.migrate()
        await seed(s, n_accounts=20, seed=1)
        yield s
    finally:
        await s.close()
        await _drop_schema(db_target.url, db_target.schema)


@pytest.mark.postgres
@pytest.mark.parametrize("db_target", ["postgres"], indirect=True)
async def test_postgres_that_never_answers_is_refused_at_once_until_it_returns(
    pg_store: Store, db_target: Db, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="ivr.store.health")
    real = make_url(db_target.url)
    async with Blackhole((real.host or "127.0.0.1", real.port or 5432)) as hole:
        url = real.set(host="127.0.0.1", port=hole.port).render_as_string(hide_password=False)
        now = Steps()
        store = await Store.open(url, clock=FixedClock(NOW), schema=db_target.schema,
                                 monotonic=now)
        attempts: list[int] = []
        event.listen(store.sync_engine, "do_connect",
                     lambda *_a: attempts.append(1))
        registry: LookupRegistry = build_lookups(store, read_timeout=0.3)
        try:
            for _ in range(FAILURES_TO_OPEN):
                slow = await registry.run("balance", BALANCE, CTX)
                assert slow.status is LookupStatus.TIMEOUT
            assert store.health.reads.state is Breaker.OPEN
            reached = len(attempts)
            assert reached == FAILURES_TO_OPEN  # one connection attempt per lookup
            for _ in range(20):
                refused = await registry.run("balance", BALANCE, CTX)
                assert refused.status is LookupStatus.ERROR
                assert "circuit open" in refused.error
            assert len(attempts) == reached  # no lookup went near the database
            assert store.database_health()["reads"]["circuit"] == "open"

            hole.forward = True  # the database is back
            now.t += FIRST_BREAK
            found = await registry.run("balance", BALANCE, CTX)
            assert found.status is LookupStatus.FOUND, found.error
            assert store.health.reads.state is Breaker.CLOSED
            assert len(attempts) == reached + 1  # the probe
        finally:
            await store.close()
    levels = [lvl for lvl, _ in breaker_lines(caplog) if lvl >= logging.INFO]
    assert levels == [logging.WARNING, logging.INFO]
