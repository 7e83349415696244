"""Spoken values in English, as sequences of word-prompt ids (``w_...``).

American style without "and" (105 -> one hundred five), short-scale millions and
billions, "twenty twenty-six" years, "December fifth" dates and a 12-hour clock with
"a m" / "p m" (10:30 -> ten thirty a m). A compound like "twenty-one" is two word
prompts (``w_twenty`` ``w_one``), so the vocabulary stays small.
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

ONES = (
    "w_zero",
    "w_one",
    "w_two",
    "w_three",
    "w_four",
    "w_five",
    "w_six",
    "w_seven",
    "w_eight",
    "w_nine",
    "w_ten",
    "w_eleven",
    "w_twelve",
    "w_thirteen",
    "w_fourteen",
    "w_fifteen",
    "w_sixteen",
    "w_seventeen",
    "w_eighteen",
    "w_nineteen",
)
TENS = (
    "",
    "",
    "w_twenty",
    "w_thirty",
    "w_forty",
    "w_fifty",
    "w_sixty",
    "w_seventy",
    "w_eighty",
    "w_ninety",
)
#: Ordinals for days of the month; 21st-31st are "twenty" + "first" and so on.
ORDINALS = (
    "",
    "w_first",
    "w_second",
    "w_third",
    "w_fourth",
    "w_fifth",
    "w_sixth",
    "w_seventh",
    "w_eighth",
    "w_ninth",
    "w_tenth",
    "w_eleventh",
    "w_twelfth",
    "w_thirteenth",
    "w_fourteenth",
    "w_fifteenth",
    "w_sixteenth",
    "w_seventeenth",
    "w_eighteenth",
    "w_nineteenth",
)
TENS_ORDINALS = {2: "w_twentieth", 3: "w_thirtieth"}
MONTHS = (
    "",
    "w_january",
    "w_february",
    "w_march",
    "w_april",
    "w_may",
    "w_june",
    "w_july",
    "w_august",
    "w_september",
    "w_october",
    "w_november",
    "w_december",
)
HUNDRED = "w_hundred"
#: Short scale, smallest first: 10^3, 10^6, 10^9, 10^12.
SCALES = ("w_thousand", "w_million", "w_billion", "w_trillion")
MINUS = "w_minus"
POINT = "w_point"
DONG = "w_dong"
OH = "w_oh"
AM = "w_a_m"
PM = "w_p_m"
ON = "w_on"
UNITS = (
    ("w_day", "w_days"),
    ("w_hour", "w_hours"),
    ("w_minute", "w_minutes"),
    ("w_second", "w_seconds"),
)


def _below_hundred(value: int) -> list[str]:
    if value < 20:
        return [ONES[value]]
    tens, units = divmod(value, 10)
    return [TENS[tens], ONES[units]] if units else [TENS[tens]]


def _below_thousand(value: int) -> list[str]:
    hundreds, rest = divmod(value, 100)
    words = [ONES[hundreds], HUNDRED] if hundreds else []
    return words + _below_hundred(rest) if rest else words


def number(value: int) -> list[str]:
    """1250000 -> one million two hundred fifty thousand."""
    if value == 0:
        return [ONES[0]]
    if value < 0:
        return [MINUS, *number(-value)]
    groups: list[int] = []
    while value:
        value, group = divmod(value, 1000)
        groups.append(group)
    if len(groups) > len(SCALES) + 1:
        # Past trillions the short scale needs words nobody says on a hotline.
        raise ValueError("number too large to speak")
    words: list[str] = []
    for index in range(len(groups) - 1, -1, -1):
        if groups[index]:
            words += _below_thousand(groups[index])
            if index:
                words.append(SCALES[index - 1])
    return words


def decimal(value: Decimal) -> list[str]:
    """3.25 -> three point two five (the fraction digit by digit)."""
    if not value.is_finite():
        raise ValueError(f"cannot speak {value}")
    sign, digit_tuple, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)  # finite, checked above
    if exponent >= 0:
        return number(int(value))
    text = "".join(str(d) for d in digit_tuple).rjust(-exponent + 1, "0")
    words = [MINUS] if sign else []
    return words + number(int(text[:exponent])) + [POINT] + digits(text[exponent:])


def digits(text: str) -> list[str]:
    """Digit by digit: "0901" -> zero nine zero one."""
    return [ONES[int(ch)] for ch in text]


def money(value: int | Decimal) -> list[str]:
    """1250000 -> one million two hundred fifty thousand dong."""
    words = decimal(value) if isinstance(value, Decimal) else number(value)
    return [*words, DONG]


def ordinal(value: int) -> list[str]:
    """1-31 as a day of the month: first ... thirty first."""
    if not 1 <= value <= 39:
        raise ValueError(f"no day-of-month ordinal for {value}")
    if value < 20:
        return [ORDINALS[value]]
    tens, units = divmod(value, 10)
    return [TENS_ORDINALS[tens]] if units == 0 else [TENS[tens], ORDINALS[units]]


def year(value: int) -> list[str]:
    """2026 -> twenty twenty-six; 2000 -> two thousand; 2005 -> two thousand five;
    1905 -> nineteen oh five; 1900 -> nineteen hundred."""
    if not 1000 <= value <= 9999:
        return number(value)
    high, low = divmod(value, 100)
    if low == 0:
        return number(value) if high % 10 == 0 else [*_below_hundred(high), HUNDRED]
    if high % 10 == 0 and low < 10:
        return number(value)  # 2005 -> two thousand five
    return _below_hundred(high) + ([OH, ONES[low]] if low < 10 else _below_hundred(low))


def date_words(value: date) -> list[str]:
    """December fifth, twenty twenty-six."""
    return [MONTHS[value.month], *ordinal(value.day), *year(value.year)]


def time_words(value: time) -> list[str]:
    """12-hour clock: 10:30 -> ten thirty a m; 14:00 -> two p m; 09:05 -> nine oh five
    a m; 00:00 -> twelve a m; 12:00 -> twelve p m."""
    hour = value.hour % 12 or 12
    words = _below_hundred(hour)
    # On the hour: "ten a m", not "ten o'clock a m".
    if 0 < value.minute < 10:
        words += [OH, ONES[value.minute]]
    elif value.minute:
        words += _below_hundred(value.minute)
    return [*words, AM if value.hour < 12 else PM]


def datetime_words(day: date, at: time) -> list[str]:
    """ten thirty a m on December fifth twenty twenty-six."""
    return [*time_words(at), ON, *date_words(day)]


def duration(seconds: int) -> list[str]:
    """one hour thirty minutes: every non-zero part; 0 -> zero seconds."""
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    words: list[str] = []
    for amount, (one, many) in zip((days, hours, minutes, secs), UNITS, strict=True):
        if amount:
            words += [*number(amount), one if amount == 1 else many]
    return words or [ONES[0], UNITS[3][1]]
