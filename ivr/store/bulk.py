"""Bulk loading for the seeder: millions of rows without ORM objects.

SQLite gets ``executemany`` of plain tuples on the driver (no per-value type
processing); PostgreSQL gets ``COPY`` through asyncpg's ``copy_records_to_table``;
anything else falls back to SQLAlchemy Core ``executemany``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, insert, text
from sqlalchemy.ext.asyncio import AsyncConnection


async def load(
    conn: AsyncConnection,
    table: Table,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    *,
    schema: str | None = None,
) -> None:
    """Append ``rows`` (tuples in ``columns`` order) to ``table`` in the open transaction.

    Values must already be in the backend's native form: see :func:`native_dates`.
    """
    if not rows:
        return
    dialect = conn.dialect.name
    if dialect == "sqlite":
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
        await conn.exec_driver_sql(sql, rows)
    elif dialect == "postgresql":
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        await driver.copy_records_to_table(
            table.name, records=rows, columns=list(columns), schema_name=schema
        )
    else:
        await conn.execute(insert(table), [dict(zip(columns, r, strict=True)) for r in rows])


def native_dates(dialect: str) -> bool:
    """True if the backend's driver takes ``date`` objects; SQLite gets ISO strings."""
    return dialect != "sqlite"


async def fix_sequences(conn: AsyncConnection, tables: Sequence[Table]) -> None:
    """After loading explicit ids on PostgreSQL, move each id sequence past them."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        await conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608
                f"COALESCE((SELECT max(id) FROM {table.name}), 0) + 1, false)"
            )
        )


async def analyze(conn: AsyncConnection, tables: Sequence[Table]) -> None:
    """Refresh planner statistics after a bulk load.

    Without them PostgreSQL plans a phone lookup over a freshly loaded million rows as
    a parallel scan (7 ms instead of 1 ms) until autovacuum gets round to it.
    """
    if conn.dialect.name == "postgresql":
        # Only our tables: a bare ANALYZE would visit every schema in the database.
        await conn.execute(text(f"ANALYZE {', '.join(t.name for t in tables)}"))
    elif conn.dialect.name == "sqlite":
        # A bounded sample keeps this to a moment even at millions of rows.
        await conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        await conn.exec_driver_sql("ANALYZE")
