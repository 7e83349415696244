"""Call records written in batches by one writer (group commit), and the upserts that
replaced DELETE+INSERT / UPDATE+INSERT pairs. SQLite and PostgreSQL.

The crash test: a child saves records from many concurrent "calls" and prints each
call id the moment ``save_call`` returns (the record acknowledged); the test SIGKILLs it
mid-stream and finds every acknowledged record in a freshly opened store.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from store_helpers import NOW, Db

from ivr.calls import CallRecord, Outcome
from ivr.store import Store
from ivr.store.batch import MAX_BATCH

pytest_plugins = ("store_fixtures",)

CHILD_ANSWER_TIMEOUT = 60


def record(call_id: str, **kw: Any) -> CallRecord:
    fields: dict[str, Any] = {
        "call_id": call_id, "flow": "hotline", "flow_version": "v7", "caller": "0901234567",
        "dialled": "1900545454", "language": "vi", "started_at": NOW,
        "ended_at": NOW + timedelta(seconds=30), "outcome": Outcome.SELF_SERVED,
        "path": [], "inputs": [], "lookups": [], "case_id": None, "transfer_queue": None,
        "transfer_status": None, "ivr_seconds": 30.0, "queue_seconds": 0.0, "error": "",
        "channel": "fastagi",
    }
    fields.update(kw)
    return CallRecord(**fields)


async def test_a_mass_hang_up_is_a_few_transactions_and_every_record_is_saved(
    store: Store,
) -> None:
    inserts: list[str] = []

    @event.listens_for(store.sync_engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO CALL_RECORDS"):
            inserts.append(statement)

    calls = 3 * MAX_BATCH // 2
    before = store.record_batches
    await asyncio.gather(*(store.save_call(record(f"hang-{n}")) for n in range(calls)))
    batches = store.record_batches - before
    assert 2 <= batches <= 4, batches  # at most MAX_BATCH per transaction, not one each
    assert len(inserts) == batches  # one statement per batch, many rows each
    assert (await store.stats())["call_records"] == calls


async def test_saving_a_call_again_replaces_it_in_one_upsert(store: Store) -> None:
    await store.save_call(record("again", outcome=Outcome.ABANDONED))
    # Two saves of one call in the same batch: the later wins.
    await asyncio.gather(store.save_call(record("again", error="first retry")),
                         store.save_call(record("again", error="second retry")))
    saved = [c for c in await store.list_calls() if c["call_id"] == "again"]
    assert len(saved) == 1
    assert saved[0]["outcome"] == "self_served" and saved[0]["error"] == "second retry"


async def test_a_survey_answered_again_replaces_the_score(store: Store) -> None:
    await store.record_survey(call_id="s-1", caller="0901234567", score=2)
    await store.record_survey(call_id="s-1", caller="0901234567", score=5)
    async with store.engine.connect() as conn:
        rows = (await conn.execute(
            text("SELECT score FROM survey_answers WHERE call_id = 's-1'"))).all()
    assert [r.score for r in rows] == [5]


async def test_a_failed_batch_fails_every_waiter_and_acknowledges_none(
    db: Db,
) -> None:
    if db.kind != "sqlite":
        pytest.skip("a write lock held by another connection is SQLite's failure")
    store = await db.open(busy_timeout=0.05)
    await store.migrate()
    path = make_url(db.url).database
    assert path is not None
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        results = await asyncio.gather(store.save_call(record("late-1")),
                                       store.save_call(record("late-2")),
                                       return_exceptions=True)
        other.execute("ROLLBACK")
        assert all(isinstance(r, Exception) for r in results), results
        assert all("database is locked" in str(r) for r in results), results
        assert (await store.stats())["call_records"] == 0
        await store.save_call(record("late-1"))  # the lock gone, the writer goes on
        assert (await store.stats())["call_records"] == 1
    finally:
        other.close()
        await store.close()


CHILD = """
import asyncio, os, sys
from datetime import timedelta
from ivr.calls import CallRecord, Outcome
from ivr.clock import clock_from_env
from ivr.store import Store

async def main(url, schema):
    clock = clock_from_env(os.environ)
    store = await Store.open(url, clock=clock, schema=schema or None)
    now = clock.now()

    async def call(n):
        record = CallRecord(f"kill-{n}", "hotline", "v7", "0901234567", "1900545454", "vi",
                            now, now + timedelta(seconds=30), Outcome.SELF_SERVED,
                            channel="fastagi")
        await store.save_call(record)
        print(record.call_id, flush=True)  # acknowledged: it must survive what follows

    n = 0
    while True:  # calls keep ending until we are killed
        await asyncio.gather(*(call(n + i) for i in range(97)))
        n += 97

asyncio.run(main(*sys.argv[1:]))
"""


@pytest.mark.dates
async def test_no_acknowledged_record_is_lost_on_sigkill(store: Store, db: Db) -> None:
    env = {**os.environ, "IVR_NOW": NOW.isoformat()}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, db.url, db.schema or "",
        stdout=asyncio.subprocess.PIPE, env=env,
    )
    acknowledged: list[str] = []
    try:
        assert child.stdout is not None
        while len(acknowledged) < 1000:
            line = await asyncio.wait_for(child.stdout.readline(), CHILD_ANSWER_TIMEOUT)
            assert line, "the child stopped"
            acknowledged.append(line.decode().strip())
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    assert child.returncode == -signal.SIGKILL
    reopened = await db.open()
    try:
        async with reopened.engine.connect() as conn:
            saved = {r.call_id for r in await conn.execute(
                text("SELECT call_id FROM call_records"))}
    finally:
        await reopened.close()
    assert set(acknowledged) <= saved
