"""The supervisor's reports over a period, as JSON or CSV, and the live queue panel.

``GET /api/reports/{report}`` with ``report`` one of :data:`REPORTS`; the period is
``range=today`` (the default), ``7d`` or ``30d`` in the hotline's time zone, or
``from=YYYY-MM-DD&to=YYYY-MM-DD`` (both days included), or ``hours=N`` (the last N
hours, as before). ``format=csv`` sends one of the report's tables as CSV (``table=``
names it; the first by default); ``synthetic=include`` counts load-test calls, left out
otherwise. ``GET /api/queue/live``: callers waiting per queue
now, the longest wait, and the agents free, on a call or away.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from datetime import datetime, time, timedelta
from typing import Any

from aiohttp import web

from ivr.clock import DEFAULT_TZ
from ivr.errors import IvrError
from ivr.flows.model import FlowSet
from ivr.flows.paths import first_choice, questions_recorded_by, reached
from ivr.store.reports import satisfaction
from ivr.web.api import SYNTHETIC_CHOICES, synthetic_choice
from ivr.web.keys import CLOCK, DIRECTORY, DISPATCHER, FLOWSET, PRESENCE, QUEUE, STORE
from ivr.web.middleware import require_api_user

#: The lookup a survey answer is recorded by; a question leading straight to it is the
#: survey's, so a call whose path has it was offered the survey.
SURVEY_LOOKUP = "record_survey"
#: Periods by name: days back from today (today included).
RANGES = {"today": 1, "7d": 7, "30d": 30}
MAX_DAYS = 366
MAX_HOURS = 720


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class PeriodError(IvrError, ValueError):
    """A report's period that cannot be read; the message says why, for the supervisor."""


def period(query: Mapping[str, str], now: datetime) -> tuple[datetime, datetime, str]:
    """``(since, until, label)`` of the request's period; :class:`PeriodError` says why
    a request's period cannot be read, in words for the supervisor."""
    tz = now.tzinfo or DEFAULT_TZ
    if "hours" in query:
        raw = query["hours"]
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_HOURS:
            raise PeriodError(f"hours must be a whole number from 1 to {MAX_HOURS}")
        return now - timedelta(hours=int(raw)), now, f"last {int(raw)} hours"
    midnight = datetime.combine(now.date(), time(0), tzinfo=tz)
    if "from" in query or "to" in query:
        try:
            first = datetime.fromisoformat(query.get("from", "")).date()
            last = datetime.fromisoformat(query.get("to", query.get("from", ""))).date()
        except ValueError:
            raise PeriodError("from and to are dates like 2026-12-01") from None
        if last < first:
            raise PeriodError("to is before from")
        if (last - first).days + 1 > MAX_DAYS:
            raise PeriodError(f"a period is at most {MAX_DAYS} days")
        since = datetime.combine(first, time(0), tzinfo=tz)
        until = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
        return since, until, f"{first.isoformat()} to {last.isoformat()}"
    name = query.get("range", "today")
    if name not in RANGES:
        raise PeriodError(f"range must be one of {', '.join(RANGES)} (or from/to dates)")
    since = midnight - timedelta(days=RANGES[name] - 1)
    return since, midnight + timedelta(days=1), name


async def _satisfaction(request: web.Request, since: datetime, until: datetime
                        ) -> dict[str, Any]:
    flows = request.app[FLOWSET]()
    questions = questions_recorded_by(flows, SURVEY_LOOKUP) if flows else frozenset()
    data = await request.app[STORE].report("survey_calls", since=since, until=until,
                                           survey_questions=questions,
                                           synthetic=synthetic_choice(request) or False)
    calls = [c for c in data["calls"] if reached(c["path"], questions)]
    for call in calls:
        call["reason"] = call["intent"] or (_choice(flows, call["path"]) or "general")
    tz = request.app[CLOCK].now().tzinfo or DEFAULT_TZ
    return {**satisfaction(calls, tz), "limited": data["limited"]}


