"""Fixtures for the store tests: a seeded store on SQLite and on PostgreSQL.

PostgreSQL tests each get their own schema (``ivr_test_<session>_<n>``), dropped at the
end, so parallel runs on one database never see each other's rows.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from store_helpers import TEST_ACCOUNTS, Db

from ivr.store import Store
from ivr.store.seed import seed

_SESSION = uuid.uuid4().hex[:8]
_counter = itertools.count(1)


async def _create_schema(url: str, schema: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    finally:
        await engine.dispose()


async def _drop_schema(url: str, schema: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> Db:
    """Where the database lives (sync: ``postgres_url`` runs its own event loop)."""
    if request.param == "sqlite":
        return Db("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'var' / 'ivr.db'}")
    url = request.getfixturevalue("postgres_url")
    return Db("postgres", url, f"ivr_test_{_SESSION}_{next(_counter)}")


@pytest.fixture
async def db(db_target: Db) -> AsyncIterator[Db]:
    """An empty database on each backend (a fresh schema on PostgreSQL)."""
    if db_target.schema is None:
        yield db_target
        return
    await _create_schema(db_target.url, db_target.schema)
    try:
        yield db_target
    finally:
        await _drop_schema(db_target.url, db_target.schema)


@pytest.fixture
async def store(db: Db) -> AsyncIterator[Store]:
    """A migrated store holding the demo accounts and a few random ones."""
    s = await db.open()
    await s.migrate()
    await seed(s, n_accounts=TEST_ACCOUNTS, seed=1)
    try:
        yield s
    finally:
        await s.close()
