"""Read-mostly data from memory: open and planned outages by area, area names, the
corporations' account prefixes.

Every call in a storm asks about the same few outages; the tables behind them change a
few times a day. So the store keeps one frozen :class:`ReadMostly` snapshot per process
and asks the database only whether it is still current:

- **writes in this process** (:meth:`ivr.store.Store.declare_outage`, ``restore_outage``)
  drop the snapshot before they return: the next caller hears the change;
- **writes anywhere else** (another ``ivr serve``, a SQL shell, the utility's outage
  system) move the version row ``store_versions.read_mostly`` on, by trigger (migration
  0002). On PostgreSQL the same trigger sends ``NOTIFY ivr_store_changed`` and a listening
  store drops its snapshot when the notification arrives (at the writer's commit); while
  it cannot listen (the database restarting) it polls as on SQLite: the version row is
  read at most once per ``max_stale`` seconds, which bounds how stale a snapshot can be.

A reload reads the version first and the rows after, so a change committed in between
is seen as a newer version at the next check, never missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Connection, select

from ivr.failures import describe
from ivr.store.models import areas, corporations, outages, store_versions

log = logging.getLogger(__name__)

#: Outage rows with this stored status are still affecting customers (or will).
OPEN = "open"
#: The version row the triggers move on (migration 0002).
VERSION_ROW = "read_mostly"
#: PostgreSQL channel the triggers notify; the payload is the changed table's schema.
CHANNEL = "ivr_store_changed"
#: Seconds a snapshot is used before the version row is read again, when nothing tells
#: the store of changes (SQLite; PostgreSQL while not listening). A change made by
#: another process is heard by callers within this bound.
MAX_STALE = 0.5
#: Seconds a listening cache trusts its snapshot without reading the version row: a
#: safety net for a notification lost on a connection that died without saying so.
LISTENING_RECHECK = 10.0
#: Areas one name search may cover: "Quận 3" names a few dozen wards; a search that
#: matches more than this says nothing useful about any one of them.
MAX_AREAS_BY_NAME = 200
#: Reconnect delays of the LISTEN connection after it drops.
RECONNECT_MIN = 0.2
RECONNECT_MAX = 10.0
#: Seconds to wait for PostgreSQL when opening the LISTEN connection.
CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class CachedOutage:
    id: int
    area_id: int
    area: str
    planned: bool
    cause: str
    started_at: datetime
    estimated_restore: datetime | None


@dataclass(frozen=True, slots=True)
class ReadMostly:
    """One consistent picture of the cached tables at ``version``."""

    version: int
    outages: Mapping[int, tuple[CachedOutage, ...]]
    """Open outages (active or planned) by area id."""
    area_names: tuple[tuple[int, str], ...]
    """(area id, lower-cased name), by id: what a name search scans."""
    prefixes: tuple[str, ...]
    """The corporations' two-letter account prefixes."""

    def outage_for_areas(
        self, area_ids: Sequence[int], now: datetime, tz: tzinfo, *, include_scheduled: bool
    ) -> dict[str, Any] | None:
        """The outage affecting these areas now (latest started), else, when asked, the
        next planned one. ``status`` is ``active`` or ``scheduled``, judged at ``now``."""
        rows = [o for area in area_ids for o in self.outages.get(area, ())]
        active = [o for o in rows if o.started_at <= now]
        if active:
            chosen = max(active, key=lambda o: o.started_at)
        elif include_scheduled and rows:
            chosen = min(rows, key=lambda o: o.started_at)
        else:
            return None
        restore = chosen.estimated_restore
        return {
            "id": chosen.id,
            "area": chosen.area,
            "planned": chosen.planned,
            "cause": chosen.cause,
            "started_at": chosen.started_at.astimezone(tz),
            "estimated_restore": None if restore is None else restore.astimezone(tz),
            "status": "active" if chosen.started_at <= now else "scheduled",
        }

    def area_ids_by_name(self, text: str) -> list[int]:
        """Areas whose name contains ``text`` (case-insensitive), at most
        MAX_AREAS_BY_NAME (more says nothing about any one of them: none then)."""
        wanted = text.lower()
        ids = [i for i, name in self.area_names if wanted in name]
        return [] if len(ids) > MAX_AREAS_BY_NAME else ids


def read_version(conn: Connection) -> int:
    found = conn.scalar(
        select(store_versions.c.version).where(store_versions.c.name == VERSION_ROW)
    )
    return -1 if found is None else int(found)


