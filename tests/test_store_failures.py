"""A database that is down, locked or broken takes the flow's error/timeout branch.

No mocks: access is really stopped (a closed port, a table lock held by another
session, an exclusive SQLite lock from another connection, a file that is not a
database), and the store recovers once access comes back.
"""

from __future__ import annotations

import logging
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from store_helpers import NOW, Db

from ivr.calls import CaseDraft
from ivr.clock import FixedClock
from ivr.lookups import LookupContext, LookupStatus
from ivr.store import Store
from ivr.store.demo import OUTAGE, UNPAID
from ivr.store.health import DatabaseFileReplaced
from ivr.store.lookups import build_lookups
from ivr.store.seed import seed

pytest_plugins = ("store_fixtures",)

CTX = LookupContext(call_id="c-1", caller=UNPAID.phones[0], dialled="1900545454", language="vi")
EVERY_LOOKUP = {
    "accounts_for_caller": {},
    "outage_for_caller": {},
    "account_by_code": {"digits": UNPAID.code[2:], "prefix": "PE"},
    "balance": {"account": UNPAID.code},
    "meter_reading": {"account": UNPAID.code},
    "outage_for_account": {"account": UNPAID.code},
    "report_outage": {},
    "service_request": {"kind": "new_connection"},
    "request_callback": {"reason": "billing"},
    "record_survey": {"score": 3},
}


def closed_port() -> int:
    """A port nothing listens on (bound by us, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.postgres
async def test_postgres_down_every_action_takes_the_error_branch(postgres_url: str) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url).set(host="127.0.0.1", port=closed_port())
    store = await Store.open(url.render_as_string(hide_password=False), clock=FixedClock(NOW))
    try:
        registry = build_lookups(store)
        for name, inputs in EVERY_LOOKUP.items():
            result = await registry.run(name, inputs, CTX)
            assert result.status is LookupStatus.ERROR, name
            assert result.error.startswith(f"{name}: "), result.error
            assert "ConnectionRefusedError" in result.error, result.error
    finally:
        await store.close()


async def test_sqlite_file_that_is_not_a_database_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "ivr.db"
    path.write_bytes(b"this is not a database file" * 100)
    store = await Store.open(f"sqlite+aiosqlite:///{path}", clock=FixedClock(NOW))
    try:
        result = await build_lookups(store).run("balance", {"account": UNPAID.code}, CTX)
        assert result.status is LookupStatus.ERROR
        assert "not a database" in result.error
    finally:
        await store.close()


@pytest.mark.postgres
@pytest.mark.parametrize("db_target", ["postgres"], indirect=True)
async def test_postgres_locked_table_times_out_then_recovers(store: Store, db: Db) -> None:
    registry = build_lookups(store, read_timeout=0.3, write_timeout=0.3)
    locker = await db.open()
    try:
        async with locker.engine.connect() as conn:
            await conn.execute(text("LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE"))
            slow = await registry.run("balance", {"account": UNPAID.code}, CTX)
            assert slow.status is LookupStatus.TIMEOUT
            assert slow.error == "balance: no answer within 0.3s"
            report = await registry.run("report_outage", {"account": OUTAGE.code}, CTX)
            assert report.status is LookupStatus.TIMEOUT
            await conn.rollback()  # releases the lock
        again = await registry.run("balance", {"account": UNPAID.code}, CTX)
        assert again.status is LookupStatus.FOUND
    finally:
        await locker.close()


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Another process-style connection holding SQLite's write lock."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


async def _sqlite_store(tmp_path: Path, busy_timeout: float) -> tuple[Store, Path]:
    path = tmp_path / "ivr.db"
    store = await Store.open(
        f"sqlite+aiosqlite:///{path}", clock=FixedClock(NOW), busy_timeout=busy_timeout
    )
    await store.migrate()
    await seed(store, n_accounts=20, seed=1)
    return store, path


async def test_sqlite_write_lock_times_out_while_reads_go_on(tmp_path: Path) -> None:
    # A statement stuck inside SQLite only sees the cancellation when SQLite's own busy
    # wait ends, so the busy timeout bounds how long past its timeout an action can run:
    # the action answers while the lock is still held (how long that takes on this
    # machine is measured by bench/timing_budgets.py, not asserted here).
    store, path = await _sqlite_store(tmp_path, busy_timeout=0.5)
    registry = build_lookups(store, write_timeout=0.2)
    try:
        with exclusive_lock(path):
            report = await registry.run("report_outage", {"account": OUTAGE.code}, CTX)
            assert report.status is LookupStatus.TIMEOUT
            # WAL: readers are not blocked by the writer's lock.
            read = await registry.run("balance", {"account": UNPAID.code}, CTX)
            assert read.status is LookupStatus.FOUND
        later = await registry.run(
            "report_outage", {}, LookupContext("c-2", OUTAGE.phones[0], "1900545454", "vi")
        )
        assert later.status is LookupStatus.FOUND and later.value["linked_outage"] is True
    finally:
        await store.close()


async def test_sqlite_busy_database_is_an_error_when_the_busy_wait_runs_out(
    tmp_path: Path,
) -> None:
    store, path = await _sqlite_store(tmp_path, busy_timeout=0.1)
    registry = build_lookups(store)
    try:
        with exclusive_lock(path):
            result = await registry.run("record_survey", {"score": 5}, CTX)
            assert result.status is LookupStatus.ERROR
            assert "database is locked" in result.error
        assert (await registry.run("record_survey", {"score": 5}, CTX)).status is (
            LookupStatus.FOUND
        )
    finally:
        await store.close()


@pytest.mark.parametrize("how", ["deleted", "replaced"])
async def test_sqlite_file_deleted_or_replaced_refuses_writes_and_says_so_once(
    tmp_path: Path, how: str, caplog: pytest.LogCaptureFixture,
) -> None:
    # SQLite keeps writing to the file it opened: deleted, that file exists nowhere after
    # a restart, so a ticket number it stores must not be read out to a caller.
    store, path = await _sqlite_store(tmp_path, busy_timeout=0.5)
    registry = build_lookups(store)
    try:
        first = await registry.run("report_outage", {"account": OUTAGE.code}, CTX)
        assert first.status is LookupStatus.FOUND and store.database_health() == {"state": "ok"}
        if how == "deleted":
            path.unlink()
        else:
            other = tmp_path / "other.db"
            sqlite3.connect(other).close()
            other.replace(path)
        for n in range(3):
            ctx = LookupContext(f"c-gone-{n}", OUTAGE.phones[0], "1900545454", "vi")
            refused = await registry.run("report_outage", {}, ctx)
            assert refused.status is LookupStatus.ERROR
            assert f"was {how}" in refused.error, refused.error
        health = store.database_health()
        assert health["state"] == "file_replaced" and f"was {how}" in health["detail"]
        with pytest.raises(DatabaseFileReplaced):
            await store.open_case(_draft())
        # A new connection never opens whatever the path names now (a deleted file
        # would come back empty, and the next start would seed it as a new site).
        await store.drop_connections()
        with pytest.raises(DatabaseFileReplaced):
            await store.balance(UNPAID.code)
        assert path.exists() is (how == "replaced")
    finally:
        await store.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and f"{path} was {how}" in errors[0], errors


def _draft() -> CaseDraft:
    return CaseDraft(call_id="c-draft", caller=UNPAID.phones[0], dialled="1900545454",
                     language="vi", intent="billing", queue="agents", priority=5)
