"""Vietnamese spoken values, from the rules in docs/domain.md (full invoice reading).

The tables are written by hand from the rules, not from num2words (whose ``vi`` output
drops "không trăm": 1005 -> "một nghìn lẻ năm").
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from ivr.prompts.catalog import PromptCatalog

NORTH = PromptCatalog.from_texts({})
SOUTH = PromptCatalog.from_texts({}, variant="south")


def words(kind: str, value: object, catalog: PromptCatalog = NORTH) -> str:
    return " ".join(p.text for p in catalog.say(kind, value, "vi"))


NUMBERS = [
    (0, "không"),
    (1, "một"),
    (4, "bốn"),
    (5, "năm"),
    (7, "bảy"),
    (10, "mười"),
    (11, "mười một"),
    (14, "mười bốn"),
    (15, "mười lăm"),
    (19, "mười chín"),
    (20, "hai mươi"),
    (21, "hai mươi mốt"),
    (24, "hai mươi tư"),
    (25, "hai mươi lăm"),
    (30, "ba mươi"),
    (44, "bốn mươi tư"),
    (51, "năm mươi mốt"),
    (55, "năm mươi lăm"),
    (99, "chín mươi chín"),
    (100, "một trăm"),
    (101, "một trăm linh một"),
    (104, "một trăm linh bốn"),
    (105, "một trăm linh năm"),
    (110, "một trăm mười"),
    (111, "một trăm mười một"),
    (115, "một trăm mười lăm"),
    (121, "một trăm hai mươi mốt"),
    (200, "hai trăm"),
    (999, "chín trăm chín mươi chín"),
    (1000, "một nghìn"),
    (1001, "một nghìn không trăm linh một"),
    (1005, "một nghìn không trăm linh năm"),
    (1010, "một nghìn không trăm mười"),
    (1015, "một nghìn không trăm mười lăm"),
    (1021, "một nghìn không trăm hai mươi mốt"),
    (1100, "một nghìn một trăm"),
    (1234, "một nghìn hai trăm ba mươi tư"),
    (2026, "hai nghìn không trăm hai mươi sáu"),
    (10000, "mười nghìn"),
    (10005, "mười nghìn không trăm linh năm"),
    (15000, "mười lăm nghìn"),
    (21000, "hai mươi mốt nghìn"),
    (25500, "hai mươi lăm nghìn năm trăm"),
    (100000, "một trăm nghìn"),
    (100005, "một trăm nghìn không trăm linh năm"),
    (105000, "một trăm linh năm nghìn"),
    (110000, "một trăm mười nghìn"),
    (999999, "chín trăm chín mươi chín nghìn chín trăm chín mươi chín"),
    (1000000, "một triệu"),
    (1000001, "một triệu không trăm linh một"),
    (1000010, "một triệu không trăm mười"),
    (1001000, "một triệu không trăm linh một nghìn"),
    (1010000, "một triệu không trăm mười nghìn"),
    (1234500, "một triệu hai trăm ba mươi tư nghìn năm trăm"),
    (1250000, "một triệu hai trăm năm mươi nghìn"),
    (2500000, "hai triệu năm trăm nghìn"),
    (10000000, "mười triệu"),
    (21000000, "hai mươi mốt triệu"),
    (100000000, "một trăm triệu"),
    (1000000000, "một tỷ"),
    (1000000001, "một tỷ không trăm linh một"),
    (1000001000, "một tỷ không trăm linh một nghìn"),
    (1001000000, "một tỷ không trăm linh một triệu"),
    (2000500000, "hai tỷ năm trăm nghìn"),
    (2500000000, "hai tỷ năm trăm triệu"),
    (15000000000, "mười lăm tỷ"),
    (1000000000000, "một nghìn tỷ"),
    (1005000000000, "một nghìn không trăm linh năm tỷ"),
    (-5, "âm năm"),
    (-1250, "âm một nghìn hai trăm năm mươi"),
]


def test_table_is_big_enough() -> None:
    assert len(NUMBERS) >= 60


@pytest.mark.parametrize(("value", "expected"), NUMBERS)
def test_number(value: int, expected: str) -> None:
    assert words("number", value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "không đồng"),
        (1234500, "một triệu hai trăm ba mươi tư nghìn năm trăm đồng"),
        (1250000, "một triệu hai trăm năm mươi nghìn đồng"),
        (1005, "một nghìn không trăm linh năm đồng"),
        (Decimal("2500000"), "hai triệu năm trăm nghìn đồng"),
        (Decimal("2500000.00"), "hai triệu năm trăm nghìn đồng"),
    ],
)
def test_money(value: object, expected: str) -> None:
    assert words("money", value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("3.5"), "ba phẩy năm"),
        (Decimal("3.05"), "ba phẩy không năm"),
        (Decimal("3.25"), "ba phẩy hai mươi lăm"),
        (Decimal("0.5"), "không phẩy năm"),
        (Decimal("-0.5"), "âm không phẩy năm"),
        (Decimal("1005.5"), "một nghìn không trăm linh năm phẩy năm"),
        (2.5, "hai phẩy năm"),
        (Decimal("7.0"), "bảy"),
    ],
)
def test_decimal(value: object, expected: str) -> None:
    assert words("number", value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0901", "không chín không một"),
        ("0901 234-567", "không chín không một hai ba bốn năm sáu bảy"),
        ("15", "một năm"),
        (2024, "hai không hai bốn"),
    ],
)
def test_digits(value: object, expected: str) -> None:
    assert words("digits", value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (105, "một trăm lẻ năm"),
        (1005, "một ngàn không trăm lẻ năm"),
        (1000001, "một triệu không trăm lẻ một"),
        (2500000, "hai triệu năm trăm ngàn"),
        (24, "hai mươi tư"),
        (1010, "một ngàn không trăm mười"),
    ],
)
def test_southern_variant(value: int, expected: str) -> None:
    assert words("number", value, SOUTH) == expected


def test_southern_money() -> None:
    assert words("money", 1250000, SOUTH) == "một triệu hai trăm năm mươi ngàn đồng"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2026, 12, 5), "ngày năm tháng mười hai năm hai nghìn không trăm hai mươi sáu"),
        (date(2026, 4, 14), "ngày mười bốn tháng tư năm hai nghìn không trăm hai mươi sáu"),
        (date(2026, 1, 31), "ngày ba mươi mốt tháng một năm hai nghìn không trăm hai mươi sáu"),
        (
            date(2025, 11, 25),
            "ngày hai mươi lăm tháng mười một năm hai nghìn không trăm hai mươi lăm",
        ),
        # An aware datetime is spoken in the hotline's zone: 20:00 UTC is the next day.
        (
            datetime(2026, 12, 4, 20, 0, tzinfo=UTC),
            "ngày năm tháng mười hai năm hai nghìn không trăm hai mươi sáu",
        ),
    ],
)
def test_date(value: object, expected: str) -> None:
    assert words("date", value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (time(10, 30), "mười giờ ba mươi phút"),
        (time(14, 0), "mười bốn giờ"),
        (time(0, 5), "không giờ năm phút"),
        (time(21, 21), "hai mươi mốt giờ hai mươi mốt phút"),
        (datetime(2026, 12, 5, 3, 30, tzinfo=UTC), "mười giờ ba mươi phút"),
    ],
)
def test_time(value: object, expected: str) -> None:
    assert words("time", value) == expected


def test_datetime() -> None:
    value = datetime(2026, 12, 5, 10, 30, tzinfo=NORTH.zone)
    assert words("datetime", value) == (
        "mười giờ ba mươi phút ngày năm tháng mười hai năm hai nghìn không trăm hai mươi sáu"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(hours=1, minutes=30), "một giờ ba mươi phút"),
        (90, "một phút ba mươi giây"),
        (0, "không giây"),
        (timedelta(days=2, hours=3), "hai ngày ba giờ"),
        (45.4, "bốn mươi lăm giây"),
    ],
)
def test_duration(value: object, expected: str) -> None:
    assert words("duration", value) == expected


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("number", "12"),
        ("number", True),
        ("money", None),
        ("digits", "12a"),
        ("digits", ""),
        ("digits", -5),
        ("date", "2026-12-05"),
        ("time", datetime(2026, 12, 5, 10, 30)),  # naive: which zone?
        ("datetime", date(2026, 12, 5)),
        ("duration", -1),
        ("duration", "90"),
        ("number", Decimal("NaN")),
        ("colour", 1),
    ],
)
def test_wrong_values_raise_value_error(kind: str, value: object) -> None:
    with pytest.raises(ValueError):
        NORTH.say(kind, value, "vi")


def test_every_emitted_word_has_vietnamese_text() -> None:
    # say() resolves every id through the catalog, so a missing word raises KeyError.
    for value in [*range(0, 2100), *(n * 1_000_003 + 7 for n in range(2000))]:
        for catalog in (NORTH, SOUTH):
            catalog.say("money", value, "vi")
    for month in range(1, 13):
        NORTH.say("date", date(2026, month, 28), "vi")
    for hour in range(24):
        NORTH.say("time", time(hour, 59), "vi")
