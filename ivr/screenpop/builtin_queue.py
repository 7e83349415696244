"""The built-in queue: agents in the browser stand in for Asterisk queue members.

Used when no AMI is configured (the demo, the softphone): a transfer is offered to the
logged-in, available agents who serve its queue, one at a time in turn (round robin).
Each step emits the same :class:`~ivr.screenpop.events.PopEvent` an AMI queue event
becomes (ringing, missed, connected, completed, caller gone) through the dispatcher, so
the agent's card behaves the same with or without Asterisk.

A caller waiting in line (no free agent) hears their position and the estimated wait,
and a periodic message, as a queue with ``announce-frequency`` and
``periodic-announce-frequency`` says them (:mod:`ivr.screenpop.announcements`), when
the queue has a prompt catalog and the channel passes ``play`` (the softphone does).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ivr import channel_vars
from ivr.channels.channel import (
    CallerHungUp,
    Prompt,
    TransferRequest,
    TransferResult,
    TransferStatus,
)
from ivr.config.settings import Settings, SettingsError, WebUser
from ivr.screenpop.announcements import (
    PERIODIC,
    Announcing,
    Catalog,
    HoldTimes,
    Say,
    position_announcement,
    render,
)
from ivr.screenpop.directory import agent_interface, serves_queue
from ivr.screenpop.dispatcher import Dispatcher
from ivr.screenpop.events import PopEvent, PopState

log = logging.getLogger(__name__)

#: Seconds an offer rings one agent before it moves to the next (Asterisk's ``timeout``
#: in queues.conf defaults to 15).
RING_SECONDS = 15.0
#: Seconds a caller waits in the queue when the flow gives no timeout.
DEFAULT_WAIT_SECONDS = 120.0
Player = Callable[[Sequence[Prompt]], Awaitable[object]]
"""Plays prompts to the waiting caller (no keys taken), as MOH is broken by Asterisk's
announcements."""


@dataclass(eq=False)
class _Offer:
    case_id: str
    queue: str
    agent: WebUser
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True, slots=True)
class _Waiting:
    rank: tuple[int, int]
    """(-priority, arrival): lower goes first, as in Asterisk's QUEUE_PRIO."""
    queue: str
    agent: WebUser | None = None
    """Only this agent (a transfer to a named agent, ``Dial`` on Asterisk)."""


