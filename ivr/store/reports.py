"""The supervisor's reports over a period: transfers by reason, satisfaction, agents,
outage reports, callbacks promised and done.

Each function reads rows of one period ``[since, until)`` and returns JSON-ready data;
every table in it is a list of flat rows, so the web layer can send the same rows as CSV.
What needs the flow (which node asked the survey, which menu choice a call made) is not
known here: :func:`survey_calls` hands back the calls' paths and the web layer, which
holds the compiled flows, reads them (``ivr.flows.paths``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Connection, String, and_, cast, func, or_, select, true

from ivr.store.calls import counted
from ivr.store.convert import iso
from ivr.store.models import (
    areas,
    call_records,
    callback_requests,
    case_events,
    cases,
    outage_reports,
    outages,
    survey_answers,
)
from ivr.store.requests import CALLBACK_QUEUE

#: Rows read into Python at most per report part (paths and event pairs are matched in
#: Python); the report says when it hit the bound, as the call report does.
ROW_LIMIT = 20_000
#: How a transfer ended, in the order the report lists them (TransferStatus values);
#: a case with no transfer result yet is ``waiting``.
TRANSFER_RESULTS = ("completed", "abandoned", "timeout", "no_agents", "full", "failed",
                    "callback", "waiting")


def transfers_by_reason(conn: Connection, since: datetime, until: datetime,
                              synthetic: bool = False) -> list[dict[str, Any]]:
    """Cases opened for an agent in the period, by the caller's reason (the case's intent),
    with how each transfer ended (a callback's own case is not a transfer)."""
    rows = conn.execute(
        select(cases.c.intent, cases.c.transfer_status, func.count())
        .where(cases.c.created_at >= since, cases.c.created_at < until,
               cases.c.queue.not_in(("", CALLBACK_QUEUE)),
               true() if synthetic else cases.c.synthetic.is_(False))
        .group_by(cases.c.intent, cases.c.transfer_status)
    )
    by_reason: dict[str, Counter[str]] = defaultdict(Counter)
    for intent, status, count in rows:
        by_reason[str(intent or "general")][str(status or "waiting")] += int(count)
    table = []
    for reason, counts in sorted(by_reason.items(), key=lambda kv: (-kv[1].total(), kv[0])):
        total = counts.total()
        row: dict[str, Any] = {"reason": reason, "transfers": total}
        row.update({result: counts.get(result, 0) for result in TRANSFER_RESULTS})
        row["answered_rate"] = round(counts.get("completed", 0) / total, 3) if total else None
        table.append(row)
    return table


def survey_calls(conn: Connection, since: datetime, until: datetime,
                       question_nodes: frozenset[tuple[str, str]],
                       synthetic: bool = False) -> dict[str, Any]:
    """The calls of the period that reached a survey question (``(flow, node)`` pairs),
    with their path, their case's intent and the score if they answered.

    The path is JSON; a textual pre-filter on the node names keeps the rows read small,
    and the exact check is done by the caller on the path itself."""
    if not question_nodes:
        return {"calls": [], "limited": False}
    text_of = cast(call_records.c.path, String)
    names = sorted({node for _flow, node in question_nodes})
    maybe = or_(*(text_of.like(f'%"{name}"%') for name in names))
    rows = (conn.execute(
        select(call_records.c.call_id, call_records.c.started_at, call_records.c.path,
               cases.c.intent, survey_answers.c.score)
        .select_from(
            call_records
            .outerjoin(cases, cases.c.code == call_records.c.case_id)
            .outerjoin(survey_answers, survey_answers.c.call_id == call_records.c.call_id))
        .where(call_records.c.started_at >= since, call_records.c.started_at < until, maybe,
               counted(synthetic))
        .order_by(call_records.c.started_at.desc())
        .limit(ROW_LIMIT)
    )).all()
    return {
        "calls": [{"call_id": r[0], "started_at": r[1], "path": r[2] if isinstance(r[2], list)
                   else [], "intent": r[3] or "", "score": r[4]} for r in rows],
        "limited": len(rows) >= ROW_LIMIT,
    }


def satisfaction(calls: list[dict[str, Any]], tz: tzinfo) -> dict[str, Any]:
    """Average, distribution (1-5) and response rate overall, by day (in ``tz``) and by
    reason, from :func:`survey_calls` rows that carry a ``reason`` (set by the caller)."""
    def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
        scores = [int(r["score"]) for r in rows if r["score"] is not None]
        dist = Counter(scores)
        return {
            "offered": len(rows),
            "answered": len(scores),
            "response_rate": round(len(scores) / len(rows), 3) if rows else None,
            "average": round(sum(scores) / len(scores), 2) if scores else None,
            **{f"score_{n}": dist.get(n, 0) for n in range(1, 6)},
        }

    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_reason: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in calls:
        by_day[row["started_at"].astimezone(tz).date().isoformat()].append(row)
        by_reason[str(row.get("reason") or "general")].append(row)
    return {
        "overall": summary(calls),
        "by_day": [{"day": day, **summary(rows)} for day, rows in sorted(by_day.items())],
        "by_reason": [{"reason": reason, **summary(rows)}
                      for reason, rows in sorted(by_reason.items(),
                                                 key=lambda kv: (-len(kv[1]), kv[0]))],
    }


def agents(conn: Connection, since: datetime, until: datetime) -> dict[str, Any]:
    """Per agent: calls answered, total and average handle time (connected to completed,
    from the case events the dispatcher records), calls missed (rang out)."""
    rows = (conn.execute(
        select(case_events.c.case_id, case_events.c.agent, case_events.c.event,
               case_events.c.at)
        .where(case_events.c.at >= since, case_events.c.at < until,
               case_events.c.agent.is_not(None),
               case_events.c.event.in_(("connected", "completed", "missed")))
        .order_by(case_events.c.at, case_events.c.id)
        .limit(ROW_LIMIT)
    )).all()
    started: dict[tuple[int, str], datetime] = {}
    stats: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"calls": 0, "handle_seconds": 0.0, "missed": 0})
    for case_id, agent, event, at in rows:
        one = stats[str(agent)]
        if event == "connected":
            started[(case_id, agent)] = at
            one["calls"] += 1
        elif event == "completed" and (case_id, agent) in started:
            one["handle_seconds"] += (at - started.pop((case_id, agent))).total_seconds()
        elif event == "missed":
            one["missed"] += 1
    table = []
    for agent, one in sorted(stats.items()):
        handled = one["handle_seconds"]
        table.append({"agent": agent, "calls": one["calls"], "missed": one["missed"],
                      "handle_seconds": round(handled, 1),
                      "average_handle_seconds":
                          round(handled / one["calls"], 1) if one["calls"] else None})
    return {"agents": table, "limited": len(rows) >= ROW_LIMIT}


