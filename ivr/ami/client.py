"""Reconnecting asyncio AMI client: a thin shell around :mod:`ivr.ami.protocol`.

One background task owns the connection: connect, read the banner, log in with an event
mask, then read, feed, dispatch. Responses go to the action that is waiting for them (by
``ActionID``); events go to bounded subscriber queues. When the socket drops (Asterisk
restart, network) the task reconnects with exponential backoff and jitter; a refused login
is reported once per attempt and retried with the same backoff, never in a hot loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from ivr.ami.errors import (
    AmiConnectionLost,
    AmiError,
    AmiLoginError,
    AmiNotConnected,
    AmiTimeout,
)
from ivr.ami.protocol import (
    Action,
    AmiConnection,
    Banner,
    ConnectionClosed,
    Event,
    Response,
    ResponseStatus,
)
from ivr.ami.subscription import LOGGED_IN, Subscription, logged_in_marker
from ivr.config.settings import Settings
from ivr.wire import ProtocolError

__all__ = [
    "LOGGED_IN",
    "AmiClient",
    "AmiConnectionLost",
    "AmiError",
    "AmiLoginError",
    "AmiNotConnected",
    "AmiStats",
    "AmiTimeout",
    "Subscription",
]

log = logging.getLogger(__name__)

#: Bytes per read; AMI events are ~1 KiB, so this batches a burst without big buffers.
READ_SIZE: Final = 64 * 1024
#: Events kept per subscriber before the oldest are dropped: a stuck consumer or an event
#: flood must not grow memory without bound; a pop older than this is useless anyway.
DEFAULT_QUEUE_SIZE: Final = 1000
#: How long Logoff may take before we just close the socket.
LOGOFF_TIMEOUT: Final = 2.0
#: Events gathered for one list action (QueueStatus, CoreShowChannels) at most.
MAX_LIST_EVENTS: Final = 10_000

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class AmiStats:
    logins: int
    login_failures: int
    connection_drops: int
    dropped_events: int
    last_error: str


class _Session:
    """One TCP connection: its parser, writer, and the actions waiting on it."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.conn = AmiConnection()
        self.writer = writer
        self.pending: dict[str, asyncio.Future[Response]] = {}
        self.lists: dict[str, tuple[Response, list[Event]]] = {}
        self.banner: asyncio.Future[Banner] = asyncio.get_running_loop().create_future()
        self.logged_in = False
        self.closed = False
        """No more responses will come (set with the reason when the reader ends)."""
        self.close_reason = ""
        self.done = asyncio.Event()
        """Set once the socket is closed and the session cleaned up."""

    def send(self, action: Action) -> None:
        self.writer.write(self.conn.send(action))

    def fail_pending(self, why: str) -> None:
        self.closed = True
        self.close_reason = why
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(AmiConnectionLost(why))
        self.pending.clear()
        self.lists.clear()
        if not self.banner.done():
            self.banner.set_exception(AmiConnectionLost(why))


