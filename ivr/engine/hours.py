"""Opening hours and public holidays for ``hours`` nodes; the clock is injected."""

from __future__ import annotations

from datetime import date, datetime

import holidays as holidays_lib

from ivr.clock import DEFAULT_TZ
from ivr.flows.model import HoursState, OpeningHours


class HolidayCalendar:
    """Public holidays per country, built lazily per year (the package computes lunar ones)."""

    def __init__(self) -> None:
        self._years: dict[tuple[str, int], holidays_lib.HolidayBase] = {}

    def is_holiday(self, country: str, day: date) -> bool:
        key = (country, day.year)
        if key not in self._years:
            self._years[key] = holidays_lib.country_holidays(country, years=day.year)
        return day in self._years[key]

    def name(self, country: str, day: date) -> str | None:
        return self._years[(country, day.year)].get(day) if self.is_holiday(country, day) else None


def hours_state(hours: OpeningHours, now: datetime, calendar: HolidayCalendar) -> HoursState:
    """Whether a desk is open at ``now`` (converted to the hotline's local time)."""
    local = now.astimezone(DEFAULT_TZ)
    if hours.holidays and calendar.is_holiday(hours.holidays, local.date()):
        return HoursState.HOLIDAY
    t = local.time().replace(tzinfo=None)
    for start, end in hours.weekly[local.weekday()]:
        if start <= t < end:
            return HoursState.OPEN
    return HoursState.CLOSED
