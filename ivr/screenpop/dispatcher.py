"""The dispatcher: a pop event in, the case card out on that agent's consoles only.

:meth:`Dispatcher.handle` finds the web user the pop's member interface belongs to
(:mod:`ivr.screenpop.directory`), records the event on the case (the store moves the
case's status and owner along) and turns the pop into a :class:`Delivery`: the pop
addressed to an agent. Delivering loads the card (:mod:`ivr.screenpop.card`) and sends
``{"type": "pop", "state": ..., "case": {...}}`` to each of the agent's consoles
(:mod:`ivr.screenpop.presence`).

With several web nodes on one PostgreSQL database, the node that sees the queue event
publishes the delivery (``NOTIFY ivr_pop, '<json>'``, :mod:`ivr.screenpop.pgbus`) and
every node (itself included) ``LISTEN``\\s and delivers to the consoles it holds,
loading the card from the shared database. Several nodes watching one Asterisk each
publish the same event; a node shows the same pop once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ivr.clock import Clock
from ivr.config.settings import Settings, WebUser
from ivr.masking import mask, mask_digit_runs
from ivr.metrics import NO_METRICS, MetricsHooks
from ivr.screenpop.board import QueueBoard
from ivr.screenpop.card import CardWords, load_card
from ivr.screenpop.contracts import PopBus, PopStore
from ivr.screenpop.desk import AgentDesk
from ivr.screenpop.directory import UserDirectory, agent_interface
from ivr.screenpop.events import PopEvent, PopState
from ivr.screenpop.pgbus import PostgresPopBus
from ivr.screenpop.presence import Presence
from ivr.screenpop.resync import OpenCard, QueueSnapshot, settle
from ivr.store.cases import UnknownCase
from ivr.store.engine import asyncpg_dsn

log = logging.getLogger(__name__)

#: Pops waiting for delivery on one node; far above any real burst (one per transfer).
DELIVERY_BACKLOG = 1000
#: The NOTIFY channel the web nodes of one database share.
POP_CHANNEL = "ivr_pop"
#: Several nodes watching one Asterisk each publish the same AMI event; the same pop
#: (agent, case, state) arriving again within this many seconds is shown once.
DUPLICATE_WINDOW = 2.0
#: Recent pops remembered for that check; pruned past this size.
DUPLICATE_MEMORY = 1000
#: Cards remembered as open (ringing, connected) or ended; the oldest are forgotten past
#: this, far above the calls one hotline has in progress.
BOARD_MEMORY = 10_000
#: States that end a card; a second one for the same agent and case is not shown.
ENDED_STATES = frozenset({PopState.COMPLETED, PopState.CALLER_GONE})


@dataclass(frozen=True, slots=True)
class Delivery:
    """A pop addressed to an agent: small enough for a NOTIFY payload (ids only; the
    card is loaded by the node that delivers it)."""

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


class Dispatcher:
    """Routes pops to the consoles of the agent each one is for."""

    def __init__(
        self,
        presence: Presence,
        store: PopStore,
        clock: Clock,
        *,
        bus: PopBus | None = None,
        metrics: MetricsHooks = NO_METRICS,
        words: CardWords | None = None,
    ) -> None:
        self.presence = presence
        self.words = words
        self.desk: AgentDesk | None = None
        """After-call work begins here when an agent's call ends (set by the web app)."""
        """The flows and prompts the card's path is worded from (None: node ids
        humanised); the service sets it once the flows are loaded."""
        self._metrics = metrics
        self.directory = presence.directory
        self._store = store
        self._clock = clock
        self._bus = bus
        self._queue: asyncio.Queue[Delivery] | None = None
        self._recent: dict[tuple[str, str, str], float] = {}
        self._worker: asyncio.Task[None] | None = None
        self.board = QueueBoard(clock)
        """Callers waiting per queue now, for the supervisor's live panel."""
        self._open: dict[tuple[str, str], OpenCard] = {}
        """(agent, case id) -> the card shown as ringing or connected."""
        self._ended: dict[tuple[str, str], PopState] = {}
        self.queues = QueueSnapshot()
        """What the queues held at the last AMI re-sync (callers waiting, members)."""

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

    # -- pops in -------------------------------------------------------------------
    async def handle(self, pop: PopEvent) -> bool:
        """Record one pop on its case and deliver it; True when it was addressed to a
        known agent. Never raises for bad input: an unknown interface or case is logged.
        """
        if not pop.case_id:
            log.info("pop %s from %s without a case id: nothing to show", pop.state.value,
                     pop.interface or "queue")
            return False
        user = await self._addressee(pop)
        if user is None:
            return False
        key = (user.name, pop.case_id)
        if self._repeats(key, pop.state):
            # Asterisk repeating itself, several AMI feeds, or a re-sync racing an event.
            log.debug("pop %s for case %s already shown to %s", pop.state.value,
                      pop.case_id, user.name)
            return True
        detail = pop.interface if not pop.reason else f"{pop.interface} ({pop.reason})".strip()
        try:
            # The store moves the case's status and owner along with these events.
            await self._store.add_case_event(pop.case_id, pop.state.value, agent=user.name,
                                             detail=detail)
        except UnknownCase:
            log.warning("pop %s: unknown case %s", pop.state.value, pop.case_id)
            return False
        self._track(key, pop)
        delivery = Delivery(user.name, pop.state, pop.case_id, pop.interface, self._now())
        if self._bus is None:
            await self._deliver(delivery)
        else:
            await self._bus.publish(delivery.to_json())
        return True

    def open_cards(self) -> tuple[OpenCard, ...]:
        """The cards shown as ringing or connected now, oldest first."""
        return tuple(self._open.values())

    async def resync(self, snapshot: QueueSnapshot) -> list[PopEvent]:
        """Settle every open card against what the queues hold now (after an AMI
        reconnect); returns the pops sent. Cards the snapshot agrees with get nothing."""
        self.queues = snapshot
        # The live board starts again from what Asterisk says is waiting now: callers
        # who left while AMI was down would otherwise wait on the board for ever.
        self.board.clear()
        for caller in snapshot.waiting:
            self.board.joined(caller.queue, caller.uniqueid, waited=caller.wait_seconds)
        pops = [pop for card in self.open_cards() if (pop := settle(card, snapshot))]
        for pop in pops:
            log.info("AMI re-sync: case %s card for %s -> %s", pop.case_id,
                     mask_digit_runs(pop.interface), pop.state.value)
            await self.handle(pop)
        return pops

    def _repeats(self, key: tuple[str, str], state: PopState) -> bool:
        card = self._open.get(key)
        if card is not None and card.state is state:
            return True
        return state in ENDED_STATES and key in self._ended

    def _track(self, key: tuple[str, str], pop: PopEvent) -> None:
        """Move the board along a pop that is being shown."""
        before = self._open.pop(key, None)
        if pop.state in (PopState.RINGING, PopState.CONNECTED):
            self._ended.pop(key, None)
            self._open[key] = OpenCard(
                key[0], key[1], pop.state, pop.interface or (before.interface if before else ""),
                pop.uniqueid or (before.uniqueid if before else ""),
                pop.queue or (before.queue if before else ""))
        elif pop.state in ENDED_STATES:
            self._ended[key] = pop.state
        for board in (self._open, self._ended):
            while len(board) > BOARD_MEMORY:
                del board[next(iter(board))]

    async def _addressee(self, pop: PopEvent) -> WebUser | None:
        """The web user a pop is for: its member interface's, else (an event that names
        no member) the agent the case was last offered to. The case is read only then:
        the card reads it once, after the event is recorded."""
        if pop.interface:
            user = self.directory.by_interface(pop.interface)
            if user is None:
                # An interface can be a phone number (Local/0901234567@...): masked.
                log.info("pop %s for case %s: no web user has interface %r",
                         pop.state.value, pop.case_id, mask_digit_runs(pop.interface))
            return user
        case = await self._store.get_case(pop.case_id)
        if case is None:
            log.warning("pop %s: unknown case %s", pop.state.value, pop.case_id)
            return None
        for event in reversed(case.get("events") or []):
            name = event.get("agent") if isinstance(event, dict) else None
            user = self.directory.get(str(name)) if name else None
            if user is not None:
                return user
        log.info("pop %s for case %s: the case was offered to no web user",
                 pop.state.value, pop.case_id)
        return None

    async def message_for(self, user: WebUser, state: PopState,
                          case_id: str) -> dict[str, Any] | None:
        """The pop a console opened mid-call shows for the call its agent is on (None if
        the case is gone); nothing is recorded, nothing sent to other consoles."""
        delivery = Delivery(user.name, state, case_id, agent_interface(user), self._now())
        return await self._message(delivery)

    def now(self) -> str:
        """The dispatcher's clock, as the time stamps of its pops."""
        return self._clock.now().isoformat()

    def _now(self) -> str:
        return self.now()

    # -- delivery ------------------------------------------------------------------
    def _on_bus_message(self, payload: str) -> None:
        try:
            delivery = Delivery.from_json(payload)
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed pop notification (%d bytes)", len(payload))
            return
        if not self.presence.consoles(delivery.agent) or self._queue is None:
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

    async def _message(self, delivery: Delivery) -> dict[str, Any] | None:
        """The websocket message for a pop (None if the case is gone)."""
        card = await load_card(self._store, delivery.case_id, words=self.words,
                               directory=self.directory)
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
        socks = self.presence.consoles(delivery.agent)
        if not socks:
            log.info("pop for case %s: agent %s has no console open", delivery.case_id,
                     delivery.agent)
            return
        started = time.perf_counter()
        message = await self._message(delivery)
        if message is None:
            return
        card = message["case"]
        if self.desk is not None and _talked(delivery, card):
            # After-call work begins before the card says the call ended, so the agent
            # is never offered another call in between.
            message["desk"] = await self.desk.call_ended(delivery.agent, delivery.case_id)
        for sock in socks:
            try:
                await sock.send(message)
            except (ConnectionError, RuntimeError) as exc:
                log.info("pop to %s not sent: %s", delivery.agent, exc)
        self._metrics.pop_delivered(delivery.state.value, time.perf_counter() - started)
        log.info("pop %s case %s (caller %s) -> %s", delivery.state.value, delivery.case_id,
                 mask(str(card.get("caller") or "")), delivery.agent)


def _talked(delivery: Delivery, card: dict[str, Any]) -> bool:
    """The pop ends a call this agent was on: after-call work follows. A caller who hung
    up while the agent's phone only rang leaves nothing to wrap up."""
    if delivery.state is PopState.COMPLETED:
        return True
    if delivery.state is not PopState.CALLER_GONE:
        return False
    return any(e.get("event") == "connected" and e.get("agent") == delivery.agent
               for e in card.get("events") or () if isinstance(e, dict))


def build_dispatcher(
    settings: Settings, store: PopStore, clock: Clock, users: Sequence[WebUser],
    metrics: MetricsHooks = NO_METRICS,
) -> Dispatcher:
    """A dispatcher for this service: PostgreSQL fan-out when the store is PostgreSQL."""
    dsn = asyncpg_dsn(settings.database_url)
    bus = PostgresPopBus(dsn, POP_CHANNEL) if dsn else None
    return Dispatcher(Presence(UserDirectory(users)), store, clock, bus=bus, metrics=metrics)
