"""Several web nodes on one PostgreSQL: a pop seen by one node reaches the agent whose
console is open on another, through LISTEN/NOTIFY on a dedicated connection."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from web_helpers import NOW, USERS, Inbox, open_case, open_seeded_store

from ivr.clock import FixedClock
from ivr.screenpop.directory import UserDirectory
from ivr.screenpop.dispatcher import Dispatcher
from ivr.screenpop.events import PopEvent, PopState
from ivr.screenpop.pgbus import PostgresPopBus
from ivr.screenpop.presence import Presence
from ivr.store import Store
from ivr.store.engine import asyncpg_dsn

pytestmark = pytest.mark.postgres
#: A hang guard, not a speed limit: NOTIFY can take longer on a busy machine.
POP_WAIT = 10.0


async def _ddl(url: str, sql: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


def node(store: Store, bus: PostgresPopBus) -> Dispatcher:
    """One web node's dispatcher."""
    return Dispatcher(Presence(UserDirectory(USERS)), store, FixedClock(NOW), bus=bus)


@pytest.fixture
async def pg_store(postgres_url: str) -> AsyncIterator[Store]:
    schema = f"ivr_web_{uuid.uuid4().hex[:10]}"
    await _ddl(postgres_url, f'CREATE SCHEMA "{schema}"')
    store = await open_seeded_store(postgres_url, schema=schema)
    try:
        yield store
    finally:
        await store.close()
        await _ddl(postgres_url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def test_a_pop_crosses_to_the_node_holding_the_agents_console(
    postgres_url: str, pg_store: Store
) -> None:
    dsn = asyncpg_dsn(postgres_url)
    assert dsn is not None and dsn.startswith("postgresql://")
    channel = f"ivr_pop_test_{uuid.uuid4().hex[:8]}"  # parallel runs never cross
    node_a = node(pg_store, PostgresPopBus(dsn, channel))
    node_b = node(pg_store, PostgresPopBus(dsn, channel))
    await node_a.start()
    await node_b.start()
    try:
        on_b, also_on_a = Inbox(), Inbox()
        node_b.presence.attach("agent1", on_b.send)
        node_a.presence.attach("agent2", also_on_a.send)
        case_id = await open_case(pg_store)
        assert await node_a.handle(PopEvent(PopState.RINGING, case_id, "Local/1001@agents"))
        pop = await on_b.next(timeout=POP_WAIT)
        assert (pop["state"], pop["agent"], pop["case"]["id"]) == ("ringing", "agent1", case_id)
        assert pop["case"]["account"] == "PE01000123456"
        # node A's own agent gets its pops through the same path, and only its own
        assert await node_a.handle(PopEvent(PopState.CONNECTED, case_id, "Local/1002@agents"))
        mine = await also_on_a.next(timeout=POP_WAIT)
        assert (mine["state"], mine["agent"]) == ("connected", "agent2")
        assert on_b.messages.empty()
        events = [e["event"] for e in (await pg_store.get_case(case_id))["events"]]
        assert events == ["opened", "ringing", "connected"]  # recorded once, not per node
        # a second node watching the same Asterisk publishes the same event: shown once
        await node_b.handle(PopEvent(PopState.CONNECTED, case_id, "Local/1002@agents"))
        await node_a.handle(PopEvent(PopState.COMPLETED, case_id, "Local/1002@agents"))
        assert (await also_on_a.next(timeout=POP_WAIT))["state"] == "completed"
    finally:
        await node_a.close()
        await node_b.close()


async def test_a_node_listens_again_after_its_connection_drops(
    postgres_url: str, pg_store: Store
) -> None:
    import asyncpg

    dsn = asyncpg_dsn(postgres_url)
    assert dsn is not None
    channel = f"ivr_pop_test_{uuid.uuid4().hex[:8]}"
    bus_b = PostgresPopBus(dsn, channel)
    node_a = node(pg_store, PostgresPopBus(dsn, channel))
    node_b = node(pg_store, bus_b)
    await node_a.start()
    await node_b.start()
    try:
        inbox = Inbox()
        node_b.presence.attach("agent1", inbox.send)
        admin = await asyncpg.connect(dsn)
        try:  # the database drops node B's listening connection (restart, failover)
            await admin.execute("SELECT pg_terminate_backend($1)",
                                bus_b.backend_pid())
        finally:
            await admin.close()
        await asyncio.wait_for(bus_b.reconnected.wait(), timeout=10)
        case_id = await open_case(pg_store)
        await node_a.handle(PopEvent(PopState.RINGING, case_id, "Local/1001@agents"))
        assert (await inbox.next(timeout=POP_WAIT))["case"]["id"] == case_id
    finally:
        await node_a.close()
        await node_b.close()


def test_only_postgresql_urls_get_a_bus() -> None:
    assert asyncpg_dsn("sqlite+aiosqlite:///var/ivr.db") is None
    assert asyncpg_dsn("postgresql+asyncpg://u:p@db:5432/ivr") == "postgresql://u:p@db:5432/ivr"


