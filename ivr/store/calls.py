"""Call records: one row per call, however it ended (reports read these)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, String, and_, cast, func, or_, select, true

from ivr.calls import CallRecord, Outcome, jsonable
from ivr.store.convert import iso, upsert
from ivr.store.models import call_records


def _record_values(record: CallRecord) -> dict[str, Any]:
    return {
        "call_id": record.call_id,
        "flow": record.flow,
        "flow_version": record.flow_version,
        "caller": record.caller,
        "dialled": record.dialled,
        "language": record.language,
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "outcome": record.outcome.value,
        "path": jsonable(record.path),
        "inputs": jsonable(record.inputs),
        "lookups": jsonable(record.lookups),
        "case_id": record.case_id,
        "transfer_queue": record.transfer_queue,
        "transfer_status": record.transfer_status,
        "ivr_seconds": record.ivr_seconds,
        "queue_seconds": record.queue_seconds,
        "total_seconds": record.total_seconds,
        "error": record.error,
        "channel": record.channel,
        "synthetic": record.synthetic,
    }


def save_calls(conn: Connection, records: Sequence[CallRecord]) -> None:
    """Upsert the records in one statement per batch; saving the same call again
    replaces it (a retry, a replayed spill file are harmless). Within one batch the
    last record of a call wins."""
    latest = {r.call_id: r for r in records}
    if not latest:
        return
    rows = [_record_values(r) for r in latest.values()]
    statement = upsert(conn, call_records)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[call_records.c.call_id],
            set_={name: statement.excluded[name] for name in rows[0] if name != "call_id"},
        ),
        rows,
    )


def save_call(conn: Connection, record: CallRecord) -> None:
    save_calls(conn, [record])


def counted(synthetic: bool) -> ColumnElement[bool]:
    """Which call records a report counts: load-test calls only when asked."""
    return true() if synthetic else call_records.c.synthetic.is_(False)


def list_calls(conn: Connection, *, limit: int,
               synthetic: bool = False) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(call_records)
        .where(counted(synthetic))
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


#: Outcomes the call report counts, in the order it lists them.
REPORT_OUTCOMES = tuple(o.value for o in Outcome)
#: How many drop-off nodes and failing actions the report names.
REPORT_TOP = 10
#: The last node of a path and a lookup's status live inside JSON columns, and reading
#: JSON in SQL differs between SQLite and PostgreSQL; so those two parts are counted in
#: Python over at most this many rows (the newest), already narrowed in SQL to abandoned
#: calls / calls with a failed lookup. The report says when it hit the bound.
REPORT_ROW_LIMIT = 5000
_FAILED_LOOKUP = ("error", "timeout")


def call_report(conn: Connection, *, since: datetime,
                until: datetime | None = None,
                synthetic: bool = False) -> dict[str, Any]:
    """Totals by outcome, containment, mean duration, where abandoned callers were and
    which lookups failed, over calls that started at or after ``since`` (and before
    ``until``, when given; load-test calls only with ``synthetic``)."""
    in_window = and_(call_records.c.started_at >= since, counted(synthetic))
    if until is not None:
        in_window = and_(in_window, call_records.c.started_at < until)
    rows = conn.execute(
        select(call_records.c.outcome, func.count(), func.sum(call_records.c.total_seconds))
        .where(in_window)
        .group_by(call_records.c.outcome)
    )
    outcomes = dict.fromkeys(REPORT_OUTCOMES, 0)
    total, seconds = 0, 0.0
    for outcome, count, summed in rows:
        outcomes[str(outcome)] = outcomes.get(str(outcome), 0) + int(count)
        total += int(count)
        seconds += float(summed or 0.0)
    return {
        "since": iso(since),
        "synthetic": "include" if synthetic else "exclude",
        "total": total,
        "outcomes": outcomes,
        "containment_rate": outcomes["self_served"] / total if total else None,
        "average_seconds": round(seconds / total, 1) if total else None,
        "drop_off": _drop_off(conn, in_window),
        "failed_lookups": _failed_lookups(conn, in_window),
    }


def _drop_off(conn: Connection, in_window: ColumnElement[bool]) -> dict[str, Any]:
    """Abandoned calls by the last node on their path (where the caller hung up)."""
    rows = (conn.execute(
        select(call_records.c.path)
        .where(in_window, call_records.c.outcome == Outcome.ABANDONED.value)
        .order_by(call_records.c.started_at.desc())
        .limit(REPORT_ROW_LIMIT)
    )).all()
    nodes: Counter[tuple[str, str]] = Counter()
    for (path,) in rows:
        last = path[-1] if isinstance(path, list) and path else {}
        # A caller gone before the first node (no path) shows as an empty node name.
        nodes[(str(last.get("flow", "")), str(last.get("node", "")))] += 1
    ranked = sorted(nodes.items(), key=lambda item: (-item[1], item[0]))  # ties: by name
    return {
        "nodes": [{"flow": flow, "node": node, "calls": n}
                  for (flow, node), n in ranked[:REPORT_TOP]],
        "calls_examined": len(rows),
        "limited": len(rows) >= REPORT_ROW_LIMIT,
    }


def _failed_lookups(conn: Connection, in_window: ColumnElement[bool]) -> dict[str, Any]:
    """Lookups that ended in error or timeout, by action."""
    text_of = cast(call_records.c.lookups, String)
    # A cheap textual pre-filter (a superset: JSON spacing differs by serializer); the
    # statuses are checked exactly below.
    maybe_failed = or_(text_of.like('%"timeout"%'), text_of.like('%"status": "error"%'),
                       text_of.like('%"status":"error"%'))
    rows = (conn.execute(
        select(call_records.c.lookups)
        .where(in_window, maybe_failed)
        .order_by(call_records.c.started_at.desc())
        .limit(REPORT_ROW_LIMIT)
    )).all()
    failed: dict[str, Counter[str]] = {}
    for (lookups,) in rows:
        for step in lookups if isinstance(lookups, list) else ():
            status = step.get("status") if isinstance(step, dict) else None
            if status in _FAILED_LOOKUP:
                failed.setdefault(str(step.get("action", "")), Counter())[str(status)] += 1
    ranked = sorted(failed.items(), key=lambda item: (-item[1].total(), item[0]))
    return {
        "actions": [{"action": action, "error": c["error"], "timeout": c["timeout"],
                     "total": c.total()} for action, c in ranked[:REPORT_TOP]],
        "calls_examined": len(rows),
        "limited": len(rows) >= REPORT_ROW_LIMIT,
    }
