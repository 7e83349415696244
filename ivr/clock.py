"""The clock, injected so tests and demos can pin time (``IVR_NOW``)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo

#: The hotline's own time zone; opening hours and spoken dates are in local time.
DEFAULT_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware current time."""
        ...


class SystemClock:
    def __init__(self, tz: tzinfo = DEFAULT_TZ) -> None:
        self._tz = tz

    def now(self) -> datetime:
        return datetime.now(self._tz)


class FixedClock:
    """Always the same instant (tests)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at


class PinnedClock:
    """Starts at a pinned instant and runs on from there (demos with ``IVR_NOW``)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("PinnedClock needs an aware datetime")
        self._start = start
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        from datetime import timedelta

        return self._start + timedelta(seconds=time.monotonic() - self._t0)


def clock_from_env(environ: Mapping[str, str]) -> Clock:
    """``IVR_NOW=2026-12-01T10:00:00+07:00`` pins the clock; otherwise system time."""
    pinned = environ.get("IVR_NOW", "").strip()
    if not pinned:
        return SystemClock()
    try:
        at = datetime.fromisoformat(pinned)
    except ValueError:
        raise ValueError(f"IVR_NOW={pinned!r} is not an ISO 8601 date-time") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=DEFAULT_TZ)
    return PinnedClock(at)


def utcnow() -> datetime:
    return datetime.now(UTC)
