"""Write paths behind the lookups: outage reports, service and callback requests, surveys.

Every number handed back here is told to the caller next, so each function runs inside
the caller's transaction, which the store commits before returning.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Connection, insert, select

from ivr.calls import CaseDraft
from ivr.store import queries
from ivr.store.cases import open_case
from ivr.store.convert import upsert
from ivr.store.models import (
    callback_requests,
    outage_reports,
    outages,
    service_requests,
    survey_answers,
)

#: Ticket and reference numbers are the row id plus a base: short enough to read out
#: digit by digit, and the first digit tells an agent what kind of number it is.
TICKET_BASE = 1_000_000
SERVICE_BASE = 2_000_000
CALLBACK_BASE = 3_000_000


def ticket_number(row_id: int) -> str:
    return str(TICKET_BASE + int(row_id))


#: The queue a callback's case waits in for agents to work (not a transfer).
CALLBACK_QUEUE = "callbacks"


def report_id(ticket: str) -> int | None:
    """The outage report row a ticket number names (None if it cannot be one)."""
    return int(ticket) - TICKET_BASE if ticket.isdigit() and int(ticket) > TICKET_BASE else None


SERVICE_KINDS = frozenset(
    {"new_connection", "meter_relocation", "contract_change", "meter_inspection"}
)


def existing_report(conn: Connection, call_id: str, tz: tzinfo) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(outage_reports.c.id, outages.c.estimated_restore, outages.c.id.label("outage"))
            .outerjoin(outages, outages.c.id == outage_reports.c.outage_id)
            .where(outage_reports.c.call_id == call_id)
        )
    ).first()
    if row is None:
        return None
    restore = row.estimated_restore
    return {
        "ticket": ticket_number(row.id),
        "linked_outage": row.outage is not None,
        "estimated_restore": None if restore is None else restore.astimezone(tz),
    }


def report_outage(
    conn: Connection,
    *,
    call_id: str,
    caller: str,
    account: str | None,
    now: datetime,
    tz: tzinfo,
) -> dict[str, Any]:
    """File a report for the account's area (or the caller's), linked to a known outage.

    Reporting again in the same call (``call_id``) returns the first report's ticket.
    """
    can_upsert = conn.dialect.name in ("sqlite", "postgresql")
    if call_id and not can_upsert:
        found = existing_report(conn, call_id, tz)
        if found is not None:
            return found
    account_id = area_id = outage_id = None
    restore: datetime | None = None
    if account:
        # One query for the account, its area and the outage there (the common path).
        known = queries.account_outage(conn, account, now)
        if known is not None:
            account_id, area_id, outage_id, restore = known
    if area_id is None and caller:
        area_ids = queries.area_ids_for_phone(conn, caller)
        outage = queries.outage_for_areas(conn, area_ids, now, tz, include_scheduled=False)
        area_id = area_ids[0] if area_ids else None
        if outage is not None:
            outage_id, restore = outage["id"], outage["estimated_restore"]
    values = {
        "call_id": call_id or None,
        "account_id": account_id,
        "area_id": area_id,
        "caller": caller,
        "outage_id": outage_id,
        "created_at": now,
    }
    if can_upsert and call_id:
        statement = (
            upsert(conn, outage_reports)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[outage_reports.c.call_id])
        )
        row_id = conn.scalar(statement.returning(outage_reports.c.id))
        if row_id is None:  # this call reported already: same ticket as then
            found = existing_report(conn, call_id, tz)
            assert found is not None
            return found
    else:
        row_id = conn.scalar(
            insert(outage_reports).values(**values).returning(outage_reports.c.id)
        )
    assert row_id is not None
    return {
        "ticket": ticket_number(row_id),
        "linked_outage": outage_id is not None,
        "estimated_restore": None if restore is None else restore.astimezone(tz),
    }


def service_request(
    conn: Connection,
    *,
    call_id: str,
    caller: str,
    kind: str,
    account: str | None,
    now: datetime,
) -> str:
    if kind not in SERVICE_KINDS:
        raise ValueError(f"unknown service request kind {kind!r}")
    row_id = conn.scalar(
        insert(service_requests)
        .values(call_id=call_id, kind=kind, account=account, caller=caller, created_at=now)
        .returning(service_requests.c.id)
    )
    assert row_id is not None
    return str(SERVICE_BASE + int(row_id))


def request_callback(
    conn: Connection,
    *,
    call_id: str,
    caller: str,
    dialled: str,
    language: str,
    phone: str,
    reason: str,
    account: str | None,
    now: datetime,
) -> str:
    """Store the callback and a case in the ``callbacks`` queue for agents to work."""
    case_id, _code = open_case(
        conn,
        CaseDraft(
            call_id=call_id,
            caller=caller,
            dialled=dialled,
            language=language,
            intent=reason,
            queue=CALLBACK_QUEUE,
            account=account,
            note=f"call back {phone}",
        ),
        now,
        status="callback",
    )
    row_id = conn.scalar(
        insert(callback_requests)
        .values(
            call_id=call_id,
            phone=phone,
            reason=reason,
            account=account,
            case_id=case_id,
            created_at=now,
        )
        .returning(callback_requests.c.id)
    )
    assert row_id is not None
    return str(CALLBACK_BASE + int(row_id))


def record_survey(
    conn: Connection, *, call_id: str, caller: str, score: int, now: datetime
) -> None:
    """One answer per call: answering again replaces the score (one upsert)."""
    statement = upsert(conn, survey_answers).values(
        call_id=call_id, caller=caller, score=score, created_at=now
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[survey_answers.c.call_id],
            set_={"score": statement.excluded.score, "created_at": statement.excluded.created_at},
        )
    )