class AmiClient:
    """Logged-in, self-healing AMI connection with actions, events and keep-alive.

    ``events`` are the event classes asked for in Login's ``Events:`` mask (least
    privilege: the queue events we turn into screen-pops are class ``agent``; ``call``
    adds hangups). ``sleep`` and ``rng`` are injectable so tests control backoff.
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        events: Sequence[str] = ("call", "agent"),
        ping_interval: float = 20.0,
        action_timeout: float = 10.0,
        connect_timeout: float = 10.0,
        backoff_min: float = 0.5,
        backoff_max: float = 30.0,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        event_filters: Sequence[str] = (),
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if backoff_min <= 0 or backoff_max < backoff_min:
            raise ValueError("need 0 < backoff_min <= backoff_max")
        self.host = host
        self.port = port
        self.username = username
        self._secret = secret
        self.event_classes = tuple(events)
        self.ping_interval = ping_interval
        self.action_timeout = action_timeout
        self.connect_timeout = connect_timeout
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.queue_size = queue_size
        self.event_filters = tuple(event_filters)
        self._sleep = sleep
        self._rng = rng or random.Random()  # jitter, not security
        self._ids = itertools.count(1)
        # A per-client prefix keeps our ActionIDs apart from other AMI users' in logs.
        self._id_prefix = f"ivr-{secrets.token_hex(3)}"
        self._session: _Session | None = None
        self._connected = asyncio.Event()
        self._subscribers: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._logins = 0
        self._login_failures = 0
        self._drops = 0
        self._dropped_gone = 0
        self._last_error = ""
        self._attempt = 0
        self.banner: Banner | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> AmiClient:
        """The client ``ivr serve`` runs: ``ami_host/port/username/secret`` from settings."""
        return cls(
            settings.ami_host,
            settings.ami_port,
            settings.ami_username,
            settings.ami_secret,
            **options,
        )

    # ---- public API ---------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while logged in."""
        return self._connected.is_set()

    @property
    def stats(self) -> AmiStats:
        dropped = self._dropped_gone + sum(s.dropped for s in self._subscribers)
        return AmiStats(
            self._logins, self._login_failures, self._drops, dropped, self._last_error
        )

    async def start(self) -> None:
        """Start connecting in the background (returns at once; see wait_connected)."""
        if self._task is not None:
            raise RuntimeError("AmiClient already started")
        self._closing = False
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"ami {self.host}:{self.port}"
        )

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until logged in (raises TimeoutError after ``timeout``)."""
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    async def action(
        self, name: str, *, timeout: float | None = None, **headers: str | int | Sequence[str]
    ) -> Response:
        """Send an action and wait for its response (list actions: with their events).

        Waits up to ``timeout`` (default ``action_timeout``) for a logged-in connection
        and the answer. An ``Error`` answer is returned, not raised: check ``.ok``.
        """
        return await self.send_action(Action.create(name, headers=headers), timeout=timeout)

    async def send_action(self, action: Action, *, timeout: float | None = None) -> Response:
        limit = self.action_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                while True:
                    await self._connected.wait()
                    # The link may have dropped again between the wake-up and now.
                    session = self._session
                    if session is not None and session.logged_in and not session.closed:
                        break
                    await asyncio.sleep(0)
        except TimeoutError:
            raise AmiNotConnected(
                f"AMI {self.host}:{self.port} not connected ({self._last_error or 'connecting'})"
            ) from None
        return await self._request(session, action, limit)

    def subscribe(self, maxsize: int | None = None, *, logins: bool = False) -> Subscription:
        """A new bounded event queue receiving every event from now on.

        ``logins``: also a :data:`LOGGED_IN` marker after each login (at once if logged in
        now), in order with the events, so a consumer can re-read state that events of a
        lost connection would have changed (Asterisk does not replay them).
        """
        sub = Subscription(maxsize or self.queue_size, self._unsubscribe, logins=logins)
        self._subscribers.add(sub)
        if logins and self.connected:
            sub.put(logged_in_marker())
        return sub

    async def events(self, maxsize: int | None = None) -> AsyncIterator[Event]:
        """Iterate events as they arrive (across reconnects) until the client closes."""
        async with self.subscribe(maxsize) as sub:
            async for event in sub:
                yield event

    async def close(self) -> None:
        """Log off (``Response: Goodbye``, then Asterisk closes), stop reconnecting."""
        self._closing = True
        session = self._session
        if session is not None and session.logged_in:
            with contextlib.suppress(AmiError, TimeoutError, OSError):
                reply = await self._request(session, Action("Logoff"), LOGOFF_TIMEOUT)
                if reply.status is not ResponseStatus.GOODBYE:
                    log.warning("AMI Logoff answered %s: %s", reply.raw_status, reply.message)
        if self._task is not None:
            task, self._task = self._task, None
            if session is not None:
                # Give the reader a moment to see Asterisk's EOF after Goodbye.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(LOGOFF_TIMEOUT):
                        await session.done.wait()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sub in list(self._subscribers):
            sub.close()

    # ---- internals ----------------------------------------------------------------

    def _unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subscribers:
            self._subscribers.discard(sub)
            self._dropped_gone += sub.dropped

    def _next_id(self) -> str:
        return f"{self._id_prefix}-{next(self._ids)}"

    async def _request(self, session: _Session, action: Action, timeout: float) -> Response:
        if session.closed:
            raise AmiConnectionLost(session.close_reason)
        action_id = self._next_id()
        fut: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        session.pending[action_id] = fut
        try:
            session.send(replace(action, action_id=action_id))
            async with asyncio.timeout(timeout):
                return await fut
        except TimeoutError:
            raise AmiTimeout(f"AMI action {action.name} got no answer in {timeout:g} s") from None
        finally:
            session.pending.pop(action_id, None)
            session.lists.pop(action_id, None)

    def _backoff(self, attempt: int) -> float:
        # Full jitter (AWS architecture blog): spreads reconnects of many ivr nodes
        # after an Asterisk restart; never below backoff_min so a refusal cannot hot-loop.
        ceiling = min(self.backoff_max, self.backoff_min * float(2 ** min(attempt, 30)))
        return self.backoff_min + self._rng.random() * (ceiling - self.backoff_min)

    async def _run(self) -> None:
        while not self._closing:
            try:
                await self._connect_once()
            except AmiLoginError as exc:
                self._login_failures += 1
                self._last_error = str(exc)
                log.error("%s; retrying with backoff", exc)
            except (OSError, TimeoutError, ProtocolError, AmiError) as exc:
                self._last_error = f"{type(exc).__name__}: {exc}"
                log.warning("AMI %s:%s: %s", self.host, self.port, self._last_error)
            if self._closing:
                break
            delay = self._backoff(self._attempt)
            self._attempt += 1
            log.info("AMI reconnecting to %s:%s in %.2f s", self.host, self.port, delay)
            await self._sleep(delay)

    async def _connect_once(self) -> None:
        """One connection's life: connect, banner, login, read until it ends."""
        async with asyncio.timeout(self.connect_timeout):
            reader, writer = await asyncio.open_connection(self.host, self.port)
        session = _Session(writer)
        self._session = session
        loop = asyncio.get_running_loop()
        reader_task = loop.create_task(self._read(reader, session))
        ping_task: asyncio.Task[None] | None = None
        failed = True
        try:
            async with asyncio.timeout(self.connect_timeout):
                self.banner = await session.banner
            await self._login(session)
            self._on_login(session)
            ping_task = loop.create_task(self._keepalive(session))
            await reader_task
            failed = False
        finally:
            self._connected.clear()
            self._session = None
            if session.logged_in and not self._closing:
                self._drops += 1
                if not failed:  # a failure is logged once, with its reason, by _run
                    log.warning("AMI %s:%s: connection lost", self.host, self.port)
            for task in (ping_task, reader_task):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if reader_task.done() and not reader_task.cancelled():
                reader_task.exception()  # already reported through the session's futures
            session.fail_pending("AMI connection closed")
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            session.done.set()
        if not self._closing:
            self._last_error = "connection closed by Asterisk"

    async def _login(self, session: _Session) -> None:
        headers: dict[str, str | int | Sequence[str]] = {
            "Username": self.username,
            "Secret": self._secret,
            "Events": ",".join(self.event_classes) if self.event_classes else "off",
        }
        try:
            # Asterisk answers a bad secret only after ~1 s, then closes (transcript
            # ami-login-failure.txt): wait for the answer rather than the close.
            reply = await self._request(
                session, Action.create("Login", headers=headers), self.action_timeout
            )
        except AmiConnectionLost:
            raise AmiLoginError(
                f"AMI {self.host}:{self.port} closed the connection during login "
                f"as {self.username!r} (host not permitted in manager.conf?)"
            ) from None
        if not reply.ok:
            raise AmiLoginError(
                f"AMI login as {self.username!r} to {self.host}:{self.port} refused: "
                f"{reply.message or reply.raw_status}"
            )
        for regex in self.event_filters:
            # Needs write class 'system' on the AMI user; manager.conf eventfilter= is
            # the least-privilege alternative (docs/asterisk.md).
            answer = await self._request(
                session,
                Action.create("Filter", headers={"Operation": "Add", "Filter": regex}),
                self.action_timeout,
            )
            if not answer.ok:
                log.warning("AMI Filter %r refused: %s", regex, answer.message)

    def _on_login(self, session: _Session) -> None:
        session.logged_in = True
        self._logins += 1
        self._attempt = 0  # a session that logged in resets the backoff
        self._last_error = ""
        self._connected.set()
        log.info("AMI logged in to %s:%s as %s", self.host, self.port, self.username)
        for sub in self._subscribers:
            if sub.logins:
                sub.put(logged_in_marker())

    async def _keepalive(self, session: _Session) -> None:
        """Ping after login only; no answer in time means a dead link: drop it."""
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                await self._request(session, Action("Ping"), self.action_timeout)
            except AmiConnectionLost:
                return
            except AmiTimeout:
                log.warning("AMI %s:%s: Ping unanswered, reconnecting", self.host, self.port)
                session.writer.transport.abort()
                return

    async def _read(self, reader: asyncio.StreamReader, session: _Session) -> None:
        reason = "AMI connection closed by Asterisk"
        try:
            while True:
                data = await reader.read(READ_SIZE)
                session.conn.receive_data(data)
                for message in session.conn.events():
                    if isinstance(message, ConnectionClosed):
                        return
                    self._dispatch(session, message)
        except (OSError, ProtocolError) as exc:
            reason = f"AMI connection failed: {type(exc).__name__}: {exc}"
            raise
        except Exception as exc:
            # A bug in the parser or a dispatch: out of this task it would end the
            # client for good (no reconnect, and an unretrieved task exception). Drop
            # this one connection instead; _run logs one line and reconnects.
            log.debug("AMI %s:%s: reader failure", self.host, self.port, exc_info=True)
            reason = f"AMI connection failed: unreadable input ({type(exc).__name__}: {exc})"
            raise AmiConnectionLost(reason) from exc
        finally:
            # Wake every waiting action now, with the reason, not at its timeout.
            session.fail_pending(reason)

    def _dispatch(self, session: _Session, message: Banner | Response | Event) -> None:
        if isinstance(message, Banner):
            if not session.banner.done():
                session.banner.set_result(message)
            return
        if isinstance(message, Response):
            fut = session.pending.get(message.action_id or "")
            if fut is None or fut.done():
                log.debug("AMI response for unknown ActionID %s", message.action_id)
            elif message.is_event_list and message.ok:
                session.lists[message.action_id or ""] = (message, [])
            else:
                fut.set_result(message)
            return
        listed = session.lists.get(message.action_id or "")
        if listed is not None:
            head, items = listed
            if (message.get("EventList") or "").lower() == "complete":
                fut = session.pending.get(message.action_id or "")
                if fut is not None and not fut.done():
                    fut.set_result(replace(head, events=(*items, message)))
                session.lists.pop(message.action_id or "", None)
            elif len(items) < MAX_LIST_EVENTS:
                items.append(message)
            return
        for sub in self._subscribers:
            sub.put(message)
