"""Read-mostly data from memory: an outage declared or restored is heard by the next
caller, whoever wrote it; a call asks for its caller once. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from store_helpers import NOW, TEST_ACCOUNTS, Db

from ivr.lookups import LookupContext, LookupRegistry, LookupStatus
from ivr.store import Store
from ivr.store.cache import MAX_STALE
from ivr.store.demo import OUTAGE, UNPAID
from ivr.store.lookups import build_lookups
from ivr.store.seed import seed

pytest_plugins = ("store_fixtures",)

FOUND, NOT_FOUND = LookupStatus.FOUND, LookupStatus.NOT_FOUND


class Steps:
    """A monotonic clock the test moves by hand: the cache's staleness bound is stepped
    over, never slept through."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def steps() -> Steps:
    return Steps()


@pytest.fixture
async def cached(db: Db, steps: Steps) -> AsyncIterator[Store]:
    s = await db.open(monotonic=steps)
    await s.migrate()
    await seed(s, n_accounts=TEST_ACCOUNTS, seed=1)
    try:
        yield s
    finally:
        await s.close()


def ctx(call_id: str, caller: str = UNPAID.phones[0]) -> LookupContext:
    return LookupContext(call_id=call_id, caller=caller, dialled="1900545454", language="vi")


async def area_code(store: Store, account: str) -> str:
    async with store.engine.connect() as conn:
        found = await conn.scalar(
            text("SELECT areas.code FROM areas JOIN accounts ON accounts.area_id = areas.id "
                 "WHERE accounts.code = :code"), {"code": account})
    assert found is not None
    return str(found)


async def settled(store: Store) -> None:
    """The snapshot loaded and, on PostgreSQL, the listener connected (it connects in the
    background at first use, and drops the snapshot then: changes may have been missed)."""
    await store.read_mostly()
    if store.dialect == "postgresql":
        for _ in range(200):
            if store.cache_listening:
                break
            await asyncio.sleep(0.05)
    await store.read_mostly()


async def caller_hears(registry: LookupRegistry, call_id: str) -> LookupStatus:
    result = await registry.run("outage_for_caller", {}, ctx(call_id))
    assert result.status in (FOUND, NOT_FOUND), result.error
    return result.status


async def test_declared_then_restored_is_heard_by_the_next_caller(cached: Store) -> None:
    registry = build_lookups(cached)
    assert await caller_hears(registry, "before") is NOT_FOUND
    outage_id = await cached.declare_outage(
        area_code=await area_code(cached, UNPAID.code), cause="storm",
        started_at=NOW - timedelta(minutes=5), estimated_restore=NOW + timedelta(hours=3))
    found = await registry.run("outage_for_caller", {}, ctx("after-declared"))
    assert found.status is FOUND and found.value["cause"] == "storm"
    assert found.value["estimated_restore"] == NOW + timedelta(hours=3)
    by_account = await registry.run("outage_for_account", {"account": UNPAID.code}, ctx("a"))
    assert by_account.status is FOUND and by_account.value["cause"] == "storm"

    assert await cached.restore_outage(outage_id) is True
    assert await caller_hears(registry, "after-restored") is NOT_FOUND
    assert await cached.restore_outage(outage_id) is False  # not open any more


async def test_a_call_asks_for_its_caller_once_and_a_storm_loads_the_outages_once(
    cached: Store,
) -> None:
    registry = build_lookups(cached)
    statements: list[str] = []

    @event.listens_for(cached.sync_engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    await settled(cached)  # loaded before the storm
    loads = cached.cache_loads
    statements.clear()
    calls = 50
    for n in range(calls):
        call = ctx(f"storm-{n}", OUTAGE.phones[0])
        greeting = await registry.run("outage_for_caller", {}, call)
        assert greeting.status is FOUND, greeting.error
        chosen = await registry.run("accounts_for_caller", {}, call)
        assert chosen.status is FOUND and chosen.value["codes"] == [OUTAGE.code]
    by_phone = [s for s in statements if "account_phones" in s]
    assert len(by_phone) == calls  # one per call, not one per lookup
    assert not [s for s in statements if "FROM outages" in s]
    assert cached.cache_loads == loads


async def test_another_process_on_sqlite_is_heard_within_the_bound(
    cached: Store, db: Db, steps: Steps,
) -> None:
    if db.kind != "sqlite":
        pytest.skip("the PostgreSQL case is the NOTIFY test below")
    registry = build_lookups(cached)
    assert await caller_hears(registry, "first") is NOT_FOUND
    code = await area_code(cached, UNPAID.code)
    path = make_url(db.url).database
    started = (NOW - timedelta(minutes=5)).astimezone(UTC).replace(tzinfo=None)
    # A plain sqlite3 connection in another process, as an outage system would write.
    script = textwrap.dedent(f"""
        import sqlite3
        db = sqlite3.connect({path!r})
        db.execute("INSERT INTO outages (area_id, planned, cause, started_at, status) "
                   "SELECT id, 0, 'flood', ?, 'open' FROM areas WHERE code = ?",
                   ({started.isoformat(sep=' ')!r}, {code!r}))
        db.commit()
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    # Within the bound the snapshot may still be served (here: it is, the clock stands).
    assert await caller_hears(registry, "stale-allowed") is NOT_FOUND
    steps.t += MAX_STALE
    found = await registry.run("outage_for_caller", {}, ctx("after-bound"))
    assert found.status is FOUND and found.value["cause"] == "flood"

    subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import sqlite3
        db = sqlite3.connect({path!r})
        db.execute("UPDATE outages SET status = 'restored' WHERE cause = 'flood'")
        db.commit()
    """)], check=True, timeout=60)
    steps.t += MAX_STALE
    assert await caller_hears(registry, "restored") is NOT_FOUND


async def _until(registry: LookupRegistry, want: LookupStatus, what: str) -> None:
    """Ask as a new caller would until the answer changes (the NOTIFY travels on its own
    connection); fails after a generous bound, never asserts how long it took."""
    for n in range(200):
        if await caller_hears(registry, f"{what}-{n}") is want:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what}: the cache never heard the other process's change")


@pytest.mark.postgres
@pytest.mark.parametrize("db_target", ["postgres"], indirect=True)
async def test_another_process_on_postgres_is_heard_through_notify(
    cached: Store, db: Db,
) -> None:
    registry = build_lookups(cached)
    await settled(cached)
    assert cached.cache_listening
    assert await caller_hears(registry, "first") is NOT_FOUND
    code = await area_code(cached, UNPAID.code)
    dsn = make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)

    def other_process(sql: str) -> None:
        # The writer's search_path names public, not the test's schema: the trigger
        # must still find its version row and notify.
        script = textwrap.dedent(f"""
            import asyncio, asyncpg
            async def main():
                conn = await asyncpg.connect({dsn!r})
                await conn.execute({sql!r})
                await conn.close()
            asyncio.run(main())
        """)
        subprocess.run([sys.executable, "-c", script], check=True, timeout=60)

    # The monotonic clock stands still (steps): only the notification can tell the cache.
    other_process(
        f'INSERT INTO "{db.schema}".outages (area_id, planned, cause, started_at, status) '
        f"SELECT id, false, 'flood', '{(NOW - timedelta(minutes=5)).isoformat()}', 'open' "
        f"FROM \"{db.schema}\".areas WHERE code = '{code}'"
    )
    await _until(registry, FOUND, "declared")
    other_process(f"UPDATE \"{db.schema}\".outages SET status = 'restored' WHERE cause = 'flood'")
    await _until(registry, NOT_FOUND, "restored")
