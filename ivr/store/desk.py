"""The agent's desk in the database: availability that outlives a page, after-call work
(when it began, when the agent saved a disposition or pressed ready, how long it took),
the agent's own day, and the callbacks the IVR promised with every attempt at them.

Kept in the database, not in a node's memory: an agent who reloads the page, or whose
next page lands on another web node, finds the state they left (``agent_states``);
after-call work is one ``agent_work`` row per call per agent; each "call now" attempt at
a callback is one ``callback_attempts`` row with Asterisk's ``OriginateResponse`` reason.
:class:`DeskStore` runs these over a :class:`~ivr.store.store.Store`'s connections, so
the circuit breaker and the SQLite writer queue apply to them as to every other write.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, func, insert, select, update

from ivr.store import cases
from ivr.store.convert import iso
from ivr.store.models import (
    agent_states,
    agent_work,
    callback_attempts,
    callback_requests,
    case_events,
)
from ivr.store.models import cases as cases_table

if TYPE_CHECKING:
    from ivr.store.store import Store

#: Agent states: offered calls, not offered calls, after-call work on a case.
AVAILABLE, AWAY, WRAP_UP = "available", "away", "wrap_up"
STATES = (AVAILABLE, AWAY, WRAP_UP)
#: Callback reasons worked before any other, whatever their age (a safety hazard).
URGENT_REASONS = frozenset({"electrical_safety", "safety"})
#: Callback statuses: waiting on the worklist, being called, done, given up.
CB_OPEN, CB_CALLING, CB_DONE, CB_GIVEN_UP = "open", "calling", "done", "given_up"
#: The callback's printed reference is its row id plus this (ivr.store.requests).
CALLBACK_BASE = 3_000_000


class DeskStore:
    """The desk's reads and writes over one store's connections."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _now(self) -> datetime:
        return self._store.clock.now()

    # -- availability ----------------------------------------------------------------
    async def agent_state(self, agent: str) -> dict[str, Any] | None:
        """``{"state", "case_id", "since"}`` as last stored, or None for a new agent."""
        row = await self._store._read(lambda conn: conn.execute(
            select(agent_states).where(agent_states.c.agent == agent)).first())
        if row is None:
            return None
        return {"state": row.state, "case_id": row.case_code, "since": iso(row.since)}

    async def set_state(self, agent: str, state: str, case_id: str | None = None) -> None:
        if state not in STATES:
            raise ValueError(f"agent state must be one of {', '.join(STATES)}")
        now = self._now()
        await self._store._write(lambda conn: _put_state(conn, agent, state, case_id, now))

    # -- after-call work ------------------------------------------------------------
    async def begin_wrap_up(self, agent: str, case_id: str) -> bool:
        """The call on ``case_id`` ended: the agent is in after-call work on it. False
        when they already were (the same ending seen twice, or by two web nodes)."""
        now = self._now()

        def work(conn: Connection) -> bool:
            open_row = _open_work(conn, agent)
            if open_row is not None and open_row.case_code == case_id:
                return False
            if open_row is not None:  # a wrap-up never closed (a crash): closed now
                _close_work(conn, open_row, now, "next_call", None)
            conn.execute(insert(agent_work).values(
                agent=agent, case_code=case_id, kind=WRAP_UP, started_at=now))
            _put_state(conn, agent, WRAP_UP, case_id, now)
            return True

        return await self._store._write(work)

    async def end_wrap_up(self, agent: str, *, ended_by: str,
                          disposition: str | None = None) -> dict[str, Any] | None:
        """Close the agent's after-call work (a disposition saved, or "ready") and make
        them available; the work's case id and seconds, or None when there was none."""
        now = self._now()

        def work(conn: Connection) -> dict[str, Any] | None:
            row = _open_work(conn, agent)
            if row is None:
                _put_state(conn, agent, AVAILABLE, None, now)
                return None
            seconds = _close_work(conn, row, now, ended_by, disposition)
            _put_state(conn, agent, AVAILABLE, None, now)
            try:
                cases.add_event(conn, row.case_code, "wrap_up_done", agent,
                                f"after-call work {seconds:.0f}s ({ended_by})", now)
            except cases.UnknownCase:
                pass  # the work is recorded either way
            return {"case_id": row.case_code, "seconds": seconds}

        return await self._store._write(work)

    async def work_today(self, agent: str, since: datetime) -> list[dict[str, Any]]:
        """The agent's own day: every case they rang, took or called back since
        ``since`` (newest first) with its after-call seconds."""
        def read(conn: Connection) -> tuple[dict[Any, Any], list[Any], list[Any]]:
            touched = conn.execute(
                select(case_events.c.case_id, func.max(case_events.c.at).label("last"))
                .where(and_(case_events.c.agent == agent, case_events.c.at >= since))
                .group_by(case_events.c.case_id)).all()
            last = {r.case_id: r.last for r in touched}
            rows = conn.execute(
                select(cases_table).where(cases_table.c.id.in_(list(last)))).all() if last \
                else []
            work = conn.execute(
                select(agent_work.c.case_code, func.sum(agent_work.c.seconds).label("acw"))
                .where(and_(agent_work.c.agent == agent, agent_work.c.started_at >= since))
                .group_by(agent_work.c.case_code)).all()
            return last, list(rows), list(work)

        last, rows, work = await self._store._read(read)
        acw = {r.case_code: r.acw for r in work}
        out = [{"id": r.code, "caller": r.caller, "account": r.account, "intent": r.intent,
                "queue": r.queue, "status": r.status, "disposition": r.disposition,
                "at": iso(last[r.id]), "wrap_up_seconds": acw.get(r.code)} for r in rows]
        return sorted(out, key=lambda c: str(c["at"]), reverse=True)

    # -- callbacks -------------------------------------------------------------------
    async def callbacks(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """The callbacks still to make, urgent first, then oldest first, each with its
        case and the attempts so far."""
        def read(conn: Connection) -> tuple[list[Any], list[Any]]:
            rows = conn.execute(
                select(callback_requests, cases_table.c.code, cases_table.c.priority,
                       cases_table.c.language, cases_table.c.caller)
                .join(cases_table, cases_table.c.id == callback_requests.c.case_id,
                      isouter=True)
                .where(callback_requests.c.status.in_((CB_OPEN, CB_CALLING)))
                .order_by(callback_requests.c.created_at, callback_requests.c.id)).all()
            ids = [r.id for r in rows]
            tries = conn.execute(
                select(callback_attempts).where(callback_attempts.c.callback_id.in_(ids))
                .order_by(callback_attempts.c.id)).all() if ids else []
            return list(rows), list(tries)

        rows, tries = await self._store._read(read)
        attempts: dict[int, list[dict[str, Any]]] = {r.id: [] for r in rows}
        for t in tries:
            attempts[t.callback_id].append({"attempt": t.attempt, "agent": t.agent,
                                            "at": iso(t.at), "outcome": t.outcome,
                                            "reason": t.reason})
        out = [_callback(r, attempts[r.id]) for r in rows]
        out.sort(key=lambda c: (not c["urgent"], str(c["created_at"])))
        return out[:limit]

    async def callback(self, callback_id: int) -> dict[str, Any] | None:
        for found in await self.callbacks(limit=10_000):
            if found["callback_id"] == callback_id:
                return found
        return None

    async def claim_callback(self, callback_id: int, agent: str) -> bool:
        """Mark the callback as being called by ``agent``; False if someone else is
        calling it or it is no longer open (two agents pressing "call now" at once)."""
        def work(conn: Connection) -> bool:
            changed = conn.execute(
                update(callback_requests)
                .where(and_(callback_requests.c.id == callback_id,
                            callback_requests.c.status == CB_OPEN))
                .values(status=CB_CALLING))
            return bool(changed.rowcount)

        return await self._store._write(work)

    async def start_attempt(self, callback_id: int, agent: str, action_id: str) -> int:
        """Record an attempt about to be originated; its number (1, 2, ...)."""
        now = self._now()

        def work(conn: Connection) -> int:
            done = conn.scalar(
                select(func.count()).select_from(callback_attempts)
                .where(callback_attempts.c.callback_id == callback_id))
            attempt = int(done or 0) + 1
            conn.execute(insert(callback_attempts).values(
                callback_id=callback_id, agent=agent, attempt=attempt, action_id=action_id,
                at=now))
            code = _case_code(conn, callback_id)
            if code:
                cases.add_event(conn, code, "callback_dialling", agent, f"attempt {attempt}", now)
            return attempt

        return await self._store._write(work)

    async def finish_attempt(self, callback_id: int, action_id: str, *, agent: str,
                             outcome: str, reason: int | None, status: str,
                             detail: str = "") -> None:
        """The attempt's outcome; ``status`` is the callback's from now on (``open``
        again for a later retry, ``done``, ``given_up``)."""
        now = self._now()

        def work(conn: Connection) -> None:
            conn.execute(
                update(callback_attempts)
                .where(and_(callback_attempts.c.callback_id == callback_id,
                            callback_attempts.c.action_id == action_id))
                .values(outcome=outcome, reason=reason))
            conn.execute(update(callback_requests)
                         .where(callback_requests.c.id == callback_id)
                         .values(status=status))
            code = _case_code(conn, callback_id)
            if code:
                cases.add_event(conn, code, f"callback_{outcome}", agent, detail, now)
                if status == CB_GIVEN_UP:
                    cases.add_event(conn, code, "callback_given_up", agent, "", now)
                if outcome == "answered":
                    conn.execute(update(cases_table).where(cases_table.c.code == code)
                                 .values(status="connected", agent=agent, updated_at=now))

        await self._store._write(work)

    async def release_callback(self, callback_id: int) -> None:
        """Back on the worklist (the dialer could not even try: AMI down)."""
        await self._store._write(lambda conn: conn.execute(
            update(callback_requests)
            .where(and_(callback_requests.c.id == callback_id,
                        callback_requests.c.status == CB_CALLING))
            .values(status=CB_OPEN)))


def start_of_day(now: datetime) -> datetime:
    """Midnight of ``now``'s day in its own time zone (the hotline's)."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _callback(r: Any, attempts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "callback_id": r.id,
        "reference": str(CALLBACK_BASE + int(r.id)),
        "phone": r.phone,
        "reason": r.reason,
        "account": r.account,
        "case_id": r.code,
        "language": r.language,
        "status": r.status,
        "created_at": iso(r.created_at),
        "urgent": r.reason in URGENT_REASONS or int(r.priority or 0) > 0,
        "attempts": attempts,
    }


def _case_code(conn: Connection, callback_id: int) -> str | None:
    found = conn.scalar(
        select(cases_table.c.code)
        .join(callback_requests, callback_requests.c.case_id == cases_table.c.id)
        .where(callback_requests.c.id == callback_id))
    return str(found) if found else None


def _put_state(conn: Connection, agent: str, state: str, case_id: str | None,
                     now: datetime) -> None:
    changed = conn.execute(update(agent_states).where(agent_states.c.agent == agent)
                                 .values(state=state, case_code=case_id, since=now))
    if not changed.rowcount:
        conn.execute(insert(agent_states).values(agent=agent, state=state,
                                                       case_code=case_id, since=now))


def _open_work(conn: Connection, agent: str) -> Any:
    return (conn.execute(
        select(agent_work)
        .where(and_(agent_work.c.agent == agent, agent_work.c.kind == WRAP_UP,
                    agent_work.c.ended_at.is_(None)))
        .order_by(agent_work.c.id.desc()).limit(1))).first()


def _close_work(conn: Connection, row: Any, now: datetime, ended_by: str,
                      disposition: str | None) -> float:
    seconds = max(0.0, float((now - row.started_at).total_seconds()))
    conn.execute(update(agent_work).where(agent_work.c.id == row.id).values(
        ended_at=now, seconds=round(seconds, 3), ended_by=ended_by, disposition=disposition))
    return seconds