def _choice(flows: FlowSet | None, path: list[dict[str, Any]]) -> str:
    return first_choice(flows, path) if flows is not None else ""


async def _calls(request: web.Request, since: datetime, until: datetime) -> dict[str, Any]:
    report = await request.app[STORE].call_report(
        since=since, until=until, synthetic=synthetic_choice(request) or False)
    # The outcome counts as a table too, for the CSV.
    report["by_outcome"] = [{"outcome": k, "calls": v} for k, v in report["outcomes"].items()]
    return report


def _stored(name: str) -> Callable[[web.Request, datetime, datetime], Any]:
    async def read(request: web.Request, since: datetime, until: datetime) -> dict[str, Any]:
        return await request.app[STORE].report(
            name, since=since, until=until, synthetic=synthetic_choice(request) or False)
    return read


#: Report name -> (reader, its tables for CSV: (name, where the rows are)).
REPORTS: dict[str, tuple[Callable[[web.Request, datetime, datetime], Any],
                         tuple[tuple[str, tuple[str, ...]], ...]]] = {
    "calls": (_calls, (("outcomes", ("by_outcome",)), ("drop_off", ("drop_off", "nodes")),
                       ("failed_lookups", ("failed_lookups", "actions")))),
    "transfers": (_stored("transfers"), (("by_reason", ("by_reason",)),)),
    "satisfaction": (_satisfaction, (("by_day", ("by_day",)), ("by_reason", ("by_reason",)))),
    "agents": (_stored("agents"), (("agents", ("agents",)),)),
    "outages": (_stored("outages"), (("by_outage", ("by_outage",)), ("by_area", ("by_area",)))),
    "callbacks": (_stored("callbacks"), (("by_reason", ("by_reason",)),)),
}


def _rows(data: Mapping[str, Any], where: tuple[str, ...]) -> list[dict[str, Any]]:
    value: Any = data
    for key in where:
        value = value[key]
    return list(value)


def to_csv(rows: list[dict[str, Any]]) -> str:
    """Rows as CSV with a header of every column in first-seen order. Cells that a
    spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) get a leading
    quote: a node or reason name is text, never a formula (CSV injection)."""
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    if value is None:
        return ""
    return value


async def get_report(request: web.Request) -> web.Response:
    require_api_user(request, role="supervisor")
    name = request.match_info["report"]
    if name not in REPORTS:
        return _error(404, f"no report {name!r}; reports: {', '.join(REPORTS)}")
    try:
        since, until, label = period(request.query, request.app[CLOCK].now())
    except PeriodError as exc:
        return _error(400, str(exc))
    if synthetic_choice(request) is None:
        return _error(400, SYNTHETIC_CHOICES)
    read, tables = REPORTS[name]
    data = await read(request, since, until)
    if request.query.get("format", "json") == "csv":
        wanted = request.query.get("table", tables[0][0])
        where = dict(tables).get(wanted)
        if where is None:
            return _error(400, f"table must be one of {', '.join(t for t, _ in tables)}")
        filename = f"ivr-{name}-{wanted}-{since.date().isoformat()}-{label.replace(' ', '_')}.csv"
        return web.Response(
            text=to_csv(_rows(data, where)), content_type="text/csv", charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'})
    if request.query.get("format", "json") != "json":
        return _error(400, "format must be json or csv")
    return web.json_response({"report": name, "period": label, "from": since.isoformat(),
                              "to": until.isoformat(),
                              "tables": [t for t, _ in tables], **data})


async def live_queue(request: web.Request) -> web.Response:
    require_api_user(request, role="supervisor")
    flows = request.app[FLOWSET]()
    queues = [q.name for q in flows.queues.values()] if flows else []
    board = request.app[DISPATCHER].board
    return web.json_response(board.snapshot(
        request.app[DIRECTORY].agents(), request.app[PRESENCE].online(),
        request.app[QUEUE].busy(), queues=queues))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/reports/{report}", get_report)
    app.router.add_get("/api/queue/live", live_queue)
