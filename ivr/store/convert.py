"""Small conversions at the store's edge: phone numbers, ISO dates.

JSON-ready values are :func:`ivr.calls.jsonable` (the engine needs them too)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

#: Vietnam's country code; callers arrive as +84..., 84... or 0... depending on the trunk.
COUNTRY_CODE = "84"


def normalise_phone(raw: str) -> str:
    """The national form we store: ``+84901234567``, ``84901234567``, ``0901234567`` and
    ``901234567`` all become ``0901234567``. Non-digits are dropped; an input with no
    digits gives ``""``."""
    digits = "".join(ch for ch in raw if ch.isdigit())
    if raw.strip().startswith("00"):  # international prefix dialled from a desk phone
        digits = digits[2:]
    if digits.startswith(COUNTRY_CODE) and len(digits) >= 11:
        return "0" + digits[len(COUNTRY_CODE) :]
    if digits and digits[0] not in "01" and len(digits) in (9, 10):
        # Some trunks drop the trunk prefix 0; 1800/1900 service numbers have none.
        return "0" + digits
    return digits


def iso(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


def upsert(conn: Connection, table: Table) -> Any:
    """The dialect's ``INSERT`` that takes ``ON CONFLICT`` (SQLite and PostgreSQL both
    have it, with the same SQLAlchemy spelling): one statement where a DELETE+INSERT or
    UPDATE+INSERT pair would be two round trips and a window for a duplicate."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for {conn.dialect.name}")
