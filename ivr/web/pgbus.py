"""PostgreSQL LISTEN/NOTIFY fan-out of pops between web nodes.

One dedicated asyncpg connection per node: it ``LISTEN``\\s on the channel and sends
``pg_notify`` for pops this node publishes (PostgreSQL delivers a notification to every
listening session, the sender's included, so every node delivers the same way). The
store's SQLAlchemy pool is left alone: a pooled connection may not stay listening.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import re
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: PostgreSQL refuses NOTIFY payloads of 8000 bytes or more; pops carry ids only.
MAX_PAYLOAD = 7999
#: A channel name is an SQL identifier; we only use plain lowercase ones.
_CHANNEL = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: Seconds to wait for the database when connecting; a node without its bus is degraded
#: (pops reach no agent), so failing start loudly beats hanging.
CONNECT_TIMEOUT = 10.0


class PostgresPopBus:
    def __init__(self, dsn: str, channel: str = "ivr_pop") -> None:
        if not _CHANNEL.match(channel):
            raise ValueError(f"bad NOTIFY channel name {channel!r}")
        self._dsn = dsn
        self.channel = channel
        self._conn: Any = None
        self._lock = asyncio.Lock()
        self._on_message: Callable[[str], None] | None = None

    async def start(self, on_message: Callable[[str], None]) -> None:
        self._on_message = on_message
        await self._connect()

    async def _connect(self) -> None:
        # asyncpg ships no type hints; loaded by name so mypy sees Any, not a missing stub.
        asyncpg = importlib.import_module("asyncpg")
        conn = await asyncpg.connect(self._dsn, timeout=CONNECT_TIMEOUT)
        await conn.add_listener(self.channel, self._listener)
        self._conn = conn

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
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            await conn.close()