def load(conn: Connection) -> ReadMostly:
    """The snapshot, in one hop: version first (see the module's docstring)."""
    version = read_version(conn)
    by_area: dict[int, list[CachedOutage]] = {}
    rows = conn.execute(
        select(outages, areas.c.name.label("area"))
        .join(areas, areas.c.id == outages.c.area_id)
        .where(outages.c.status == OPEN)
    )
    for r in rows:
        by_area.setdefault(int(r.area_id), []).append(
            CachedOutage(int(r.id), int(r.area_id), r.area, bool(r.planned), r.cause,
                         r.started_at, r.estimated_restore)
        )
    names = tuple(
        (int(i), str(name).lower())
        for i, name in conn.execute(select(areas.c.id, areas.c.name).order_by(areas.c.id))
    )
    prefixes = tuple(
        str(p) for (p,) in conn.execute(select(corporations.c.prefix).order_by(corporations.c.id))
    )
    return ReadMostly(version, {k: tuple(v) for k, v in by_area.items()}, names, prefixes)


Reader = Callable[[Callable[[Connection], Any]], Awaitable[Any]]


class ReadMostlyCache:
    """The current snapshot, reloaded when it may be stale (see the module docstring)."""

    def __init__(
        self,
        read: Reader,
        *,
        max_stale: float = MAX_STALE,
        monotonic: Callable[[], float] = time.monotonic,
        listen_dsn: str | None = None,
        schema: str | None = None,
    ) -> None:
        self._read = read
        self.max_stale = max_stale
        self._monotonic = monotonic
        self._snap: ReadMostly | None = None
        self._checked_at = 0.0
        self._generation = 0
        self._pending: asyncio.Future[ReadMostly] | None = None
        self._listen_dsn = listen_dsn
        self._schema = schema or "public"
        self._listener: asyncio.Task[None] | None = None
        self._conn: Any = None
        self._lost = asyncio.Event()
        self.listening = False
        """True while a LISTEN connection tells this cache of every change."""
        self.loads = 0
        """Snapshots loaded (tests: a storm loads once, not per call)."""

    def invalidate(self) -> None:
        """Drop the snapshot: the next use reloads (a write in this process, a NOTIFY)."""
        self._generation += 1
        self._snap = None
        self._pending = None

    async def get(self) -> ReadMostly:
        if self._listen_dsn is not None and self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(self._listen())
        snap = self._snap
        bound = LISTENING_RECHECK if self.listening else self.max_stale
        if snap is not None and self._monotonic() - self._checked_at < bound:
            return snap
        pending = self._pending
        if pending is None:
            pending = self._pending = asyncio.ensure_future(self._refresh(snap))
            # Read by someone, even when every waiter has given up (their timeouts).
            pending.add_done_callback(lambda f: f.cancelled() or f.exception())
        # Shielded: one caller's timeout must not cancel the reload the others await.
        return await asyncio.shield(pending)

    async def _refresh(self, snap: ReadMostly | None) -> ReadMostly:
        generation = self._generation
        try:
            checked_at = self._monotonic()
            if snap is not None and await self._read(read_version) == snap.version:
                fresh = snap
            else:
                fresh = await self._read(load)
                self.loads += 1
            if generation == self._generation:  # nothing changed while we read
                self._snap, self._checked_at = fresh, checked_at
            return fresh
        finally:
            if generation == self._generation:
                self._pending = None

    # -- PostgreSQL LISTEN -------------------------------------------------------------

    async def _listen(self) -> None:
        delay = RECONNECT_MIN
        while True:
            try:
                self._lost.clear()
                await self._connect()
                delay = RECONNECT_MIN
                await self._lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # asyncpg's own errors too
                log.debug("store cache: cannot listen (%s); polling every %g s meanwhile",
                          describe(exc), self.max_stale)
            self.listening = False
            await asyncio.sleep(delay)
            delay = min(RECONNECT_MAX, delay * 2)

    async def _connect(self) -> None:
        # asyncpg ships no type hints; loaded by name so mypy sees Any.
        asyncpg = importlib.import_module("asyncpg")
        conn = await asyncpg.connect(self._listen_dsn, timeout=CONNECT_TIMEOUT)
        await conn.add_listener(CHANNEL, self._notified)
        conn.add_termination_listener(self._terminated)
        self._conn = conn
        # Changes made while nobody listened were not notified: start from the database.
        self.invalidate()
        self.listening = True

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if payload == self._schema:
            self.invalidate()

    def _terminated(self, _conn: object) -> None:
        self.listening = False
        self._lost.set()

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None
        self.listening = False
