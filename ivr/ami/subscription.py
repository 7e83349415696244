"""Bounded per-consumer event queues for the AMI client."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from ivr.ami.protocol import Event, Headers

#: Name of the marker a subscription that asked for it (``subscribe(logins=True)``) gets
#: each time the client has logged in: no AMI event has this name (a dot is never in one).
LOGGED_IN = "ivr.LoggedIn"


def logged_in_marker() -> Event:
    """The marker put in order with the events: everything before it came over the
    previous connection, everything after it over the new one."""
    return Event(LOGGED_IN, Headers([("Event", LOGGED_IN)]))


class Subscription:
    """A bounded queue of events for one consumer; iterate it with ``async for``.

    When full, the oldest event is dropped and :attr:`dropped` counts it, so a slow
    consumer sees the freshest events and memory stays bounded.
    """

    def __init__(self, maxsize: int, on_close: Callable[[Subscription], None], *,
                 logins: bool = False) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.dropped = 0
        self.logins = logins
        """Whether this consumer is told of each (re)login by a :data:`LOGGED_IN` marker."""
        self._items: deque[Event] = deque()
        self._wakeup = asyncio.Event()
        self._closed = False
        self._on_close = on_close

    def __len__(self) -> int:
        return len(self._items)

    def put(self, event: Event) -> None:
        if self._closed:
            return
        if len(self._items) >= self.maxsize:
            self._items.popleft()
            self.dropped += 1
        self._items.append(event)
        self._wakeup.set()

    async def get(self) -> Event:
        """The next event; raises StopAsyncIteration once closed and drained."""
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._items.popleft()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._wakeup.set()
            self._on_close(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        return await self.get()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