class BuiltinQueue:
    """Offers transfers to available agents in turn and waits for Answer and End."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        ring_seconds: float = RING_SECONDS,
        auto_answer: float | None = None,
        default_wait: float = DEFAULT_WAIT_SECONDS,
        catalog: Catalog | None = None,
        announcing: Announcing | None = None,
    ) -> None:
        self._dispatcher = dispatcher
        self._presence = dispatcher.presence
        self.ring_seconds = ring_seconds
        self.auto_answer = auto_answer
        """Seconds after which a ringing offer answers itself (None: the agent clicks)."""
        self.default_wait = default_wait
        self._offers: dict[str, _Offer] = {}
        """Live offer per agent name (ringing or connected)."""
        self._last: str | None = None
        self._waiting: dict[tuple[int, int], _Waiting] = {}
        """Callers waiting for an agent (not ringing one), by rank: priority, arrival."""
        self._arrivals = itertools.count()
        self._changed = asyncio.Event()
        self._presence.on_change(self._presence_changed)
        self.catalog = catalog
        """Prompts for the announcements; None: the queue announces nothing."""
        self.announcing = announcing or Announcing()
        self.hold_times = HoldTimes()

    @classmethod
    def from_settings(cls, dispatcher: Dispatcher, settings: Settings,
                      catalog: Catalog | None = None) -> BuiltinQueue:
        """Timings from the config file's ``web:`` section (``ring_seconds``,
        ``auto_answer``, ``announce_frequency``, ``periodic_announce_frequency`` in
        seconds; auto-answer is off unless given, ``0`` turns an announcement off)."""
        web = settings.extra.get("web") or {}
        default = Announcing()
        return cls(
            dispatcher,
            ring_seconds=_seconds(web, "ring_seconds", RING_SECONDS) or RING_SECONDS,
            auto_answer=_seconds(web, "auto_answer", None),
            catalog=catalog,
            announcing=Announcing(
                frequency=_seconds(web, "announce_frequency", default.frequency,
                                   zero_ok=True) or 0.0,
                periodic_frequency=_seconds(web, "periodic_announce_frequency",
                                            default.periodic_frequency, zero_ok=True) or 0.0),
        )

    def _presence_changed(self) -> None:
        # A fresh event per change: every waiter holds the one it looked under, so a
        # change between looking and waiting wakes it instead of being lost.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    # -- the agent's buttons ---------------------------------------------------------
    def answer(self, agent: str, case_id: str) -> bool:
        offer = self._offers.get(agent)
        if offer is None or offer.case_id != case_id or offer.answered.is_set():
            return False
        offer.answered.set()
        return True

    def end(self, agent: str, case_id: str) -> bool:
        offer = self._offers.get(agent)
        if offer is None or offer.case_id != case_id or not offer.answered.is_set():
            return False
        offer.ended.set()
        return True

    def current(self, agent: str) -> tuple[str, PopState] | None:
        """The case an agent is being offered or talking on, and which of the two."""
        offer = self._offers.get(agent)
        if offer is None:
            return None
        state = PopState.CONNECTED if offer.answered.is_set() else PopState.RINGING
        return offer.case_id, state

    def busy(self) -> dict[str, str]:
        """Agent name -> case id of the call it is ringing for or talking on."""
        return {name: offer.case_id for name, offer in self._offers.items()}

    # -- the caller's side -----------------------------------------------------------
    def _next_agent(self, caller: _Waiting) -> tuple[WebUser | None, bool]:
        """Next free agent for this caller, round robin after the last one offered; and
        whether anyone serves its queue at all. An agent a caller ahead in line (higher
        priority, or same priority and waiting longer) could take is left for them."""
        available = self._presence.available_agents(caller.queue)
        if caller.agent is not None:
            available = [u for u in available if u.name == caller.agent.name]
        free = {u.name for u in available if u.name not in self._offers}
        order = list(self._presence.directory.agents())
        names = [u.name for u in order]
        after = names.index(self._last) + 1 if self._last in names else 0
        ahead = [w for w in self._waiting.values() if w.rank < caller.rank]
        for user in order[after:] + order[:after]:
            if user.name in free and not any(serves_queue(user, w.queue) for w in ahead):
                return user, True
        return None, bool(available) or bool(self._presence.wrapping_up(caller.queue))

    async def _emit(self, state: PopState, offer: _Offer, reason: str = "") -> None:
        event = PopEvent(state, offer.case_id, agent_interface(offer.agent), reason)
        try:
            await self._dispatcher.handle(event)
        except asyncio.CancelledError:
            raise
        except Exception:  # the caller's transfer goes on even if a card cannot update
            log.exception("built-in queue: pop %s for case %s failed", state.value,
                          offer.case_id)

    def position(self, caller: _Waiting) -> int:
        """1 + the callers ahead of this one in its queue (Asterisk's queue position)."""
        return 1 + sum(1 for w in self._waiting.values()
                       if w.queue == caller.queue and w.rank < caller.rank)

    async def _announce(self, play: Player, request: TransferRequest,
                        items: tuple[Say, ...]) -> None:
        assert self.catalog is not None
        language = request.variables.get(channel_vars.LANGUAGE) or "vi"
        try:
            prompts = render(items, self.catalog, language)
        except (KeyError, ValueError) as exc:  # a prompts file without the queue prompts
            log.warning("built-in queue: cannot announce in %s: %s", language, exc)
            return
        await play(prompts)

    async def transfer(
        self, request: TransferRequest, *, hangup: asyncio.Event | None = None,
        play: Player | None = None,
    ) -> TransferResult:
        """Offer the call until an agent answers and ends it, the wait runs out, or nobody
        serves the queue. Raises :class:`CallerHungUp` if ``hangup`` is set while waiting.
        While no agent is free, ``play`` (if given) announces the caller's position and
        wait every ``announcing.frequency`` seconds and the periodic message every
        ``announcing.periodic_frequency``.
        """
        hangup = hangup or asyncio.Event()
        loop = asyncio.get_running_loop()
        wait = request.timeout if request.timeout is not None else self.default_wait
        joined = loop.time()
        deadline = joined + wait
        cfg = self.announcing
        speaks = play is not None and self.catalog is not None
        next_position = joined if speaks and cfg.frequency > 0 else None
        next_periodic = (joined + cfg.periodic_frequency
                         if speaks and cfg.periodic_frequency > 0 else None)
        named = self._presence.directory.by_interface(request.agent) if request.agent else None
        if request.agent and named is None:
            return TransferResult(TransferStatus.FAILED, raw_status="NOSUCHAGENT")
        caller = _Waiting((-request.priority, next(self._arrivals)), request.queue, named)
        board = self._dispatcher.board
        board.joined(request.queue, request.case_id)  # in the queue until answered
        try:
            while True:
                if hangup.is_set():
                    raise CallerHungUp("caller hung up while queued")
                self._waiting[caller.rank] = caller
                agent, anyone = self._next_agent(caller)
                if agent is None and not anyone:
                    return TransferResult(TransferStatus.NO_AGENTS, raw_status="JOINEMPTY")
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return TransferResult(TransferStatus.TIMEOUT, raw_status="TIMEOUT")
                if agent is None:  # everyone serving this queue is busy: wait for a change
                    now = loop.time()
                    if play is not None and next_position is not None and now >= next_position:
                        minutes = self.hold_times.estimate(request.queue, now - joined)
                        await self._announce(play, request, position_announcement(
                            self.position(caller), minutes, holdtime=cfg.holdtime))
                        next_position = loop.time() + cfg.frequency
                        continue  # an agent may have come free meanwhile
                    if play is not None and next_periodic is not None and now >= next_periodic:
                        await self._announce(play, request, PERIODIC)
                        next_periodic = loop.time() + cfg.periodic_frequency
                        continue
                    wake = min(t for t in (remaining, next_position and next_position - now,
                                           next_periodic and next_periodic - now)
                               if t is not None)
                    await _first(wake, self._changed.wait(), hangup.wait())
                    continue
                del self._waiting[caller.rank]  # ringing an agent, not waiting in line
                result = await self._offer(request, agent, hangup, deadline, joined)
                if result is not None:
                    return result
        finally:
            self._waiting.pop(caller.rank, None)
            board.left(request.case_id)
            self._presence_changed()  # a caller behind this one may take an agent now

    async def _offer(
        self, request: TransferRequest, agent: WebUser, hangup: asyncio.Event, deadline: float,
        joined: float,
    ) -> TransferResult | None:
        loop = asyncio.get_running_loop()
        offer = _Offer(request.case_id, request.queue, agent)
        self._offers[agent.name] = offer
        self._last = agent.name
        self._presence_changed()  # this agent is busy now
        try:
            await self._emit(PopState.RINGING, offer)
            ring_until = min(loop.time() + self.ring_seconds, deadline)
            auto_at = None if self.auto_answer is None else loop.time() + self.auto_answer
            while not (offer.answered.is_set() or hangup.is_set()):
                changed = self._changed  # taken before looking, so no change is missed
                now = loop.time()
                if auto_at is not None and now >= auto_at:
                    offer.answered.set()
                    break
                if now >= ring_until or not self._presence.is_available(agent.name):
                    break
                until = ring_until if auto_at is None else min(ring_until, auto_at)
                await _first(until - now, offer.answered.wait(), hangup.wait(), changed.wait())
            if hangup.is_set():
                await self._emit(PopState.CALLER_GONE, offer, "caller")
                raise CallerHungUp("caller hung up while ringing an agent")
            if not offer.answered.is_set():
                await self._emit(PopState.MISSED, offer, "no answer")
                return None
            self._dispatcher.board.left(request.case_id)  # answered: no longer waiting
            self.hold_times.answered(request.queue, loop.time() - joined)
            await self._emit(PopState.CONNECTED, offer)
            started = time.monotonic()
            await _first(None, offer.ended.wait(), hangup.wait())
            reason = "caller" if hangup.is_set() and not offer.ended.is_set() else "agent"
            await self._emit(PopState.COMPLETED, offer, reason)
            return TransferResult(
                TransferStatus.COMPLETED,
                raw_status="CONTINUE",
                agent=agent_interface(agent),
                talk_seconds=round(time.monotonic() - started, 3),
            )
        finally:
            self._offers.pop(agent.name, None)
            self._presence_changed()  # another caller may be waiting for this agent


def _seconds(section: Mapping[str, Any], key: str, default: float | None, *,
             zero_ok: bool = False) -> float | None:
    raw = section.get(key)
    if raw is None:
        return default
    try:
        value = float(str(raw).strip().removesuffix("s"))
    except ValueError:
        raise SettingsError(f"web.{key}: {raw!r} is not a number of seconds") from None
    if value < 0 or (value == 0 and not zero_ok):
        raise SettingsError(f"web.{key} must be more than 0 seconds"
                            + (" (0 turns it off)" if zero_ok else ""))
    return value


async def _first(timeout: float | None, *waits: Awaitable[Any]) -> None:
    """Wait until the first of ``waits`` finishes, or ``timeout`` seconds; cancel the rest."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
