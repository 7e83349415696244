"""Is the database answering? The circuit breaker, the degraded start, the file's identity.

Sans-IO like the protocol cores: the store reports what each operation did
(``answered``, ``failed``) and asks before each one (``admit``); time comes from an
injected monotonic clock, so tests step it instead of sleeping. Nothing here touches
the database; ``Store`` and the service's watch task do.

- **Circuit breaker.** A database that is down or stuck makes every lookup wait its
  whole timeout before the flow apologises. After ``FAILURES_TO_OPEN`` failures in a
  row the circuit opens: operations are refused at once (the flow's ``error`` branch,
  a record to the spill file) for a break that starts at ``FIRST_BREAK`` and doubles
  up to ``MAX_BREAK`` while probes keep failing; then one operation is let through as
  a probe (half-open). The first answer closes it.
- **Degraded start.** ``ivr serve`` started while the database was unreachable: nothing
  is tried until the service's watch task has migrated (and seeded) it.
- **SQLite file identity.** The file deleted or replaced under a running server: SQLite
  keeps writing to the inode it opened, which exists nowhere after a restart. Writes
  are refused from then on (a ticket number the caller hears must be somewhere).
"""

from __future__ import annotations

import enum
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError

from ivr.failures import describe
from ivr.lookups import LookupUnavailable

log = logging.getLogger(__name__)

#: Failures (errors or timeouts) in a row that open the circuit. One is a blip (a pooled
#: connection the database dropped costs one); three in a row is a database that is
#: down or stuck, and every further lookup would hold a caller for its whole timeout.
FAILURES_TO_OPEN = 3
#: Seconds of the first break: short, so a blip costs a second of "sorry" at most.
FIRST_BREAK = 1.0
#: Longest break: the break doubles with each failed probe up to this, so a database
#: that is down for an hour gets one probe every half minute, not one per call.
MAX_BREAK = 30.0


#: What an operator reads after "the SQLite file was deleted or replaced".
REPLACED_ADVICE = ("writes are refused (callers get the error branch, call records go to "
                   "the spill file): restart ivr serve once the right file is in place")


class DatabaseUnavailable(LookupUnavailable):
    """The database is known not to answer now; the operation was not even tried."""


class DatabaseFileReplaced(DatabaseUnavailable):
    """The SQLite file was deleted or replaced under the running server."""


class Breaker(enum.Enum):
    CLOSED = "closed"
    """Operations go through."""
    OPEN = "open"
    """Operations are refused until the break is over."""
    HALF_OPEN = "half_open"
    """One operation (the probe) is in flight; the others are refused until it ends."""


def is_database_failure(exc: BaseException) -> bool:
    """Did the database fail to answer (down, unreachable, locked, broken), as opposed to
    answering "no" (a constraint, bad data) or our own refusal?"""
    if isinstance(exc, LookupUnavailable | IntegrityError | DataError):
        return False
    return isinstance(exc, SQLAlchemyError | OSError | TimeoutError)


def describe_db_error(exc: BaseException) -> str:
    """One line naming the driver's error when SQLAlchemy wraps one (its own text adds
    the SQL statement and a help link on further lines)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        # SQLAlchemy's asyncpg adapter wraps asyncpg's error in its own generic ``Error``:
        # the cause names what happened (InvalidAuthorizationSpecificationError...).
        return describe(exc.orig.__cause__ or exc.orig)
    return describe(exc)


class CircuitBreaker:
    """Consecutive failures open it; a break that doubles; one probe; the first answer
    closes it. Logs one WARNING when it opens and one INFO when it closes."""

    def __init__(
        self,
        name: str,
        *,
        now: Callable[[], float] = time.monotonic,
        failures_to_open: int = FAILURES_TO_OPEN,
        first_break: float = FIRST_BREAK,
        max_break: float = MAX_BREAK,
    ) -> None:
        self.name = name
        self._now = now
        self.failures_to_open = failures_to_open
        self.first_break = first_break
        self.max_break = max_break
        self.state = Breaker.CLOSED
        self.failures = 0
        """Failures in a row (while closed); probes that failed (while open)."""
        self.last_failure = ""
        self._break = first_break
        self._retry_at = 0.0
        self._opened_at = 0.0
        self.opened = 0
        """How many times the circuit has opened (tests, /healthz)."""
        self.on_change: Callable[[], None] | None = None
        """Called after the circuit opens and after it closes (not on each probe)."""

    def allow(self) -> bool:
        """May an operation go to the database now? (In a break: no; after it: one.)"""
        if self.state is Breaker.CLOSED:
            return True
        if self.state is Breaker.OPEN and self._now() >= self._retry_at:
            self.state = Breaker.HALF_OPEN
            return True
        return False

    def probe_due(self) -> bool:
        return self.state is Breaker.OPEN and self._now() >= self._retry_at

    def retry_in(self) -> float:
        """Seconds until the next probe may go (0 when closed or due)."""
        if self.state is not Breaker.OPEN:
            return 0.0
        return max(0.0, self._retry_at - self._now())

    def answered(self) -> None:
        """The database answered an operation (even one admitted before a break)."""
        was_open = self.state is not Breaker.CLOSED
        if was_open:
            log.info("database %s answers again: circuit closed after %.1f s",
                     self.name, self._now() - self._opened_at)
        self.state = Breaker.CLOSED
        self.failures = 0
        self._break = self.first_break
        if was_open and self.on_change is not None:
            self.on_change()

    def failed(self, why: str) -> None:
        """An operation failed or timed out; ``why`` names the failure."""
        self.last_failure = why
        if self.state is Breaker.CLOSED:
            self.failures += 1
            if self.failures >= self.failures_to_open:
                self._open()
        elif self.state is Breaker.HALF_OPEN:
            # The probe failed: a longer break, without a new WARNING (the first said it).
            self._break = min(self.max_break, self._break * 2)
            self.state = Breaker.OPEN
            self._retry_at = self._now() + self._break
            log.debug("database %s: probe failed (%s); next in %g s", self.name, why,
                      self._break)
        # OPEN: an operation admitted before the break ended; the break stands.

    def _open(self) -> None:
        self.state = Breaker.OPEN
        self.opened += 1
        self._break = self.first_break
        self._opened_at = self._now()
        self._retry_at = self._opened_at + self._break
        log.warning("database %s: %d failures in a row (last: %s); circuit open: lookups "
                    "answer error at once, call records go to the spill file, probing "
                    "every %g-%g s", self.name, self.failures, self.last_failure,
                    self.first_break, self.max_break)
        if self.on_change is not None:
            self.on_change()

    def report(self) -> dict[str, Any]:
        return {"circuit": self.state.value, "last_failure": self.last_failure,
                "retry_in_seconds": round(self.retry_in(), 1)}


class FileIdentity:
    """Which file a SQLite database is: ``(st_dev, st_ino)`` of its path when first
    opened. A path that later names another file (or none) is not our database."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.expected: tuple[int, int] | None = None

    def remember(self) -> None:
        """Note the file now at the path (called once a connection has opened it)."""
        if self.expected is None:
            st = os.stat(self.path)
            self.expected = (st.st_dev, st.st_ino)

    def problem(self) -> str | None:
        """Why the path is no longer our database, or None while it is."""
        if self.expected is None:
            return None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return f"the SQLite file {self.path} was deleted while the server runs"
        except OSError as exc:
            return f"the SQLite file {self.path} cannot be checked: {describe(exc)}"
        if (st.st_dev, st.st_ino) != self.expected:
            return f"the SQLite file {self.path} was replaced by another file while the server runs"
        return None


