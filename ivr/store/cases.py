"""Cases: what an agent sees on screen, and what happened to the handover.

Case ids are human-friendly (``C-2026-000123``): the year the case opened and the
database's own row id, so several servers writing to one PostgreSQL never collide.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.engine import Row

from ivr.calls import CaseDraft, jsonable
from ivr.channels.channel import TransferResult, TransferStatus
from ivr.errors import IvrError
from ivr.store.convert import iso
from ivr.store.models import case_events, cases, recordings

#: Status of a case from the moment the IVR hands it over.
QUEUED = "queued"

#: Case events that move the case's status (and who has it) along.
EVENT_STATUS = {
    "ringing": "ringing",
    "connected": "connected",
    "completed": "completed",
    "caller_gone": "abandoned",
}


class UnknownCase(IvrError, KeyError):
    """No case has this id."""


def case_code(row_id: int, opened: datetime) -> str:
    return f"C-{opened.year}-{row_id:06d}"


def open_case(
    conn: Connection, draft: CaseDraft, now: datetime, *, status: str = QUEUED
) -> tuple[int, str]:
    """Insert the case; returns its row id and its case id."""
    row_id = conn.scalar(
        insert(cases)
        .values(
            call_id=draft.call_id,
            caller=draft.caller,
            dialled=draft.dialled,
            language=draft.language,
            account=draft.account,
            corporation=draft.corporation,
            intent=draft.intent,
            queue=draft.queue,
            priority=draft.priority,
            status=status,
            facts=jsonable(draft.facts),
            path=jsonable(draft.path),
            inputs=jsonable(draft.inputs),
            lookups=jsonable(draft.lookups),
            seconds_in_ivr=draft.seconds_in_ivr,
            flow=draft.flow,
            flow_version=draft.flow_version,
            note=draft.note,
            synthetic=draft.synthetic,
            created_at=now,
            updated_at=now,
        )
        .returning(cases.c.id)
    )
    assert row_id is not None
    code = case_code(int(row_id), now)
    conn.execute(update(cases).where(cases.c.id == row_id).values(code=code))
    _event(conn, int(row_id), "opened", None, f"queue {draft.queue}", now)
    for made in draft.facts.get("recordings") or ():  # the record nodes' files, if any
        if isinstance(made, dict) and isinstance(made.get("file"), str):
            _recording(conn, int(row_id), draft.call_id, made["file"],
                             made.get("seconds"), now)
    return int(row_id), code


#: A recording's file as the engine names it: one name, no directory, an extension.
RECORDING_FILE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9]{1,5}$")


def _recording(conn: Connection, row_id: int, call_id: str, file: str,
                     seconds: object, now: datetime) -> None:
    if not RECORDING_FILE.match(file):
        return  # never a path: the web app serves only names inside its directory
    duration = float(seconds) if isinstance(seconds, int | float) else 0.0
    conn.execute(insert(recordings).values(
        case_id=row_id, call_id=call_id, path=file, duration=duration, created_at=now))


def add_recording(conn: Connection, code: str, call_id: str, file: str,
                        seconds: float, now: datetime) -> None:
    """A recording made after the case opened (a message left after the agent)."""
    _recording(conn, _row_id(conn, code), call_id, file, seconds, now)


def get_recording(conn: Connection, recording_id: int) -> dict[str, Any] | None:
    """A recording's file name and its case id, or None."""
    row = (conn.execute(
        select(recordings.c.id, recordings.c.path, recordings.c.duration, cases.c.code)
        .join(cases, cases.c.id == recordings.c.case_id)
        .where(recordings.c.id == recording_id))).first()
    if row is None:
        return None
    return {"id": row.id, "path": row.path, "seconds": row.duration, "case_id": row.code}


def _event(
    conn: Connection, row_id: int, event: str, agent: str | None, detail: str, at: datetime
) -> None:
    conn.execute(
        insert(case_events).values(case_id=row_id, event=event, agent=agent, detail=detail, at=at)
    )


def _row_id(conn: Connection, code: str) -> int:
    found = conn.scalar(select(cases.c.id).where(cases.c.code == code))
    if found is None:
        raise UnknownCase(code)
    return int(found)


#: Case status once the transfer is over; every other ending leaves it unanswered.
_STATUS_AFTER = {TransferStatus.COMPLETED: "completed", TransferStatus.ABANDONED: "abandoned"}


