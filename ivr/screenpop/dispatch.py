"""Screen-pop dispatch: queue events in, case cards out to the agent's websockets.

Queue events come from Asterisk (AMI ``AgentCalled``/``AgentConnect``/``AgentComplete``
turned into typed events by :mod:`ivr.screenpop.queue_events`) or from the built-in queue.
The dispatcher finds the agent a member interface belongs to, records the event on the
case, and pushes ``{"type": "pop", "state": ..., "case": {...}}`` to that agent's
websockets, and to nobody else's.

With several web nodes on one PostgreSQL database, the node that sees the queue event
publishes ``NOTIFY ivr_pop, '<json>'`` and every node (itself included) ``LISTEN``\\s and
delivers to the websockets it holds, loading the case from the shared database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ivr.clock import Clock
from ivr.config.settings import Settings, WebUser
from ivr.masking import mask, mask_digit_runs
from ivr.metrics import NO_METRICS, MetricsHooks
from ivr.screenpop.contracts import PopBus, PopStore, WebStore
from ivr.screenpop.events import PopEvent, PopState, pop_event_from
from ivr.screenpop.queue_events import queue_event_from
from ivr.web.auth import UserDirectory, serves_queue

if TYPE_CHECKING:
    from ivr.ami.client import AmiClient

log = logging.getLogger(__name__)

#: Earlier cases of the same caller/account shown on a card: enough to see a pattern,
#: few enough to read at a glance.
EARLIER_CASES = 5
#: Pops waiting for delivery on one node; far above any real burst (one per transfer).
DELIVERY_BACKLOG = 1000
POP_CHANNEL = "ivr_pop"
#: Several nodes watching one Asterisk each publish the same AMI event; the same pop
#: (agent, case, state) arriving again within this many seconds is shown once.
DUPLICATE_WINDOW = 2.0
#: Recent pops remembered for that check; pruned past this size.
DUPLICATE_MEMORY = 1000

Sender = Callable[[dict[str, Any]], Awaitable[None]]
__all__ = ["Dispatcher", "PopBus", "PopStore", "WebStore", "build_dispatcher", "run_ami_feed"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One pop to deliver: small enough for a NOTIFY payload (the case is loaded later)."""

    agent: str
    state: PopState
    case_id: str
    interface: str
    at: str

    def to_json(self) -> str:
        return json.dumps(
            {
                "agent": self.agent,
                "state": self.state.value,
                "case_id": self.case_id,
                "interface": self.interface,
                "at": self.at,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Delivery:
        data = json.loads(text)
        return cls(
            agent=str(data["agent"]),
            state=PopState(data["state"]),
            case_id=str(data["case_id"]),
            interface=str(data.get("interface", "")),
            at=str(data.get("at", "")),
        )


@dataclass(eq=False)
class AgentSocket:
    """One open agent console (a browser tab)."""

    agent: str
    send: Sender


def earlier_summary(case: dict[str, Any]) -> dict[str, Any]:
    notes = str(case.get("notes") or "")
    return {
        "id": case.get("id"),
        "created_at": case.get("created_at"),
        "intent": case.get("intent"),
        "status": case.get("status"),
        "disposition": case.get("disposition"),
        "agent": case.get("agent"),
        "account": case.get("account"),
        "notes": notes[:200],
    }


class Dispatcher:
    """Routes pops to agents' websockets; tracks who is online and available."""

    def __init__(
        self,
        users: Sequence[WebUser],
        store: PopStore,
        clock: Clock,
        *,
        bus: PopBus | None = None,
        metrics: MetricsHooks = NO_METRICS,
    ) -> None:
        self.directory = UserDirectory(users)
        self._metrics = metrics
        self._store = store
        self._clock = clock
        self._bus = bus
        self._sockets: dict[str, list[AgentSocket]] = {}
        self._available: dict[str, bool] = {}
        self._presence_listeners: list[Callable[[], None]] = []
        self._queue: asyncio.Queue[Delivery] | None = None
        self._recent: dict[tuple[str, str, str], float] = {}
        self._worker: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------
    async def start(self) -> None:
        """Start the cross-node listener (PostgreSQL) and the delivery worker."""
        if self._bus is None or self._worker is not None:
            return
        queue: asyncio.Queue[Delivery] = asyncio.Queue(DELIVERY_BACKLOG)
        self._queue = queue
        self._worker = asyncio.create_task(self._deliver_forever(queue), name="pop-delivery")
        await self._bus.start(self._on_bus_message)

    async def close(self) -> None:
        if self._bus is not None:
            await self._bus.close()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    # -- agents' consoles ----------------------------------------------------------
    def attach(self, agent: str, send: Sender) -> AgentSocket:
        sock = AgentSocket(agent, send)
        self._sockets.setdefault(agent, []).append(sock)
        self._available.setdefault(agent, False)
        self._presence_changed()
        return sock

    def detach(self, sock: AgentSocket) -> None:
        socks = self._sockets.get(sock.agent, [])
        if sock in socks:
            socks.remove(sock)
        if not socks:
            self._sockets.pop(sock.agent, None)
            self._available.pop(sock.agent, None)
        self._presence_changed()

    def set_available(self, agent: str, available: bool) -> None:
        if agent in self._sockets:
            self._available[agent] = available
            self._presence_changed()

    def is_available(self, agent: str) -> bool:
        return self._available.get(agent, False)

    def online(self) -> dict[str, bool]:
        """Agents with a console open on this node -> available or not."""
        return {agent: self._available.get(agent, False) for agent in self._sockets}

    def now(self) -> str:
        return self._clock.now().isoformat()

    def available_agents(self, queue: str) -> list[WebUser]:
        """Agents online here, available, and serving ``queue``, in configured order."""
        return [
            user
            for user in self.directory.agents()
            if self._available.get(user.name) and serves_queue(user, queue)
        ]

    def on_presence(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever an agent comes, goes, or changes availability."""
        self._presence_listeners.append(listener)

    def _presence_changed(self) -> None:
        for listener in self._presence_listeners:
            listener()

    # -- queue events in -----------------------------------------------------------
    async def handle(self, event: object) -> bool:
        """Turn one queue event into a pop; True when it was addressed to a known agent.

        Accepts the typed AMI queue events and :class:`PopEvent`; other events are
        ignored. Never raises for bad input: an unknown interface or case is logged.
        """
        pop = event if isinstance(event, PopEvent) else pop_event_from(event)
        if pop is None:
            return False
        if not pop.case_id:
            log.info("pop %s from %s without a case id: nothing to show", pop.state.value,
                     pop.interface or "queue")
            return False
        case = await self._store.get_case(pop.case_id)
        if case is None:
            log.warning("pop %s: unknown case %s", pop.state.value, pop.case_id)
            return False
        user = (self.directory.by_interface(pop.interface) if pop.interface
                else self._last_agent(case))
        if user is None:
            # An interface can be a phone number (Local/0901234567@...): masked.
            log.info("pop %s for case %s: no web user has interface %r",
                     pop.state.value, pop.case_id, mask_digit_runs(pop.interface))
            return False
        detail = pop.interface if not pop.reason else f"{pop.interface} ({pop.reason})".strip()
        # The store moves the case's status and owner along with these events.
        await self._store.add_case_event(pop.case_id, pop.state.value, agent=user.name,
                                         detail=detail)
        delivery = Delivery(user.name, pop.state, pop.case_id, pop.interface,
                            self._clock.now().isoformat())
        if self._bus is None:
            await self._deliver(delivery)
        else:
            await self._bus.publish(delivery.to_json())
        return True

    def _last_agent(self, case: dict[str, Any]) -> WebUser | None:
        """The agent the case was last offered to (events without a member name it)."""
        for event in reversed(case.get("events") or []):
            name = event.get("agent") if isinstance(event, dict) else None
            user = self.directory.get(str(name)) if name else None
            if user is not None:
                return user
        return None

    # -- delivery ------------------------------------------------------------------
    def _on_bus_message(self, payload: str) -> None:
        try:
            delivery = Delivery.from_json(payload)
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed pop notification (%d bytes)", len(payload))
            return
        if delivery.agent not in self._sockets or self._queue is None:
            return  # that agent's console is on another node
        if self._duplicate(delivery):
            return
        try:
            self._queue.put_nowait(delivery)
        except asyncio.QueueFull:
            log.error("pop backlog full; dropping pop for case %s", delivery.case_id)

    def _duplicate(self, delivery: Delivery) -> bool:
        now = time.monotonic()
        key = (delivery.agent, delivery.case_id, delivery.state.value)
        seen = self._recent.get(key)
        self._recent[key] = now
        if len(self._recent) > DUPLICATE_MEMORY:
            self._recent = {k: t for k, t in self._recent.items() if now - t < DUPLICATE_WINDOW}
        return seen is not None and now - seen < DUPLICATE_WINDOW

    async def _deliver_forever(self, queue: asyncio.Queue[Delivery]) -> None:
        # One worker keeps pops in order (ringing before connected) per node.
        while True:
            delivery = await queue.get()
            try:
                await self._deliver(delivery)
            except Exception:  # a broken store must not stop later pops
                log.exception("pop delivery for case %s failed", delivery.case_id)

    async def card(self, case_id: str) -> dict[str, Any] | None:
        """The case as an agent's card shows it: the case, the accounts registered to the
        caller's number (the caller may have asked for an agent before identifying one)
        and the earlier cases of this caller and account."""
        case = await self._store.get_case(case_id)
        if case is None:
            return None
        caller = str(case.get("caller") or "")
        registered = await self._store.accounts_for_phone(caller) if caller else []
        accounts = {str(case.get("account") or "")} | {str(a.get("code")) for a in registered}
        earlier: dict[str, dict[str, Any]] = {}
        searches: list[dict[str, str]] = [{"caller": caller}] if caller else []
        searches += [{"account": code} for code in sorted(accounts) if code]
        for search in searches:
            for other in await self._store.list_cases(limit=EARLIER_CASES + 1, **search):
                if other.get("id") != case_id:
                    earlier[str(other.get("id"))] = earlier_summary(other)
        ordered = sorted(earlier.values(), key=lambda c: str(c.get("created_at")), reverse=True)
        return {**case, "registered_accounts": registered, "earlier": ordered[:EARLIER_CASES]}

    async def pop_message(self, delivery: Delivery) -> dict[str, Any] | None:
        """The websocket message for a pop (None if the case is gone)."""
        card = await self.card(delivery.case_id)
        if card is None:
            return None
        return {
            "type": "pop",
            "state": delivery.state.value,
            "agent": delivery.agent,
            "interface": delivery.interface,
            "at": delivery.at,
            "case": card,
        }

    async def _deliver(self, delivery: Delivery) -> None:
        socks = list(self._sockets.get(delivery.agent, ()))
        if not socks:
            log.info("pop for case %s: agent %s has no console open", delivery.case_id,
                     delivery.agent)
            return
        started = time.perf_counter()
        message = await self.pop_message(delivery)
        if message is None:
            return
        card = message["case"]
        for sock in socks:
            try:
                await sock.send(message)
            except (ConnectionError, RuntimeError) as exc:
                log.info("pop to %s not sent: %s", delivery.agent, exc)
        self._metrics.pop_delivered(delivery.state.value, time.perf_counter() - started)
        log.info("pop %s case %s (caller %s) -> %s", delivery.state.value, delivery.case_id,
                 mask(str(card.get("caller") or "")), delivery.agent)


def asyncpg_dsn(database_url: str) -> str | None:
    """The plain ``postgresql://`` DSN asyncpg wants, or None if the store is not PostgreSQL."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def build_dispatcher(
    settings: Settings, store: PopStore, clock: Clock, users: Sequence[WebUser],
    metrics: MetricsHooks = NO_METRICS,
) -> Dispatcher:
    """A dispatcher for this service: PostgreSQL fan-out when the store is PostgreSQL."""
    from ivr.screenpop.pgbus import PostgresPopBus

    dsn = asyncpg_dsn(settings.database_url)
    bus = PostgresPopBus(dsn, POP_CHANNEL) if dsn else None
    return Dispatcher(users, store, clock, bus=bus, metrics=metrics)


async def run_ami_feed(client: AmiClient, dispatcher: Dispatcher) -> None:
    """Feed an AMI client's queue events to the dispatcher until cancelled.

    Subscribes at once (before the first ``await``), so no event is missed once the task
    has started; keeps going across AMI reconnects. One bad event is logged, never fatal.
    """
    async with client.subscribe() as events:
        async for raw in events:
            event = queue_event_from(raw)
            if event is None:
                continue
            try:
                await dispatcher.handle(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("screen pop for %s failed", type(event).__name__)
