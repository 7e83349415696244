"""PostgreSQL LISTEN/NOTIFY fan-out of pops between web nodes.

One dedicated asyncpg connection per node: it ``LISTEN``\\s on the channel and sends
``pg_notify`` for pops this node publishes (PostgreSQL delivers a notification to every
listening session, the sender's included, so every node delivers the same way). The
store's SQLAlchemy pool is left alone: a pooled connection may not stay listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import re
from collections.abc import Callable
from typing import Any

from ivr.failures import describe

log = logging.getLogger(__name__)

#: PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; pops carry ids only.
MAX_PAYLOAD = 7999
#: A channel name is an SQL identifier; we only use plain lowercase ones.
_CHANNEL = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: Seconds to wait for the database when connecting: a node without its bus is degraded
#: (pops reach no agent), so it must know soon and retry, not hang.
CONNECT_TIMEOUT = 10.0
#: Reconnect delays after the listening connection drops (database restart, failover):
#: quick at first, then no more than one attempt every RECONNECT_MAX seconds.
RECONNECT_MIN = 0.2
RECONNECT_MAX = 10.0


class PostgresPopBus:
    def __init__(self, dsn: str, channel: str = "ivr_pop") -> None:
        if not _CHANNEL.match(channel):
            raise ValueError(f"bad NOTIFY channel name {channel!r}")
        self._dsn = dsn
        self.channel = channel
        self._conn: Any = None
        self._lock = asyncio.Lock()
        self._on_message: Callable[[str], None] | None = None
        self._reconnecting: asyncio.Task[None] | None = None
        self._closing = False
        self.connected = asyncio.Event()
        """Set while the node is listening; cleared when the connection drops."""
        self.reconnected = asyncio.Event()
        """Set once the bus has listened again after losing its connection."""

    async def start(self, on_message: Callable[[str], None]) -> None:
        """Listen; with the database unreachable (a degraded start), keep retrying in the
        background rather than refuse to serve calls."""
        self._on_message = on_message
        try:
            await self._connect()
        except Exception as exc:  # asyncpg's own errors too (a missing role...)
            log.warning("pop bus: cannot listen yet (%s); retrying in the background",
                        describe(exc))
            self._reconnecting = asyncio.get_running_loop().create_task(
                self._reconnect(said=True))

    async def _connect(self) -> None:
        # asyncpg ships no type hints; loaded by name so mypy sees Any, not a missing stub.
        asyncpg = importlib.import_module("asyncpg")
        conn = await asyncpg.connect(self._dsn, timeout=CONNECT_TIMEOUT)
        await conn.add_listener(self.channel, self._listener)
        conn.add_termination_listener(self._terminated)
        self._conn = conn
        self.connected.set()

    def backend_pid(self) -> int | None:
        """PostgreSQL's process id of the listening connection (for operators and tests)."""
        if self._conn is None or self._conn.is_closed():
            return None
        return int(self._conn.get_server_pid())

    def _terminated(self, _conn: object) -> None:
        # Pops published while nobody listens are lost, so listen again at once.
        self.connected.clear()
        if self._closing or (self._reconnecting and not self._reconnecting.done()):
            return
        log.warning("pop bus: lost the PostgreSQL connection; reconnecting")
        self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self, *, said: bool = False) -> None:
        """Listen again, with backoff; ``said``: the failure was logged already."""
        delay = RECONNECT_MIN
        while not self._closing:
            try:
                async with self._lock:
                    await self._connect()
                log.warning("pop bus: listening again")
                self.reconnected.set()
                return
            except Exception as exc:  # asyncpg's own errors too (database starting up...)
                # Said once; a database down for an hour is not 400 more warnings.
                level = logging.DEBUG if said else logging.WARNING
                said = True
                log.log(level, "pop bus: reconnect failed (%s); retrying with backoff "
                        "(next in %.1f s)", describe(exc), delay)
            await asyncio.sleep(delay)
            delay = min(RECONNECT_MAX, delay * 2)

    def _listener(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if self._on_message is not None:
            self._on_message(payload)

    async def publish(self, payload: str) -> None:
        if len(payload.encode("utf-8")) > MAX_PAYLOAD:
            raise ValueError("pop notification too large for NOTIFY")
        async with self._lock:
            if self._conn is None or self._conn.is_closed():
                log.warning("pop bus connection lost; reconnecting")
                await self._connect()
            await self._conn.execute("SELECT pg_notify($1, $2)", self.channel, payload)

    async def close(self) -> None:
        self._closing = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnecting
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            await conn.close()
