"""What "today" is for ivr during a test run (``--today`` / ``IVR_TEST_TODAY``).

A test that still reads the system clock passes on the day it was written and fails on
another (CI went red on 1 December when the demo bill moved to the next month). Running
the date-sensitive tests (``pytest -m dates``) with the system clock moved to a month
end at night, New Year's Day and a Tết holiday finds such a test on any day.

Every ivr module reads the wall clock through ``ivr.clock`` (``tests/test_clock_reads.py``
holds it to that), so moving :class:`ivr.clock.SystemClock` moves ivr's clock; child
processes get the same instant through ``IVR_NOW``, which they read at start.
"""

from __future__ import annotations

import os
from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime

from ivr import clock

TODAY_ENV = "IVR_TEST_TODAY"


class TodayError(ValueError):
    """The pinned "today" is not an ISO 8601 date-time (the runner's mistake)."""


def parse_today(raw: str) -> datetime:
    """``2027-01-01T09:00:00+07:00``; without an offset it is the hotline's local time."""
    try:
        at = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise TodayError(f"--today/{TODAY_ENV}={raw!r} is not an ISO 8601 date-time "
                         "like 2027-01-01T09:00:00+07:00") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=clock.DEFAULT_TZ)


def move_system_clock(
    at: datetime, environ: MutableMapping[str, str] = os.environ
) -> Callable[[], None]:
    """Make ivr's system clock start at ``at`` and run on; returns the undo.

    Child processes get ``IVR_NOW`` (unless a test set its own): it is how an ``ivr``
    process is told the time, so for them it is the system clock moved.
    """
    pinned = clock.PinnedClock(at)
    real_now, real_utcnow = clock.SystemClock.now, clock.utcnow

    def now(self: clock.SystemClock) -> datetime:
        return pinned.now().astimezone(self._tz)

    def utcnow() -> datetime:
        return pinned.now().astimezone(UTC)

    clock.SystemClock.now = now  # type: ignore[method-assign]
    clock.utcnow = utcnow
    had_env = "IVR_NOW" in environ
    environ.setdefault("IVR_NOW", at.isoformat())

    def undo() -> None:
        clock.SystemClock.now = real_now  # type: ignore[method-assign]
        clock.utcnow = real_utcnow
        if not had_env:
            environ.pop("IVR_NOW", None)

    return undo
