"""Published versions of the flows and prompts (``flow_versions``): the history a
supervisor reads, diffs and rolls back to. The live version is the newest row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.engine import RowMapping

from ivr.store.convert import iso
from ivr.store.models import flow_versions

#: Rows the history returns at most: years of publishing, and a page that stays small.
MAX_HISTORY = 500


def _summary(row: RowMapping) -> dict[str, Any]:
    return {
        "version": row["version"],
        "published_at": iso(row["published_at"]),
        "published_by": row["published_by"],
        "note": row["note"],
        "rollback_of": row["rollback_of"],
        "entry": row["id"],
    }


def add(conn: Connection, *, version: str, flows: str, prompts: str | None,
              by: str, note: str, rollback_of: str | None, now: datetime) -> dict[str, Any]:
    result = conn.execute(insert(flow_versions).values(
        version=version, flows=flows, prompts=prompts, published_at=now, published_by=by,
        note=note, rollback_of=rollback_of))
    (entry,) = result.inserted_primary_key or (None,)
    return {"version": version, "published_at": iso(now), "published_by": by, "note": note,
            "rollback_of": rollback_of, "entry": entry}


def history(conn: Connection, *, limit: int = MAX_HISTORY) -> list[dict[str, Any]]:
    """Newest first, without the texts."""
    cols = [flow_versions.c[n] for n in
            ("id", "version", "published_at", "published_by", "note", "rollback_of")]
    rows = conn.execute(
        select(*cols).order_by(flow_versions.c.id.desc()).limit(min(limit, MAX_HISTORY)))
    return [_summary(r) for r in rows.mappings()]


def get(conn: Connection, version: str) -> dict[str, Any] | None:
    """The newest entry for ``version``, with its texts."""
    row = (conn.execute(
        select(flow_versions).where(flow_versions.c.version == version)
        .order_by(flow_versions.c.id.desc()).limit(1))).mappings().first()
    if row is None:
        return None
    return {**_summary(row), "flows": row["flows"], "prompts": row["prompts"]}


def live(conn: Connection) -> dict[str, Any] | None:
    """The newest entry (the version that went live last), with its texts."""
    row = (conn.execute(
        select(flow_versions).order_by(flow_versions.c.id.desc()).limit(1))).mappings().first()
    if row is None:
        return None
    return {**_summary(row), "flows": row["flows"], "prompts": row["prompts"]}
