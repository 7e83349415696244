"""``--today``: the moved system clock the date-sensitive runs rely on (``clock_pin.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from clock_pin import TodayError, move_system_clock, parse_today

from ivr import clock
from ivr.clock import DEFAULT_TZ, SystemClock
from ivr.store import Store

TET = datetime(2027, 2, 8, 10, 0, tzinfo=DEFAULT_TZ)  # a Monday, third day of Tết


def test_today_is_iso_and_local_by_default() -> None:
    assert parse_today("2027-02-08T10:00") == TET
    assert parse_today(" 2027-02-08T03:00:00+00:00 ") == TET
    with pytest.raises(TodayError) as caught:
        parse_today("8/2/2027")
    assert str(caught.value) == (
        "--today/IVR_TEST_TODAY='8/2/2027' is not an ISO 8601 date-time like "
        "2027-01-01T09:00:00+07:00")


def test_moved_system_clock_starts_there_runs_on_and_is_undone() -> None:
    environ: dict[str, str] = {}
    before = (SystemClock.now, clock.utcnow)
    undo = move_system_clock(TET, environ)
    try:
        first, second = SystemClock().now(), SystemClock().now()
        assert TET <= first <= second and first.date() == TET.date()
        assert first.utcoffset() == TET.utcoffset()  # still the hotline's zone
        assert clock.utcnow().tzinfo is UTC and clock.utcnow().date() == TET.date()
        assert environ == {"IVR_NOW": TET.isoformat()}  # what child processes read
    finally:
        undo()
    assert (SystemClock.now, clock.utcnow) == before
    assert environ == {}


def test_a_test_that_pins_its_own_children_keeps_its_pin() -> None:
    environ = {"IVR_NOW": "2026-11-26T10:00:00+07:00"}
    move_system_clock(TET, environ)()
    assert environ == {"IVR_NOW": "2026-11-26T10:00:00+07:00"}


async def test_a_store_opened_without_a_clock_sees_the_moved_day(tmp_path: Path) -> None:
    # The mechanism behind the red CI: the demo data follows the store's clock.
    undo = move_system_clock(TET, {})
    try:
        store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}")
        try:
            assert store.clock.now().date() == TET.date()
        finally:
            await store.close()
    finally:
        undo()


@pytest.mark.dates
def test_this_run_is_on_the_day_it_was_told(pytestconfig: pytest.Config) -> None:
    # In `scripts/dev test-dates` this proves the dates runs are not on the real day.
    raw = str(pytestconfig.getoption("--today"))
    if raw:
        assert SystemClock().now().date() == parse_today(raw).astimezone(DEFAULT_TZ).date()
    else:
        assert SystemClock.now.__module__ == "ivr.clock"  # the real system clock
