"""Call records: one row per call, however it ended (reports read these)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ivr.calls import CallRecord
from ivr.store.convert import iso, jsonable
from ivr.store.models import call_records


async def save_call(conn: AsyncConnection, record: CallRecord) -> None:
    """Insert the record; saving the same call again replaces it (a retry is harmless)."""
    await conn.execute(delete(call_records).where(call_records.c.call_id == record.call_id))
    await conn.execute(
        insert(call_records).values(
            call_id=record.call_id,
            flow=record.flow,
            flow_version=record.flow_version,
            caller=record.caller,
            dialled=record.dialled,
            language=record.language,
            started_at=record.started_at,
            ended_at=record.ended_at,
            outcome=record.outcome.value,
            path=jsonable(record.path),
            inputs=jsonable(record.inputs),
            lookups=jsonable(record.lookups),
            case_id=record.case_id,
            transfer_queue=record.transfer_queue,
            transfer_status=record.transfer_status,
            ivr_seconds=record.ivr_seconds,
            queue_seconds=record.queue_seconds,
            total_seconds=record.total_seconds,
            error=record.error,
            channel=record.channel,
        )
    )


async def list_calls(conn: AsyncConnection, *, limit: int) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(call_records)
        .order_by(call_records.c.started_at.desc(), call_records.c.id.desc())
        .limit(limit)
    )
    result = []
    for row in rows:
        item: dict[str, Any] = dict(row._mapping)
        item.pop("id")
        item["started_at"] = iso(item["started_at"])
        item["ended_at"] = iso(item["ended_at"])
        result.append(item)
    return result
