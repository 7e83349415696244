"""Who has an agent console open on this node, and who of them is available.

An agent may have several consoles (browser tabs) open; each is one
:class:`AgentSocket`. Availability is the agent's own "ready" toggle, held here while at
least one console is open and forgotten with the last one (an agent who closed every
tab takes no calls); :mod:`ivr.screenpop.desk` stores it per agent and puts it back
when a console opens again. The built-in queue offers calls to available agents only and
listens for changes; the dispatcher delivers pops to every console of the agent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ivr.config.settings import WebUser
from ivr.screenpop.directory import UserDirectory, serves_queue

#: Sends one JSON message to one console (``WebSocketResponse.send_json`` in the app).
Sender = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(eq=False)
class AgentSocket:
    """One open agent console (a browser tab)."""

    agent: str
    send: Sender


class Presence:
    """The agent consoles open on this node and their agents' availability."""

    def __init__(self, directory: UserDirectory) -> None:
        self.directory = directory
        self._sockets: dict[str, list[AgentSocket]] = {}
        self._available: dict[str, bool] = {}
        self._wrap_up: dict[str, str] = {}
        """Agent -> the case they are in after-call work on: not offered calls until
        they save a disposition or press ready (:mod:`ivr.screenpop.desk`)."""
        self._listeners: list[Callable[[], None]] = []

    def attach(self, agent: str, send: Sender) -> AgentSocket:
        """A console opened; the agent starts away until they say they are available."""
        sock = AgentSocket(agent, send)
        self._sockets.setdefault(agent, []).append(sock)
        self._available.setdefault(agent, False)
        self._changed()
        return sock

    def detach(self, sock: AgentSocket) -> None:
        socks = self._sockets.get(sock.agent, [])
        if sock in socks:
            socks.remove(sock)
        if not socks:
            self._sockets.pop(sock.agent, None)
            self._available.pop(sock.agent, None)
            self._wrap_up.pop(sock.agent, None)
        self._changed()

    def set_available(self, agent: str, available: bool) -> None:
        """Only an agent with a console open here can be available."""
        if agent in self._sockets:
            self._available[agent] = available
            self._changed()

    def is_available(self, agent: str) -> bool:
        return self._available.get(agent, False) and agent not in self._wrap_up

    def begin_wrap_up(self, agent: str, case_id: str) -> None:
        """The agent's call ended: after-call work on ``case_id``, no calls meanwhile."""
        if agent in self._sockets:
            self._wrap_up[agent] = case_id
            self._changed()

    def end_wrap_up(self, agent: str) -> None:
        if self._wrap_up.pop(agent, None) is not None:
            self._changed()

    def wrap_up_case(self, agent: str) -> str | None:
        return self._wrap_up.get(agent)

    def state(self, agent: str) -> str:
        """``wrap_up``, ``available`` or ``away`` (also for an agent with no console)."""
        if agent in self._wrap_up:
            return "wrap_up"
        return "available" if self._available.get(agent, False) else "away"

    def consoles(self, agent: str) -> tuple[AgentSocket, ...]:
        """The agent's consoles open on this node (none: it is on another node, or away)."""
        return tuple(self._sockets.get(agent, ()))

    def online(self) -> dict[str, bool]:
        """Agents with a console open on this node -> available or not."""
        return {agent: self.is_available(agent) for agent in self._sockets}

    def available_agents(self, queue: str) -> list[WebUser]:
        """Agents online here, available, and serving ``queue``, in configured order."""
        return [
            user
            for user in self.directory.agents()
            if self.is_available(user.name) and serves_queue(user, queue)
        ]

    def wrapping_up(self, queue: str) -> list[WebUser]:
        """Agents serving ``queue`` in after-call work: busy for now, not gone (a caller
        waits for them rather than hear that nobody is on duty)."""
        return [user for user in self.directory.agents()
                if user.name in self._wrap_up and serves_queue(user, queue)]

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever an agent comes, goes, or changes availability."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()
