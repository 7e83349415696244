"""Bringing a database back: the start-up preparation, and the watch that retries it.

``ivr serve`` started while the database was unreachable serves degraded (see
:mod:`ivr.store.health`); the watch task keeps trying to prepare it (migrate, seed as
at a normal start) with a backoff, then replays the records spilled meanwhile. On a
running server it also probes a broken circuit when no call does, notices a replaced
SQLite file without waiting for a write, and replays spilled records once the
database takes writes again.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from ivr.spill import SpillFile
from ivr.store.health import FIRST_BREAK, MAX_BREAK, describe_db_error, is_database_failure
from ivr.store.seed import seed_demo_if_empty
from ivr.store.store import Store

log = logging.getLogger(__name__)

#: What a database that cannot be reached or used raises (a mistake in the URL itself
#: fails earlier, when the engine is made, and is the user's to fix).
DATABASE_ERRORS = (SQLAlchemyError, OSError, TimeoutError)
#: Seconds between the watch's looks: a stat of the SQLite file and, when a breaker's
#: break is over and no call has probed it, one ``SELECT 1``. Cheap enough to be often.
WATCH_INTERVAL = 1.0
#: Seconds a probe may take before it counts as failed: like a write action's timeout.
PROBE_TIMEOUT = 5.0


async def prepare_database(store: Store, *, seed_demo: bool) -> None:
    """What a normal start does to the database: migrate, then seed an empty one."""
    await store.migrate()
    if seed_demo:
        await seed_demo_if_empty(store)


def what_to_check(url: str) -> str:
    """The operator's next step for a database ``url`` that cannot be reached."""
    parsed: URL = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return (f"check that {parsed.database} is a SQLite database file (or absent) and "
                "that its directory exists and is writable by this user")
    host = parsed.host or "localhost"
    where = f"{host}:{parsed.port or 5432}"
    role = parsed.username or "(the current user)"
    return (f"check that PostgreSQL runs and listens on {where}, that role {role} may log "
            f"in with this password (pg_hba.conf) and that database {parsed.database} exists")


def unreachable_message(url: str, exc: BaseException) -> str:
    safe = make_url(url).render_as_string(hide_password=True)
    return f"database {safe} unreachable ({describe_db_error(exc)}); {what_to_check(url)}"


async def watch_database(store: Store, spill: SpillFile, *, seed_demo: bool,
                         interval: float = WATCH_INTERVAL,
                         settled: asyncio.Event | None = None) -> None:
    """Run until cancelled (the service's background task). ``settled`` is set while the
    database is healthy with no spilled record left (tests and benchmarks wait on it)."""
    health = store.health
    delay = FIRST_BREAK
    while True:
        health.file_is_ours()  # logs (once) a file deleted or replaced under us
        if health.unreachable_at_start is not None:
            if not await _try_prepare(store, seed_demo=seed_demo):
                await asyncio.sleep(delay)
                delay = min(MAX_BREAK, delay * 2)
                continue
            health.prepared()
            log.warning("database %s reachable again: migrated; serving normally",
                        health.name)
        else:
            await _probe_if_due(store)
        if health.ok and spill.pending():
            await spill.replay(store)
        if settled is not None:
            (settled.set if health.ok and not spill.pending() else settled.clear)()
        await asyncio.sleep(interval)


async def _try_prepare(store: Store, *, seed_demo: bool) -> bool:
    try:
        await prepare_database(store, seed_demo=seed_demo)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if is_database_failure(exc):
            log.debug("database %s still unreachable: %s", store.health.name,
                      describe_db_error(exc))
        else:  # reachable but not preparable (a migration failing): say so each time
            log.error("database %s cannot be prepared: %s", store.health.name,
                      describe_db_error(exc))
        return False
    return True


async def _probe_if_due(store: Store) -> None:
    """Probe each breaker whose break is over, in case no call comes to do it."""
    for write in (False, True):
        if not store.health.breaker(write=write).probe_due():
            continue
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                await store.ping(write=write)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the breaker has counted it; the next probe will tell
            log.debug("database %s probe failed: %s", store.health.name,
                      describe_db_error(exc))
