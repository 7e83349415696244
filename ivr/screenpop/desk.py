"""The agent's desk: availability that survives a reload, and after-call work.

An agent's choice (available or away) is stored per agent (:class:`ivr.store.desk.DeskStore`)
and given back to every console they open, on any web node. When a call the agent
talked on ends, the agent is in after-call work (``wrap_up``) on that case: the card
stays, the built-in queue offers them nothing (:meth:`Presence.is_available` is false),
until they save a disposition or press "ready"; the time it took is recorded per call
and per agent. The ending pop carries the new state (``pop["desk"]``); "ready" is told to every
console of the agent (``{"type": "desk"}``).
"""

from __future__ import annotations

import logging
from typing import Any

from ivr.failures import describe
from ivr.screenpop.presence import Presence
from ivr.store.desk import AVAILABLE, AWAY, WRAP_UP, DeskStore

log = logging.getLogger(__name__)


class AgentDesk:
    """Availability and after-call work for the agents with consoles on this node."""

    def __init__(self, presence: Presence, store: DeskStore) -> None:
        self.presence = presence
        self.store = store

    async def restore(self, agent: str) -> dict[str, Any]:
        """A console opened: the agent's stored state put back (a new agent is away; with
        the database unreachable, away too, and the console still opens)."""
        try:
            stored = await self.store.agent_state(agent) or {"state": AWAY, "case_id": None}
        except Exception as exc:  # the database down must not keep the console shut
            log.warning("agent %s: stored availability not read (%s)", agent, describe(exc))
            stored = {"state": AWAY, "case_id": None}
        if stored["state"] == WRAP_UP and stored.get("case_id"):
            self.presence.set_available(agent, True)  # ready takes them straight back
            self.presence.begin_wrap_up(agent, str(stored["case_id"]))
        else:
            self.presence.set_available(agent, stored["state"] == AVAILABLE)
        return self.message(agent)

    def message(self, agent: str) -> dict[str, Any]:
        """What the consoles show: ``{"type": "desk", "state", "available", "case_id"}``."""
        return {"type": "desk", "state": self.presence.state(agent),
                "available": self.presence.is_available(agent),
                "case_id": self.presence.wrap_up_case(agent)}

    async def set_available(self, agent: str, available: bool) -> dict[str, Any]:
        """The agent's toggle. "Available" during after-call work is "ready"."""
        if available and self.presence.wrap_up_case(agent) is not None:
            return await self.ready(agent)
        self.presence.set_available(agent, available)
        if self.presence.wrap_up_case(agent) is None:
            try:
                await self.store.set_state(agent, AVAILABLE if available else AWAY)
            except Exception as exc:  # kept for this console; a reload finds the old one
                log.warning("agent %s: availability not stored (%s)", agent, describe(exc))
        return self.message(agent)

    async def call_ended(self, agent: str, case_id: str) -> dict[str, Any] | None:
        """The agent's call on ``case_id`` is over: after-call work begins. The desk
        state the ending pop carries (``pop["desk"]``); None with no console here (the
        node that holds one does it)."""
        if not self.presence.consoles(agent):
            return None
        self.presence.begin_wrap_up(agent, case_id)  # held back from calls, stored or not
        try:
            await self.store.begin_wrap_up(agent, case_id)
        except Exception as exc:
            log.warning("agent %s: after-call work on %s not stored (%s)", agent, case_id,
                        describe(exc))
        return self.message(agent)

    async def ready(self, agent: str, *, disposition: str | None = None) -> dict[str, Any]:
        """After-call work is over (a disposition saved, or "ready"): offered calls again."""
        ended_by = "disposition" if disposition else "ready"
        try:
            work = await self.store.end_wrap_up(agent, ended_by=ended_by,
                                                disposition=disposition)
        except Exception as exc:  # the agent goes back to work; the time is lost
            log.warning("agent %s: end of after-call work not stored (%s)", agent,
                        describe(exc))
            work = None
        self.presence.end_wrap_up(agent)
        self.presence.set_available(agent, True)
        if work is not None:
            log.info("after-call work of %s on case %s: %.0f s (%s)", agent, work["case_id"],
                     work["seconds"], ended_by)
        await self._tell(agent)
        message = self.message(agent)
        message["wrap_up_seconds"] = work["seconds"] if work else None
        return message

    async def _tell(self, agent: str) -> None:
        await self.tell(agent, self.message(agent))

    async def tell(self, agent: str, message: dict[str, Any]) -> None:
        """Send one message to every console of the agent on this node."""
        for sock in self.presence.consoles(agent):
            try:
                await sock.send(message)
            except (ConnectionError, RuntimeError) as exc:
                log.info("desk state to %s not sent: %s", agent, exc)
