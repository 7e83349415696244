"""English spoken values. Integers are checked against num2words (a sound oracle for
English), normalised to the American reading we speak: no "and", no commas, compounds
as separate words ("twenty-one" is the two prompts "twenty" "one")."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from ivr.prompts.catalog import PromptCatalog

num2words = pytest.importorskip("num2words", reason="dev dependency num2words not installed")

CATALOG = PromptCatalog.from_texts({})


def words(kind: str, value: object) -> str:
    return " ".join(p.text for p in CATALOG.say(kind, value, "en"))


def oracle(value: int) -> str:
    text = num2words.num2words(value, lang="en").replace("-", " ").replace(",", "")
    return re.sub(r"\band\b ", "", text)


VALUES = [
    0,
    1,
    2,
    9,
    10,
    11,
    12,
    13,
    14,
    15,
    19,
    20,
    21,
    24,
    25,
    30,
    42,
    55,
    99,
    100,
    101,
    105,
    110,
    111,
    115,
    121,
    200,
    999,
    1000,
    1001,
    1005,
    1010,
    1015,
    1100,
    1234,
    2026,
    9999,
    10000,
    10005,
    15000,
    21000,
    25500,
    100000,
    100005,
    105000,
    110000,
    999999,
    1000000,
    1000001,
    1000010,
    1001000,
    1234500,
    1250000,
    2500000,
    10000000,
    21000000,
    100000000,
    1000000000,
    1000000001,
    2500000000,
    15000000000,
    1000000000000,
    999999999999999,
]


def test_table_is_big_enough() -> None:
    assert len(VALUES) >= 60


@pytest.mark.parametrize("value", VALUES)
def test_number_matches_num2words(value: int) -> None:
    assert words("number", value) == oracle(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (105, "one hundred five"),
        (1250000, "one million two hundred fifty thousand"),
        (21, "twenty one"),
        (-5, "minus five"),
        (Decimal("3.5"), "three point five"),
        (Decimal("3.05"), "three point zero five"),
        (Decimal("-0.25"), "minus zero point two five"),
    ],
)
def test_number_by_hand(value: object, expected: str) -> None:
    assert words("number", value) == expected


def test_too_large() -> None:
    with pytest.raises(ValueError):
        CATALOG.say("number", 10**15, "en")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1250000, "one million two hundred fifty thousand dong"),
        (0, "zero dong"),
        (Decimal("1005"), "one thousand five dong"),
    ],
)
def test_money(value: object, expected: str) -> None:
    assert words("money", value) == expected


def test_digits() -> None:
    assert words("digits", "0901 234") == "zero nine zero one two three four"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2026, 12, 5), "December fifth twenty twenty six"),
        (date(2026, 1, 1), "January first twenty twenty six"),
        (date(2026, 3, 22), "March twenty second twenty twenty six"),
        (date(2026, 5, 30), "May thirtieth twenty twenty six"),
        (date(2026, 7, 31), "July thirty first twenty twenty six"),
        (date(2026, 2, 20), "February twentieth twenty twenty six"),
        (date(2026, 4, 12), "April twelfth twenty twenty six"),
        (date(2000, 6, 3), "June third two thousand"),
        (date(2005, 8, 11), "August eleventh two thousand five"),
        (date(2010, 9, 9), "September ninth twenty ten"),
        (date(1999, 10, 13), "October thirteenth nineteen ninety nine"),
        (date(1905, 11, 2), "November second nineteen oh five"),
        (date(1900, 12, 25), "December twenty fifth nineteen hundred"),
    ],
)
def test_date(value: date, expected: str) -> None:
    assert words("date", value) == expected


@pytest.mark.parametrize("year", [1999, 2010, 2026, 2099, 1984, 1066])
def test_years_match_num2words(year: int) -> None:
    expected = num2words.num2words(year, to="year").replace("-", " ")
    assert " ".join(p.text for p in CATALOG.say("date", date(year, 1, 1), "en")[2:]) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (time(10, 30), "ten thirty a m"),
        (time(10, 0), "ten a m"),
        (time(9, 5), "nine oh five a m"),
        (time(0, 0), "twelve a m"),
        (time(12, 0), "twelve p m"),
        (time(14, 45), "two forty five p m"),
        (time(23, 59), "eleven fifty nine p m"),
        (datetime(2026, 12, 5, 3, 30, tzinfo=UTC), "ten thirty a m"),
    ],
)
def test_time(value: object, expected: str) -> None:
    assert words("time", value) == expected


def test_datetime() -> None:
    value = datetime(2026, 12, 5, 3, 30, tzinfo=UTC)  # 10:30 in Ho Chi Minh City
    assert words("datetime", value) == "ten thirty a m on December fifth twenty twenty six"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(hours=1, minutes=30), "one hour thirty minutes"),
        (timedelta(hours=2), "two hours"),
        (61, "one minute one second"),
        (0, "zero seconds"),
        (timedelta(days=1, seconds=5), "one day five seconds"),
    ],
)
def test_duration(value: object, expected: str) -> None:
    assert words("duration", value) == expected


def test_every_emitted_word_has_english_text() -> None:
    for value in [*range(0, 2100), *(n * 1_000_003 + 7 for n in range(2000))]:
        CATALOG.say("money", value, "en")
    for day in range(1, 32):
        CATALOG.say("date", date(2026, 1, day), "en")
    for month in range(1, 13):
        CATALOG.say("date", date(2026, month, 1), "en")
    for hour in range(24):
        for minute in (0, 5, 15, 59):
            CATALOG.say("time", time(hour, minute), "en")