def finish_transfer(
    conn: Connection, code: str, result: TransferResult, now: datetime
) -> None:
    row_id = _row_id(conn, code)
    values: dict[str, Any] = {
        "transfer_status": result.status.value,
        "status": _STATUS_AFTER.get(result.status, "unanswered"),
        "updated_at": now,
    }
    if result.agent:
        values["agent"] = result.agent
    conn.execute(update(cases).where(cases.c.id == row_id).values(**values))
    detail = result.raw_status
    if result.talk_seconds is not None:
        detail = f"{detail} talk {result.talk_seconds:.0f}s".strip()
    _event(conn, row_id, f"transfer_{result.status.value}", result.agent, detail, now)


def add_event(
    conn: Connection, code: str, event: str, agent: str | None, detail: str, now: datetime
) -> None:
    row_id = _row_id(conn, code)
    _event(conn, row_id, event, agent, detail, now)
    values: dict[str, Any] = {"updated_at": now}
    if event in EVENT_STATUS:
        values["status"] = EVENT_STATUS[event]
    if agent and event in {"ringing", "connected"}:
        values["agent"] = agent
    conn.execute(update(cases).where(cases.c.id == row_id).values(**values))


def update_case(conn: Connection, code: str, values: dict[str, Any]) -> bool:
    result = conn.execute(update(cases).where(cases.c.code == code).values(**values))
    return bool(result.rowcount)


def _case_dict(row: Row[Any], events: Sequence[Row[Any]],
               recorded: Sequence[Row[Any]] = ()) -> dict[str, Any]:
    m = row._mapping
    return {
        "id": m["code"],
        "call_id": m["call_id"],
        "created_at": iso(m["created_at"]),
        "updated_at": iso(m["updated_at"]),
        "caller": m["caller"],
        "dialled": m["dialled"],
        "language": m["language"],
        "account": m["account"],
        "corporation": m["corporation"],
        "intent": m["intent"],
        "queue": m["queue"],
        "priority": m["priority"],
        "status": m["status"],
        "agent": m["agent"],
        "notes": m["notes"],
        "disposition": m["disposition"],
        "facts": m["facts"],
        "path": m["path"],
        "inputs": m["inputs"],
        "lookups": m["lookups"],
        "seconds_in_ivr": m["seconds_in_ivr"],
        "transfer_status": m["transfer_status"],
        "flow": m["flow"],
        "flow_version": m["flow_version"],
        "note": m["note"],
        "synthetic": bool(m["synthetic"]),
        "events": [
            {"event": e.event, "agent": e.agent, "detail": e.detail, "at": iso(e.at)}
            for e in events
        ],
        # Played from /recordings/<id> (staff only); the file name stays server-side.
        "recordings": [
            {"id": r.id, "seconds": r.duration, "created_at": iso(r.created_at)}
            for r in recorded
        ],
    }


def load_cases(conn: Connection, rows: Sequence[Row[Any]]) -> list[dict[str, Any]]:
    """Case dicts for these rows, with their events (one query for all of them)."""
    if not rows:
        return []
    ids = [r.id for r in rows]
    events: dict[int, list[Row[Any]]] = {i: [] for i in ids}
    for e in conn.execute(
        select(case_events)
        .where(case_events.c.case_id.in_(ids))
        .order_by(case_events.c.at, case_events.c.id)
    ):
        events[e.case_id].append(e)
    recorded: dict[int, list[Row[Any]]] = {i: [] for i in ids}
    for r in conn.execute(
        select(recordings).where(recordings.c.case_id.in_(ids)).order_by(recordings.c.id)
    ):
        recorded[r.case_id].append(r)
    return [_case_dict(r, events[r.id], recorded[r.id]) for r in rows]


def get_case(conn: Connection, code: str) -> dict[str, Any] | None:
    row = (conn.execute(select(cases).where(cases.c.code == code))).first()
    if row is None:
        return None
    return (load_cases(conn, [row]))[0]


def list_cases(
    conn: Connection,
    *,
    caller: str | None,
    account: str | None,
    queue: str | None,
    limit: int,
    synthetic: bool = False,
) -> list[dict[str, Any]]:
    query = select(cases).order_by(cases.c.created_at.desc(), cases.c.id.desc()).limit(limit)
    if not synthetic:
        query = query.where(cases.c.synthetic.is_(False))
    if caller is not None:
        query = query.where(cases.c.caller == caller)
    if account is not None:
        query = query.where(cases.c.account == account)
    if queue is not None:
        query = query.where(cases.c.queue == queue)
    rows = (conn.execute(query)).all()
    return load_cases(conn, rows)
