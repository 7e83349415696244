"""Per-node traffic of one flow, from the call records: the flow graph's figures.

A call record keeps its path (every node visited, with its flow), its lookups (with the
node that asked and the status), its outcome and, when it went to an agent, the case it
opened; the case's path ends at the node the transfer started from (the transfer node,
or the question where the caller pressed ``0``). Paths live in JSON columns, read
differently by SQLite and PostgreSQL, so the newest :data:`TRAFFIC_ROW_LIMIT` calls of
the period are read and counted in Python, as the call report does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from ivr.calls import NodeCounts, NodeTraffic, Outcome
from ivr.store.models import call_records, cases

#: Newest calls of the period counted at most; the figures say when they hit it.
TRAFFIC_ROW_LIMIT = 20_000
#: Case codes asked per query (keeps the IN list far below any driver's limit).
CASE_CHUNK = 500
_FAILED = ("error", "timeout")


def _steps(path: Any) -> list[tuple[str, str, str]]:
    """(flow, node, at) of each step of a stored path; anything malformed is skipped."""
    if not isinstance(path, list):
        return []
    return [(str(s.get("flow", "")), str(s.get("node", "")), str(s.get("at", "")))
            for s in path if isinstance(s, dict)]


def _before(steps: Sequence[tuple[str, str, str]], moment: datetime) -> tuple[str, str] | None:
    """The last step taken at or before ``moment`` (a record whose case is gone)."""
    found = None
    for flow, node, at in steps:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            continue
        if when.tzinfo is None or moment.tzinfo is None:
            when, moment = when.replace(tzinfo=None), moment.replace(tzinfo=None)
        if when <= moment:
            found = (flow, node)
    return found


def _case_paths(conn: Connection, codes: Iterable[str]) -> dict[str, Any]:
    wanted = sorted(set(codes))
    paths: dict[str, Any] = {}
    for i in range(0, len(wanted), CASE_CHUNK):
        rows = conn.execute(
            select(cases.c.code, cases.c.path).where(cases.c.code.in_(wanted[i:i + CASE_CHUNK])))
        paths.update({str(code): path for code, path in rows})
    return paths


def node_traffic(conn: Connection, flow: str, *, since: datetime) -> NodeTraffic:
    """Reached / hung up / to an agent / failed lookups for each node of ``flow``."""
    c = call_records.c
    rows = (conn.execute(
        select(c.path, c.lookups, c.outcome, c.transfer_queue, c.case_id, c.started_at,
               c.ivr_seconds)
        .where(c.started_at >= since)
        .order_by(c.started_at.desc(), c.id.desc())
        .limit(TRAFFIC_ROW_LIMIT)
    )).all()
    case_paths = _case_paths(
        conn, (str(r.case_id) for r in rows if r.transfer_queue and r.case_id))
    reached: Counter[str] = Counter()
    hung_up: Counter[str] = Counter()
    to_agent: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    calls = 0
    for row in rows:
        steps = _steps(row.path)
        here = {node for f, node, _at in steps if f == flow}
        lookups = row.lookups if isinstance(row.lookups, list) else []
        failures = [str(lk.get("node", "")) for lk in lookups
                    if isinstance(lk, dict) and lk.get("flow") == flow
                    and lk.get("status") in _FAILED]
        if not here and not failures:
            continue
        calls += 1
        reached.update(here)
        failed.update(failures)
        if row.outcome == Outcome.ABANDONED.value and steps and steps[-1][0] == flow:
            hung_up[steps[-1][1]] += 1
        if row.transfer_queue:
            case_steps = _steps(case_paths.get(str(row.case_id))) if row.case_id else []
            origin = (case_steps[-1][:2] if case_steps else
                      _before(steps, row.started_at + timedelta(seconds=row.ivr_seconds or 0)))
            if origin is not None and origin[0] == flow:
                to_agent[origin[1]] += 1
    names = set(reached) | set(hung_up) | set(to_agent) | set(failed)
    nodes = {name: NodeCounts(reached[name], hung_up[name], to_agent[name], failed[name])
             for name in sorted(names)}
    return NodeTraffic(flow, since, calls, nodes, limited=len(rows) >= TRAFFIC_ROW_LIMIT)
