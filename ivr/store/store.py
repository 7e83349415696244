"""The store: the one object in ``ivr`` that talks to the database.

Every method hands all its statements to the backend in one piece (one hop to the
SQLite database thread, one greenlet hop over asyncpg: :mod:`ivr.store.backend`); every
write commits before it returns (a ticket or case id the caller hears survives a crash).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event, insert, select, text, update
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.calls import CallRecord, CaseDraft, NodeTraffic
from ivr.channels.channel import TransferResult
from ivr.clock import Clock, SystemClock
from ivr.store import calls, cases, queries, reports, requests, traffic, versions
from ivr.store.backend import AsyncBackend, Backend, SqliteBackend, T, Work
from ivr.store.batch import GroupCommit
from ivr.store.cache import ReadMostly, ReadMostlyCache
from ivr.store.convert import normalise_phone
from ivr.store.engine import (
    DEFAULT_BUSY_TIMEOUT,
    asyncpg_dsn,
    make_engine,
    make_sqlite_sync_engine,
)
from ivr.store.health import (
    DatabaseFileReplaced,
    DatabaseHealth,
    FileIdentity,
    describe_db_error,
    is_database_failure,
)
from ivr.store.models import accounts, areas, outages

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

#: Calls whose caller's accounts are remembered (one query per call): more than the
#: calls one process holds at once; the oldest is forgotten first (asked again if needed).
CALLERS_REMEMBERED = 20_000

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
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self.schema = schema
        self._db: Backend
        if engine.dialect.name == "sqlite":
            # The store's own methods run on a synchronous engine in its database
            # threads; the async engine is left to migrations, the seeder and tests.
            sync = make_sqlite_sync_engine(engine.url, busy_timeout=busy_timeout)
            self._db = SqliteBackend(sync)
            self._db_engine: Engine = sync
        else:
            self._db = AsyncBackend(engine)
            self._db_engine = engine.sync_engine
        path = sqlite_file(engine.url)
        self.health = DatabaseHealth(
            engine.url.render_as_string(hide_password=True),
            now=monotonic,
            file=FileIdentity(path) if path else None,
        )
        if path:
            _follow_file_identity(engine.sync_engine, self.health)
            _follow_file_identity(self._db_engine, self.health)
        self._records: GroupCommit[CallRecord] = GroupCommit(self._save_calls)
        self._callers: OrderedDict[tuple[str, str], list[dict[str, Any]]] = OrderedDict()
        self._cache = ReadMostlyCache(
            self._read,
            monotonic=monotonic,
            listen_dsn=asyncpg_dsn(engine.url.render_as_string(hide_password=False)),
            schema=schema,
        )

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
        return cls(engine, clock or SystemClock(), schema=schema, monotonic=monotonic,
                   busy_timeout=busy_timeout)

    def _failed(self, exc: BaseException, *, write: bool) -> None:
        """Tell the circuit breaker how an operation that raised went. A cancellation is
        the caller's timeout running out (a lookup's, the record save's): the database
        did not answer in time."""
        breaker = self.health.breaker(write=write)
        if isinstance(exc, asyncio.CancelledError):
            breaker.failed("no answer in time")
        elif is_database_failure(exc):
            breaker.failed(describe_db_error(exc))
        else:  # the database answered; the operation itself said no
            breaker.answered()

    async def _read(self, work: Work[T]) -> T:
        """Run a read (one hop); refused at once while the database is known down."""
        self.health.admit()
        try:
            result = await self._db.read(work)
        except BaseException as exc:
            self._failed(exc, write=False)
            raise
        self.health.reads.answered()
        return result

    async def _write(self, work: Work[T]) -> T:
        """Run a write in one transaction (one hop), committed before this returns,
        unless the SQLite file is not the one we opened any more (then rolled back: a
        ticket number the caller is about to hear must be in the database they will
        find)."""
        self.health.admit(write=True)
        try:
            result = await self._db.write(work, self.health.refuse_if_replaced)
        except BaseException as exc:
            self._failed(exc, write=True)
            raise
        self.health.writes.answered()
        return result

    @property
    def engine(self) -> AsyncEngine:
        """The async engine: migrations, the seeder, ad-hoc reads (``ivr db``, tests)."""
        return self._engine

    @property
    def sync_engine(self) -> Engine:
        """The engine the store's own methods run their statements on (for event hooks:
        tests count statements and connection attempts here)."""
        return self._db_engine

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
        return await self._db.read(_no_accounts)

    async def close(self) -> None:
        await self._records.close()
        await self._cache.close()
        await self._db.close()
        await self._engine.dispose()

    async def ping(self, *, write: bool = False) -> None:
        """One round trip: the breaker's probe when no call is making one. The write
        probe takes SQLite's write lock (and gives it back): what writes wait for."""
        if not write:
            await self._read(_select_one)
            return
        await self._write(_select_one)

    def database_health(self) -> dict[str, Any]:
        """``/healthz``'s view of the database: ``{"state": "ok"}`` or what is wrong."""
        return self.health.report()

    async def stats(self) -> dict[str, int]:
        return await self._db.read(queries.counts)

    async def drop_connections(self) -> None:
        """Close the open connections (the next operation opens a new one, which the
        file identity check may refuse)."""
        await self._db.drop_connections()
        await self._engine.dispose()

    # -- CallStore -------------------------------------------------------------------

    async def save_call(self, record: CallRecord) -> None:
        """Returns once the record is committed: in a batch with the records of the
        calls that ended meanwhile (:mod:`ivr.store.batch`), one transaction for all."""
        await self._records.submit(record)

    async def _save_calls(self, records: list[CallRecord]) -> None:
        await self._write(lambda conn: calls.save_calls(conn, records))

    @property
    def record_batches(self) -> int:
        """Transactions that wrote call records so far (tests, benchmarks)."""
        return self._records.batches

    async def open_case(self, draft: CaseDraft) -> str:
        now = self._clock.now()
        _row, code = await self._write(lambda conn: cases.open_case(conn, draft, now))
        return code

    async def finish_transfer(self, case_id: str, result: TransferResult) -> None:
        now = self._clock.now()
        await self._write(lambda conn: cases.finish_transfer(conn, case_id, result, now))

    async def add_recording(self, case_id: str, call_id: str, file: str,
                            seconds: float) -> None:
        """Attach a recording to an open case (``ivr.engine.record.RecordingStore``)."""
        now = self._clock.now()
        await self._write(lambda conn: cases.add_recording(conn, case_id, call_id, file,
                                                           seconds, now))

    async def get_recording(self, recording_id: int) -> dict[str, Any] | None:
        """A recording's file name (within the recordings directory) and its case."""
        return await self._read(lambda conn: cases.get_recording(conn, recording_id))

    # -- cases for the web app and the dispatcher ------------------------------------

    async def get_case(self, case_id: str) -> dict[str, Any] | None:
        return await self._read(lambda conn: cases.get_case(conn, case_id))

    async def list_cases(
        self,
        *,
        caller: str | None = None,
        account: str | None = None,
        queue: str | None = None,
        limit: int = 50,
        synthetic: bool = False,
    ) -> list[dict[str, Any]]:
        """The newest cases; load-test ones (``synthetic``) only when asked."""
        return await self._read(
            lambda conn: cases.list_cases(
                conn, caller=caller, account=account, queue=queue, limit=limit,
                synthetic=synthetic,
            )
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

        def work(conn: Connection) -> dict[str, Any] | None:
            if not cases.update_case(conn, case_id, values):
                return None
            return cases.get_case(conn, case_id)

        return await self._write(work)

    async def add_case_event(
        self, case_id: str, event: str, *, agent: str | None = None, detail: str = ""
    ) -> None:
        """Append an event; ``ringing``/``connected``/``completed``/``caller_gone`` also
        move the case's status (and who has it). Raises ``UnknownCase`` for a bad id."""
        now = self._clock.now()
        await self._write(lambda conn: cases.add_event(conn, case_id, event, agent, detail, now))

    async def list_calls(self, *, limit: int = 50,
                         synthetic: bool = False) -> list[dict[str, Any]]:
        """The newest call records; load-test calls (``synthetic``) only when asked."""
        return await self._read(lambda conn: calls.list_calls(conn, limit=limit,
                                                              synthetic=synthetic))

    async def call_report(self, *, since: datetime,
                          until: datetime | None = None,
                          synthetic: bool = False) -> dict[str, Any]:
        """The supervisors' call report (JSON-ready) for calls started in
        ``[since, until)`` (``until`` None: up to now); load-test calls count only with
        ``synthetic=True``."""
        return await self._read(lambda conn: calls.call_report(
            conn, since=since, until=until, synthetic=synthetic))

    async def report(self, name: str, *, since: datetime, until: datetime,
                     survey_questions: frozenset[tuple[str, str]] = frozenset(),
                     synthetic: bool = False) -> dict[str, Any]:
        """One of the supervisor's period reports, JSON-ready (one read, one hop).
        ``survey_questions``: the ``(flow, node)`` of the survey question, for
        ``survey_calls``, whose rows the web layer reads against the flows; load-test
        calls and cases count only with ``synthetic=True``."""
        now = self._clock.now()

        def work(conn: Connection) -> dict[str, Any]:
            if name == "transfers":
                return {"by_reason": reports.transfers_by_reason(conn, since, until, synthetic)}
            if name == "survey_calls":
                return reports.survey_calls(conn, since, until, survey_questions, synthetic)
            if name == "agents":
                return reports.agents(conn, since, until)
            if name == "outages":
                return reports.outage_reports_by_outage(conn, since, until)
            if name == "callbacks":
                return reports.callbacks(conn, since, until, now)
            raise ValueError(f"no report named {name!r}")

        return await self._read(work)

    async def node_traffic(self, flow: str, *, since: datetime) -> NodeTraffic:
        """Per-node figures of ``flow`` (the flow graph) for calls started since ``since``."""
        return await self._read(lambda conn: traffic.node_traffic(conn, flow, since=since))

    # -- data behind the named lookups -------------------------------------------------

    async def _caller_accounts(self, phone: str, call_id: str | None) -> list[dict[str, Any]]:
        """The caller's accounts (with their areas), asked once per call: the greeting's
        outage check and the account choice after it share one query."""
        number = normalise_phone(phone)
        if not call_id:
            return await self._read(lambda conn: queries.caller_accounts(conn, number))
        key = (call_id, number)
        found = self._callers.get(key)
        if found is None:
            found = await self._read(lambda conn: queries.caller_accounts(conn, number))
            self._callers[key] = found
            if len(self._callers) > CALLERS_REMEMBERED:
                self._callers.popitem(last=False)
        return found

    async def read_mostly(self) -> ReadMostly:
        """The cached outages, area names and prefixes (:mod:`ivr.store.cache`)."""
        self.health.admit()
        return await self._cache.get()

    @property
    def cache_loads(self) -> int:
        """Snapshots of the read-mostly data loaded so far (tests, benchmarks)."""
        return self._cache.loads

    @property
    def cache_listening(self) -> bool:
        """True while PostgreSQL notifies this store of changes to the cached tables."""
        return self._cache.listening

    async def accounts_for_phone(
        self, phone: str, *, call_id: str | None = None
    ) -> list[dict[str, Any]]:
        return [
            queries.account_summary(a["code"], a["name"], a["area"])
            for a in await self._caller_accounts(phone, call_id)
        ]

    async def account_by_code(self, code: str) -> dict[str, Any] | None:
        found = await self._read(lambda conn: queries.account_by_code(conn, code))
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
        return await self._read(lambda conn: queries.phones_for_account(conn, code))

    async def accounts_by_digits(self, digits: str) -> list[str]:
        prefixes = (await self.read_mostly()).prefixes
        return await self._read(lambda conn: queries.accounts_by_digits(conn, digits, prefixes))

    async def balance(self, code: str) -> dict[str, Any] | None:
        return await self._read(lambda conn: queries.balance(conn, code))

    async def meter_reading(self, code: str) -> dict[str, Any] | None:
        return await self._read(lambda conn: queries.meter_reading(conn, code))

    async def outage_for_phone(
        self, phone: str, *, call_id: str | None = None
    ) -> dict[str, Any] | None:
        """The outage now affecting any area where this number has an account."""
        area_ids = sorted({a["area_id"] for a in await self._caller_accounts(phone, call_id)})
        if not area_ids:
            return None
        snap = await self.read_mostly()
        return _public_outage(
            snap.outage_for_areas(area_ids, self._clock.now(), self.tz, include_scheduled=False)
        )

    async def outage_for_area(self, name: str) -> dict[str, Any] | None:
        """The outage now (else next planned) in the areas whose name contains ``name``."""
        snap = await self.read_mostly()
        area_ids = snap.area_ids_by_name(name)
        return _public_outage(
            snap.outage_for_areas(area_ids, self._clock.now(), self.tz, include_scheduled=True)
        )

    async def outage_for_account(self, code: str) -> dict[str, Any] | None:
        """The outage affecting the account's area now, else its next planned one."""
        area_id = await self._read(lambda conn: queries.area_of_account(conn, code))
        if area_id is None:
            return None
        snap = await self.read_mostly()
        return _public_outage(
            snap.outage_for_areas([area_id], self._clock.now(), self.tz, include_scheduled=True)
        )

    # -- outages declared and restored (the cache follows at once) --------------------

    async def declare_outage(
        self,
        *,
        area_code: str,
        cause: str,
        started_at: datetime,
        estimated_restore: datetime | None = None,
        planned: bool = False,
    ) -> int:
        """Record an outage (active from ``started_at``, or planned ahead); its id. The
        next caller from the area hears it. Raises ``KeyError`` for an unknown area."""

        def work(conn: Connection) -> int:
            area_id = conn.scalar(select(areas.c.id).where(areas.c.code == area_code))
            if area_id is None:
                raise KeyError(f"no area {area_code!r}")
            row_id = conn.scalar(
                insert(outages)
                .values(area_id=area_id, planned=planned, cause=cause, started_at=started_at,
                        estimated_restore=estimated_restore, status=queries.OPEN)
                .returning(outages.c.id)
            )
            assert row_id is not None
            return int(row_id)

        try:
            return await self._write(work)
        finally:
            self._cache.invalidate()  # even after a failure: the commit may have happened

    async def restore_outage(self, outage_id: int, *, status: str = "restored") -> bool:
        """Mark an open outage restored (or ``cancelled``); False if none was open."""

        def work(conn: Connection) -> bool:
            changed = conn.execute(
                update(outages)
                .where(outages.c.id == outage_id, outages.c.status == queries.OPEN)
                .values(status=status)
            )
            return bool(changed.rowcount)

        try:
            return await self._write(work)
        finally:
            self._cache.invalidate()

    async def report_outage(
        self, *, call_id: str, caller: str, account: str | None = None
    ) -> dict[str, Any]:
        number, now, tz = normalise_phone(caller), self._clock.now(), self.tz
        return await self._write(
            lambda conn: requests.report_outage(
                conn, call_id=call_id, caller=number, account=account, now=now, tz=tz
            )
        )

    async def service_request(
        self, *, call_id: str, caller: str, kind: str, account: str | None = None
    ) -> str:
        now = self._clock.now()
        return await self._write(
            lambda conn: requests.service_request(
                conn, call_id=call_id, caller=caller, kind=kind, account=account, now=now
            )
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
        now = self._clock.now()
        return await self._write(
            lambda conn: requests.request_callback(
                conn,
                call_id=call_id,
                caller=caller,
                dialled=dialled,
                language=language,
                phone=phone,
                reason=reason,
                account=account,
                now=now,
            )
        )

    async def record_survey(self, *, call_id: str, caller: str, score: int) -> None:
        now = self._clock.now()
        await self._write(
            lambda conn: requests.record_survey(
                conn, call_id=call_id, caller=caller, score=score, now=now
            )
        )

    # -- published versions of the flows and prompts (issue 13) ----------------------

    async def add_flow_version(self, *, version: str, flows: str, prompts: str | None,
                               by: str, note: str = "",
                               rollback_of: str | None = None) -> dict[str, Any]:
        """Record that ``version`` went live (committed before the caller says so)."""
        now = self._clock.now()
        return await self._write(lambda conn: versions.add(
            conn, version=version, flows=flows, prompts=prompts, by=by, note=note,
            rollback_of=rollback_of, now=now))

    async def flow_versions(self, *, limit: int = versions.MAX_HISTORY) -> list[dict[str, Any]]:
        """The history, newest first (without the texts)."""
        return await self._read(lambda conn: versions.history(conn, limit=limit))

    async def flow_version(self, version: str) -> dict[str, Any] | None:
        """One version with its flows and prompts texts (its newest entry), or None."""
        return await self._read(lambda conn: versions.get(conn, version))

    async def live_flow_version(self) -> dict[str, Any] | None:
        """The entry that went live last, with its texts; None before the first."""
        return await self._read(versions.live)


def _no_accounts(conn: Connection) -> bool:
    return conn.scalar(select(accounts.c.id).limit(1)) is None


def _select_one(conn: Connection) -> None:
    conn.execute(text("SELECT 1"))


def sqlite_file(url: URL) -> str | None:
    """The file behind a SQLite URL (None for PostgreSQL and in-memory databases)."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:"):
        return None
    return str(Path(database).expanduser())


def _follow_file_identity(engine: Engine, health: DatabaseHealth) -> None:
    """Remember the SQLite file the first connection opens; refuse a new connection
    once the path names another file or none (SQLite would create an empty database
    there, and the next start would seed it as a new site)."""
    identity = health.file
    assert identity is not None

    @event.listens_for(engine, "do_connect")
    def _check(_dialect: Any, _record: Any, _cargs: Any, _cparams: Any) -> None:
        if not health.file_is_ours():
            raise DatabaseFileReplaced(f"{health.replaced}: no new connection")

    @event.listens_for(engine, "connect")
    def _remember(_dbapi_conn: Any, _record: Any) -> None:
        identity.remember()


def _public_outage(found: dict[str, Any] | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {k: v for k, v in found.items() if k != "id"}