class DatabaseHealth:
    """Everything ``/healthz`` says about one database, and the gate before each use.

    Reads and writes have a breaker each: SQLite locked by another process (a backup
    tool, an open ``sqlite3`` shell) refuses writes while reads go on, and a lookup
    must not be refused because tickets cannot be filed.
    """

    def __init__(self, name: str, *, now: Callable[[], float] = time.monotonic,
                 file: FileIdentity | None = None) -> None:
        self.name = name
        self.reads = CircuitBreaker(f"{name} (reads)", now=now)
        self.writes = CircuitBreaker(f"{name} (writes)", now=now)
        self.file = file
        self.unreachable_at_start: str | None = None
        """Why the database could not be prepared at start (degraded start), until the
        watch task has migrated it."""
        self.replaced: str | None = None
        """Why writes are refused for good (the SQLite file was deleted or replaced)."""

    @property
    def circuit_open(self) -> bool:
        """Is either circuit open (or half open, a probe out)?"""
        return Breaker.CLOSED is not self.reads.state or Breaker.CLOSED is not self.writes.state

    def watch_circuits(self, report: Callable[[bool], None]) -> None:
        """Call ``report(circuit_open)`` now and whenever a circuit opens or closes. The
        service passes ``metrics.database_circuit`` (the gauge
        ``ivr_database_circuit_open``): this module stays sans-IO and imports no metrics."""
        def changed() -> None:
            report(self.circuit_open)

        self.reads.on_change = self.writes.on_change = changed
        changed()

    @property
    def ok(self) -> bool:
        return (self.unreachable_at_start is None and self.replaced is None
                and self.reads.state is Breaker.CLOSED and self.writes.state is Breaker.CLOSED)

    def breaker(self, *, write: bool) -> CircuitBreaker:
        return self.writes if write else self.reads

    def admit(self, *, write: bool = False) -> None:
        """Raise :class:`DatabaseUnavailable` when the operation must not be tried."""
        if self.unreachable_at_start is not None:
            raise DatabaseUnavailable(f"database {self.name} unreachable since start "
                                      f"({self.unreachable_at_start})")
        if write and self.replaced is not None:
            raise DatabaseFileReplaced(f"{self.replaced}: writes refused")
        breaker = self.breaker(write=write)
        if not breaker.allow():
            raise DatabaseUnavailable(f"database {self.name} not answering (circuit open, "
                                      f"last failure: {breaker.last_failure})")

    def start_degraded(self, why: str) -> None:
        self.unreachable_at_start = why

    def prepared(self) -> None:
        """The watch task migrated the database after a degraded start."""
        self.unreachable_at_start = None

    def file_is_ours(self) -> bool:
        """False once the SQLite file has been deleted or replaced (logged once, at
        ERROR: a server writing to a file that is gone)."""
        if self.replaced is None and self.file is not None:
            problem = self.file.problem()
            if problem is not None:
                self.replaced = problem
                log.error("%s; %s", problem, REPLACED_ADVICE)
        return self.replaced is None

    def refuse_if_replaced(self) -> None:
        if not self.file_is_ours():
            raise DatabaseFileReplaced(f"{self.replaced}: writes refused")

    def report(self) -> dict[str, Any]:
        """JSON for ``/healthz``: ``state`` is ``ok`` or says what is wrong."""
        if not self.file_is_ours():
            return {"state": "file_replaced", "detail": f"{self.replaced}; {REPLACED_ADVICE}"}
        if self.unreachable_at_start is not None:
            return {"state": "unreachable",
                    "detail": f"unreachable since start ({self.unreachable_at_start}); "
                              "retrying in the background"}
        if not self.ok:
            return {"state": "circuit_open", "reads": self.reads.report(),
                    "writes": self.writes.report()}
        return {"state": "ok"}
