"""Spoken values by kind: check the value's type, localise times, pick the language.

``words_for("money", 1250000, "vi", ...)`` -> ``["w_mot", "w_trieu", ...]``. The catalog
turns the ids into prompts; ``ivr say`` prints them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from ivr.prompts import speech_en, speech_vi
from ivr.prompts.speech_vi import ViStyle

SAY_KINDS = frozenset({"number", "digits", "money", "date", "time", "datetime", "duration"})

#: Separators callers see in printed numbers ("0901 234 567", "PB-0601"); not spoken.
DIGIT_SEPARATORS = " -."

#: Longest digit string or number we speak: past this it is a bug upstream, not a value
#: any caller wants to hear (a 13-character customer code is the longest real one).
MAX_DIGITS = 40


def _number(kind: str, value: object) -> int | Decimal:
    if isinstance(value, bool):
        raise ValueError(f"{kind}: expected a number, got a bool")
    if isinstance(value, int):
        number: int | Decimal = value
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, float):
        # repr gives the shortest text that round-trips: 3.5 -> Decimal("3.5"), not 3.4999...
        number = Decimal(repr(value))
    else:
        raise ValueError(f"{kind}: expected an int or Decimal, got {type(value).__name__}")
    if isinstance(number, Decimal):
        if not number.is_finite():
            raise ValueError(f"{kind}: cannot speak {number}")
        if number == number.to_integral_value():
            number = int(number)
    if len(str(abs(int(number)))) > MAX_DIGITS:
        raise ValueError(f"{kind}: number too large to speak")
    return number


def _digits(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        text = str(value)
    elif isinstance(value, str):
        text = "".join(ch for ch in value if ch not in DIGIT_SEPARATORS)
    else:
        raise ValueError(f"digits: expected a string of digits, got {type(value).__name__}")
    if not text or not text.isascii() or not text.isdigit():
        raise ValueError(f"digits: {value!r} is not a string of digits")
    if len(text) > MAX_DIGITS:
        raise ValueError(f"digits: longer than {MAX_DIGITS} digits")
    return text


def _local(kind: str, value: object, zone: tzinfo) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{kind}: expected an aware datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{kind}: the datetime has no time zone")
    return value.astimezone(zone)


def _date(value: object, zone: tzinfo) -> date:
    if isinstance(value, datetime):
        return _local("date", value, zone).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    raise ValueError(f"date: expected a date, got {type(value).__name__}")


def _time(value: object, zone: tzinfo) -> time:
    if isinstance(value, time):
        return value  # a wall-clock time (opening hours) is already local
    return _local("time", value, zone).time()


def _seconds(value: object) -> int:
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise ValueError(f"duration: expected a timedelta or seconds, got {type(value).__name__}")
    if seconds < 0 or seconds != seconds:  # negative or NaN
        raise ValueError(f"duration: cannot speak {value!r}")
    return round(seconds)


def _vi(kind: str, value: object, style: ViStyle, zone: tzinfo) -> list[str]:
    if kind == "number":
        number = _number(kind, value)
        if isinstance(number, Decimal):
            return speech_vi.decimal(number, style)
        return speech_vi.number(number, style)
    if kind == "money":
        return speech_vi.money(_number(kind, value), style)
    if kind == "digits":
        return speech_vi.digits(_digits(value))
    if kind == "date":
        return speech_vi.date_words(_date(value, zone), style)
    if kind == "time":
        return speech_vi.time_words(_time(value, zone), style)
    if kind == "datetime":
        local = _local(kind, value, zone)
        return speech_vi.datetime_words(local.date(), local.time(), style)
    return speech_vi.duration(_seconds(value), style)


def _en(kind: str, value: object, zone: tzinfo) -> list[str]:
    if kind == "number":
        number = _number(kind, value)
        if isinstance(number, Decimal):
            return speech_en.decimal(number)
        return speech_en.number(number)
    if kind == "money":
        return speech_en.money(_number(kind, value))
    if kind == "digits":
        return speech_en.digits(_digits(value))
    if kind == "date":
        return speech_en.date_words(_date(value, zone))
    if kind == "time":
        return speech_en.time_words(_time(value, zone))
    if kind == "datetime":
        local = _local(kind, value, zone)
        return speech_en.datetime_words(local.date(), local.time())
    return speech_en.duration(_seconds(value))


def words_for(
    kind: str, value: object, language: str, *, style: ViStyle, zone: tzinfo
) -> list[str]:
    """Word ids that speak ``value`` as ``kind`` in ``language``.

    ValueError for an unknown kind or language, or a value of the wrong type.
    Aware datetimes are spoken in ``zone`` (the hotline's local time).
    """
    if kind not in SAY_KINDS:
        raise ValueError(f"unknown kind {kind!r} (one of {', '.join(sorted(SAY_KINDS))})")
    speakers: dict[str, Callable[[], list[str]]] = {
        "vi": lambda: _vi(kind, value, style, zone),
        "en": lambda: _en(kind, value, zone),
    }
    if language not in speakers:
        raise ValueError(f"cannot speak values in language {language!r}")
    return speakers[language]()
