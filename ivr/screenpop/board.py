"""The live queue board: who is waiting in each queue now, for how long, and which agents
are free, on a call or away, for the supervisor's live panel.

Sans-IO: it is told that a caller joined or left a queue (by the AMI feed from Asterisk's
``QueueCallerJoin`` / ``QueueCallerLeave`` / ``QueueCallerAbandon`` events, or by the
built-in queue of the demo) and reads the time from the injected clock, so it is the
same board with or without Asterisk. Asterisk sends ``QueueCallerLeave`` for every
caller leaving the queue, answered or not, so a caller answered by an agent is no longer
waiting; one who hangs up sends ``QueueCallerAbandon`` then ``QueueCallerLeave``.

The agents' side comes from the console presence (logged in, available) and from who is
on a call, since agents of this product work from the console.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ivr.clock import Clock
from ivr.config.settings import WebUser
from ivr.screenpop.directory import serves_queue

#: AMI events that change who is waiting (the rest are ignored here).
JOIN_EVENTS = frozenset({"QueueCallerJoin"})
LEAVE_EVENTS = frozenset({"QueueCallerLeave", "QueueCallerAbandon"})


@dataclass(frozen=True, slots=True)
class Waiting:
    queue: str
    key: str
    """The caller's channel ``Uniqueid`` (AMI) or case id (built-in queue)."""
    since: datetime


class QueueBoard:
    """Callers waiting per queue (joined, not yet left), and a snapshot for the panel."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._waiting: dict[str, Waiting] = {}

    def joined(self, queue: str, key: str, *, waited: float = 0.0) -> None:
        """A caller entered ``queue``; ``waited`` seconds already (a re-sync's ``Wait``)."""
        if key in self._waiting:
            return  # a duplicate join (a re-sync after a reconnect) keeps the first time
        since = self._clock.now()
        if waited > 0:
            since -= timedelta(seconds=waited)
        self._waiting[key] = Waiting(queue, key, since)

    def left(self, key: str) -> None:
        self._waiting.pop(key, None)

    def clear(self) -> None:
        """Forget everyone (the AMI connection was lost: a re-sync rebuilds the board)."""
        self._waiting.clear()

    def observe(self, event: Any) -> None:
        """Take an AMI event (an :class:`ivr.ami.protocol.Event`); others are ignored."""
        name = getattr(event, "name", "")
        if name not in JOIN_EVENTS and name not in LEAVE_EVENTS:
            return
        key = event.get("Uniqueid") or ""
        queue = event.get("Queue") or ""
        if not key:
            return
        if name in JOIN_EVENTS and queue:
            self.joined(queue, key)
        elif name in LEAVE_EVENTS:
            self.left(key)

    def waiting(self) -> tuple[Waiting, ...]:
        return tuple(self._waiting.values())

    def snapshot(
        self,
        agents: Iterable[WebUser],
        online: Mapping[str, bool],
        on_call: Iterable[str],
        *,
        queues: Iterable[str] = (),
        wrap_up: Callable[[str], bool] = lambda _name: False,
    ) -> dict[str, Any]:
        """The panel's data: every queue that has a caller waiting, an agent serving it or
        is named in ``queues`` (the flows' queues), sorted by name.

        ``online`` maps a logged-in agent to whether they are available; ``on_call`` names
        the agents with a call; ``wrap_up`` tells an agent in after-call work."""
        now = self._clock.now()
        busy = set(on_call)
        staff = list(agents)
        names = set(queues) | {w.queue for w in self._waiting.values()}
        for agent in staff:
            names.update(q for q in agent.queues if q != "*")
        rows = []
        for queue in sorted(names):
            waits = [(now - w.since).total_seconds() for w in self._waiting.values()
                     if w.queue == queue]
            counts = {"available": 0, "on_call": 0, "wrap_up": 0, "away": 0, "offline": 0}
            for agent in staff:
                if not serves_queue(agent, queue):
                    continue
                counts[_agent_state(agent.name, online, busy, wrap_up)] += 1
            rows.append({
                "queue": queue,
                "waiting": len(waits),
                "longest_wait_seconds": round(max(waits), 1) if waits else 0.0,
                "agents": counts,
            })
        return {"at": now.isoformat(), "queues": rows}


def _agent_state(name: str, online: Mapping[str, bool], busy: set[str],
                 wrap_up: Callable[[str], bool]) -> str:
    if name in busy:
        return "on_call"
    if name not in online:
        return "offline"
    if wrap_up(name):
        return "wrap_up"
    return "available" if online[name] else "away"