def outage_reports_by_outage(conn: Connection, since: datetime,
                                   until: datetime) -> dict[str, Any]:
    """Outage reports of the period per known outage (a storm's hot spots) and per area
    (reports with no known outage included)."""
    in_window = and_(outage_reports.c.created_at >= since, outage_reports.c.created_at < until)
    per_outage = conn.execute(
        select(outages.c.id, outages.c.cause, outages.c.status, outages.c.planned,
               outages.c.started_at, areas.c.code, areas.c.name, func.count())
        .select_from(outage_reports.join(outages, outages.c.id == outage_reports.c.outage_id)
                     .join(areas, areas.c.id == outages.c.area_id))
        .where(in_window)
        .group_by(outages.c.id, outages.c.cause, outages.c.status, outages.c.planned,
                  outages.c.started_at, areas.c.code, areas.c.name)
        .order_by(func.count().desc(), outages.c.id)
    )
    per_area = conn.execute(
        select(areas.c.code, areas.c.name, func.count(),
               func.count(outage_reports.c.outage_id))
        .select_from(outage_reports.join(areas, areas.c.id == outage_reports.c.area_id))
        .where(in_window)
        .group_by(areas.c.code, areas.c.name)
        .order_by(func.count().desc(), areas.c.code)
    )
    return {
        "by_outage": [{"outage": oid, "area": code, "area_name": name, "cause": cause,
                       "status": status, "planned": bool(planned), "started_at": iso(start),
                       "reports": int(n)}
                      for oid, cause, status, planned, start, code, name, n in per_outage],
        "by_area": [{"area": code, "area_name": name, "reports": int(n),
                     "linked_to_outage": int(linked)}
                    for code, name, n, linked in per_area],
    }


def callbacks(conn: Connection, since: datetime, until: datetime,
                    now: datetime) -> dict[str, Any]:
    """Callbacks the IVR promised in the period: how many, how many done (any status but
    ``open``), by reason, and the age of the oldest still open."""
    in_window = and_(callback_requests.c.created_at >= since,
                     callback_requests.c.created_at < until)
    rows = conn.execute(
        select(callback_requests.c.reason, callback_requests.c.status, func.count(),
               func.min(callback_requests.c.created_at))
        .where(in_window)
        .group_by(callback_requests.c.reason, callback_requests.c.status)
    )
    by_reason: dict[str, Counter[str]] = defaultdict(Counter)
    oldest_open: datetime | None = None
    table: list[dict[str, Any]] = []
    for reason, status, count, first in rows:
        by_reason[str(reason)][str(status)] += int(count)
        if status == "open" and first is not None and (oldest_open is None or first < oldest_open):
            oldest_open = first
    for reason, counts in sorted(by_reason.items(), key=lambda kv: (-kv[1].total(), kv[0])):
        promised = counts.total()
        done = promised - counts.get("open", 0)
        table.append({"reason": reason, "promised": promised, "done": done,
                      "open": counts.get("open", 0),
                      "done_rate": round(done / promised, 3) if promised else None})
    promised = sum(r["promised"] for r in table)
    done = sum(r["done"] for r in table)
    return {
        "promised": promised,
        "done": done,
        "done_rate": round(done / promised, 3) if promised else None,
        "oldest_open_hours":
            round((now - oldest_open).total_seconds() / 3600, 1) if oldest_open else None,
        "by_reason": table,
    }
