"""The store: the one object in ``ivr`` that talks to the database.

Every method opens a connection from the pool for just its own work; every write
commits before it returns (a ticket or case id the caller hears survives a crash).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event, select, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ivr.calls import CallRecord, CaseDraft
from ivr.channels.channel import TransferResult
from ivr.clock import Clock, SystemClock
from ivr.store import calls, cases, queries, requests
from ivr.store.convert import normalise_phone
from ivr.store.engine import DEFAULT_BUSY_TIMEOUT, make_engine
from ivr.store.health import (
    DatabaseFileReplaced,
    DatabaseHealth,
    FileIdentity,
    describe_db_error,
    is_database_failure,
)
from ivr.store.models import accounts

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

#: Accounts ``seed_demo_if_empty`` creates: enough to feel real, seeded in about a second.
DEMO_ACCOUNTS = 2_000

#: Arbitrary constant naming the PostgreSQL advisory lock that serialises migrations
#: when several ``ivr serve`` instances start at once.
MIGRATION_LOCK_ID = 0x1D7_5703


def _upgrade(sync_conn: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    if sync_conn.dialect.name == "postgresql":
        sync_conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = sync_conn
    command.upgrade(config, "head")


class Store:
    """Implements :class:`ivr.calls.CallStore`, the lookups' data and the case desk."""

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        *,
        schema: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self.schema = schema
        # SQLite has one writer at a time. Left to SQLite's busy handler, concurrent
        # writers poll with growing sleeps and, under a burst of calls, some give up with
        # "database is locked"; queueing them here in arrival order keeps every write
        # short and fair. PostgreSQL needs no such gate.
        self._write_gate: asyncio.Lock | None = (
            asyncio.Lock() if engine.dialect.name == "sqlite" else None
        )
        path = sqlite_file(engine.url)
        self.health = DatabaseHealth(
            engine.url.render_as_string(hide_password=True),
            now=monotonic,
            file=FileIdentity(path) if path else None,
        )
        if path:
            _follow_file_identity(engine, self.health)

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        clock: Clock | None = None,
        schema: str | None = None,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> Store:
        """Connect lazily to ``url`` (SQLite file created on first use)."""
        engine = make_engine(url, schema=schema, busy_timeout=busy_timeout)
        return cls(engine, clock or SystemClock(), schema=schema, monotonic=monotonic)

    @contextlib.asynccontextmanager
    async def _watched(self, *, write: bool) -> AsyncIterator[None]:
        """Tell the circuit breaker how the operation went. A cancellation is the
        caller's timeout running out (a lookup's, the record save's): the database did
        not answer in time."""
        breaker = self.health.breaker(write=write)
        try:
            yield
        except asyncio.CancelledError:
            breaker.failed("no answer in time")
            raise
        except Exception as exc:
            if is_database_failure(exc):
                breaker.failed(describe_db_error(exc))
            else:  # the database answered; the operation itself said no
                breaker.answered()
            raise
        breaker.answered()

    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reading; refused at once while the database is known down."""
        self.health.admit()
        async with self._watched(write=False), self._engine.connect() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that writes, committed when the block ends, unless the SQLite
        file is not the one we opened any more (then rolled back: a ticket number the
        caller is about to hear must be in the database they will find)."""
        self.health.admit(write=True)
        async with self._watched(write=True):
            if self._write_gate is None:
                async with self._engine.begin() as conn:
                    yield conn
                    self.health.refuse_if_replaced()
                return
            async with self._write_gate, self._engine.begin() as conn:
                yield conn
                self.health.refuse_if_replaced()

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def tz(self) -> tzinfo:
        tz = self._clock.now().tzinfo
        assert tz is not None  # clocks give aware datetimes
        return tz

    async def migrate(self) -> None:
        """Create or upgrade the schema to the newest migration (keeps data)."""
        async with self._engine.begin() as conn:
            await conn.run_sync(_upgrade)

    async def is_empty(self) -> bool:
        async with self._engine.connect() as conn:
            return await conn.scalar(select(accounts.c.id).limit(1)) is None

    async def seed_demo_if_empty(self) -> bool:
        """Seed the small demo set into an empty database; True if it did."""
        if not await self.is_empty():
            return False
        from ivr.store.seed import seed

        await seed(self, n_accounts=DEMO_ACCOUNTS, seed=1)
        return True

    async def close(self) -> None:
        await self._engine.dispose()

    async def ping(self, *, write: bool = False) -> None:
        """One round trip: the breaker's probe when no call is making one. The write
        probe takes SQLite's write lock (and gives it back): what writes wait for."""
        if not write:
            async with self._read() as conn:
                await conn.execute(text("SELECT 1"))
            return
        async with self._write() as conn:
            if self.dialect == "sqlite":
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            await conn.execute(text("SELECT 1"))

    def database_health(self) -> dict[str, Any]:
        """``/healthz``'s view of the database: ``{"state": "ok"}`` or what is wrong."""
        return self.health.report()

    async def stats(self) -> dict[str, int]:
        async with self._engine.connect() as conn:
            return await queries.counts(conn)

    # -- CallStore -------------------------------------------------------------------

    async def save_call(self, record: CallRecord) -> None:
        async with self._write() as conn:
            await calls.save_call(conn, record)

    async def open_case(self, draft: CaseDraft) -> str:
        async with self._write() as conn:
            _row, code = await cases.open_case(conn, draft, self._clock.now())
        return code

    async def finish_transfer(self, case_id: str, result: TransferResult) -> None:
        async with self._write() as conn:
            await cases.finish_transfer(conn, case_id, result, self._clock.now())

    async def add_recording(self, case_id: str, call_id: str, file: str,
                            seconds: float) -> None:
        """Attach a recording to an open case (``ivr.engine.record.RecordingStore``)."""
        async with self._write() as conn:
            await cases.add_recording(conn, case_id, call_id, file, seconds,
                                      self._clock.now())

    async def get_recording(self, recording_id: int) -> dict[str, Any] | None:
        """A recording's file name (within the recordings directory) and its case."""
        async with self._read() as conn:
            return await cases.get_recording(conn, recording_id)

    # -- cases for the web app and the dispatcher ------------------------------------

    async def get_case(self, case_id: str) -> dict[str, Any] | None:
        async with self._read() as conn:
            return await cases.get_case(conn, case_id)

    async def list_cases(
        self,
        *,
        caller: str | None = None,
        account: str | None = None,
        queue: str | None = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        async with self._read() as conn:
            return await cases.list_cases(
                conn, caller=caller, account=account, queue=queue, limit=limit
            )

    async def update_case(
        self,
        case_id: str,
        *,
        notes: str | None = None,
        disposition: str | None = None,
        agent: str | None = None,
        status: str | None = None,
    ) -> dict[str, Any] | None:
        """Change the given fields; None if there is no such case."""
        given = {"notes": notes, "disposition": disposition, "agent": agent, "status": status}
        values: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        values["updated_at"] = self._clock.now()
        async with self._write() as conn:
            if not await cases.update_case(conn, case_id, values):
                return None
            return await cases.get_case(conn, case_id)

    async def add_case_event(
        self, case_id: str, event: str, *, agent: str | None = None, detail: str = ""
    ) -> None:
        """Append an event; ``ringing``/``connected``/``completed``/``caller_gone`` also
        move the case's status (and who has it). Raises ``UnknownCase`` for a bad id."""
        async with self._write() as conn:
            await cases.add_event(conn, case_id, event, agent, detail, self._clock.now())

    async def list_calls(self, *, limit: int = 50) -> list[dict[str, Any]]:
        async with self._read() as conn:
            return await calls.list_calls(conn, limit=limit)

    async def call_report(self, *, since: datetime) -> dict[str, Any]:
        """The supervisors' call report (JSON-ready) for calls started since ``since``."""
        async with self._read() as conn:
            return await calls.call_report(conn, since=since)

    # -- data behind the named lookups -------------------------------------------------

    async def accounts_for_phone(self, phone: str) -> list[dict[str, Any]]:
        async with self._read() as conn:
            return await queries.accounts_for_phone(conn, normalise_phone(phone))

    async def account_by_code(self, code: str) -> dict[str, Any] | None:
        async with self._read() as conn:
            found = await queries.account_by_code(conn, code)
        if found is None:
            return None
        return {
            "code": found["code"],
            "last4": found["code"][-4:],
            "name": found["name"],
            "address": found["address"],
            "area": found["area"],
            "corporation": found["corporation"],
        }

    async def phones_for_account(self, code: str) -> list[str]:
        async with self._read() as conn:
            return await queries.phones_for_account(conn, code)

    async def accounts_by_digits(self, digits: str) -> list[str]:
        async with self._read() as conn:
            return await queries.accounts_by_digits(conn, digits)

    async def balance(self, code: str) -> dict[str, Any] | None:
        async with self._read() as conn:
            return await queries.balance(conn, code)

    async def meter_reading(self, code: str) -> dict[str, Any] | None:
        async with self._read() as conn:
            return await queries.meter_reading(conn, code)

    async def outage_for_phone(self, phone: str) -> dict[str, Any] | None:
        """The outage now affecting any area where this number has an account."""
        async with self._read() as conn:
            area_ids = await queries.area_ids_for_phone(conn, normalise_phone(phone))
            found = await queries.outage_for_areas(
                conn, area_ids, self._clock.now(), self.tz, include_scheduled=False
            )
        return _public_outage(found)

    async def outage_for_area(self, name: str) -> dict[str, Any] | None:
        """The outage now (else next planned) in the areas whose name contains ``name``."""
        async with self._read() as conn:
            area_ids = await queries.area_ids_by_name(conn, name)
            found = await queries.outage_for_areas(
                conn, area_ids, self._clock.now(), self.tz, include_scheduled=True
            )
        return _public_outage(found)

    async def outage_for_account(self, code: str) -> dict[str, Any] | None:
        """The outage affecting the account's area now, else its next planned one."""
        async with self._read() as conn:
            found_account = await queries.account_by_code(conn, code)
            if found_account is None:
                return None
            found = await queries.outage_for_areas(
                conn,
                [found_account["area_id"]],
                self._clock.now(),
                self.tz,
                include_scheduled=True,
            )
        return _public_outage(found)

    async def report_outage(
        self, *, call_id: str, caller: str, account: str | None = None
    ) -> dict[str, Any]:
        async with self._write() as conn:
            return await requests.report_outage(
                conn,
                call_id=call_id,
                caller=normalise_phone(caller),
                account=account,
                now=self._clock.now(),
                tz=self.tz,
            )

    async def service_request(
        self, *, call_id: str, caller: str, kind: str, account: str | None = None
    ) -> str:
        async with self._write() as conn:
            return await requests.service_request(
                conn,
                call_id=call_id,
                caller=caller,
                kind=kind,
                account=account,
                now=self._clock.now(),
            )

    async def request_callback(
        self,
        *,
        call_id: str,
        caller: str,
        dialled: str,
        language: str,
        phone: str,
        reason: str,
        account: str | None = None,
    ) -> str:
        async with self._write() as conn:
            return await requests.request_callback(
                conn,
                call_id=call_id,
                caller=caller,
                dialled=dialled,
                language=language,
                phone=phone,
                reason=reason,
                account=account,
                now=self._clock.now(),
            )

    async def record_survey(self, *, call_id: str, caller: str, score: int) -> None:
        async with self._write() as conn:
            await requests.record_survey(
                conn, call_id=call_id, caller=caller, score=score, now=self._clock.now()
            )


def sqlite_file(url: URL) -> str | None:
    """The file behind a SQLite URL (None for PostgreSQL and in-memory databases)."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:"):
        return None
    return str(Path(database).expanduser())


def _follow_file_identity(engine: AsyncEngine, health: DatabaseHealth) -> None:
    """Remember the SQLite file the first connection opens; refuse a new connection
    once the path names another file or none (SQLite would create an empty database
    there, and the next start would seed it as a new site)."""
    identity = health.file
    assert identity is not None

    @event.listens_for(engine.sync_engine, "do_connect")
    def _check(_dialect: Any, _record: Any, _cargs: Any, _cparams: Any) -> None:
        if not health.file_is_ours():
            raise DatabaseFileReplaced(f"{health.replaced}: no new connection")

    @event.listens_for(engine.sync_engine, "connect")
    def _remember(_dbapi_conn: Any, _record: Any) -> None:
        identity.remember()


def _public_outage(found: dict[str, Any] | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {k: v for k, v in found.items() if k != "id"}
