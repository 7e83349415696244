"""Fixed reference data for the demo generator: corporations, places, names, tariff.

Corporations, prefixes and hotline numbers follow ``docs/domain.md`` (some hotline
numbers there are marked unconfirmed: demo values). Names and places are real
Vietnamese spellings so spoken and displayed text looks like the real thing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Corporation:
    code: str
    prefix: str
    name: str
    hotlines: tuple[str, ...]
    provinces: tuple[tuple[str, tuple[str, ...]], ...]
    """(province, districts) pairs; each district becomes a managing unit."""


CORPORATIONS: tuple[Corporation, ...] = (
    Corporation(
        "EVNNPC",
        "PA",
        "Tổng công ty Điện lực miền Bắc",
        ("19006769",),
        (
            ("Hải Phòng", ("Hồng Bàng", "Lê Chân", "Ngô Quyền")),
            ("Quảng Ninh", ("Hạ Long", "Cẩm Phả", "Uông Bí")),
            ("Thái Nguyên", ("TP. Thái Nguyên", "Phổ Yên")),
            ("Nam Định", ("TP. Nam Định", "Hải Hậu")),
        ),
    ),
    Corporation(
        "EVNSPC",
        "PB",
        "Tổng công ty Điện lực miền Nam",
        ("19001006",),
        (
            ("Đồng Nai", ("Biên Hòa", "Long Khánh")),
            ("Bình Dương", ("Thủ Dầu Một", "Dĩ An", "Thuận An")),
            ("Cần Thơ", ("Ninh Kiều", "Cái Răng")),
            ("Bà Rịa - Vũng Tàu", ("Vũng Tàu", "Bà Rịa")),
        ),
    ),
    Corporation(
        "EVNCPC",
        "PC",
        "Tổng công ty Điện lực miền Trung",
        ("19001909",),
        (
            ("Đà Nẵng", ("Hải Châu", "Thanh Khê", "Sơn Trà")),
            ("Khánh Hòa", ("Nha Trang", "Cam Ranh")),
            ("Thừa Thiên Huế", ("TP. Huế", "Hương Thủy")),
            ("Đắk Lắk", ("Buôn Ma Thuột",)),
        ),
    ),
    Corporation(
        "EVNHANOI",
        "PD",
        "Tổng công ty Điện lực TP. Hà Nội",
        ("19001288",),
        (
            (
                "Hà Nội",
                ("Hoàn Kiếm", "Ba Đình", "Đống Đa", "Cầu Giấy", "Hai Bà Trưng", "Long Biên"),
            ),
        ),
    ),
    Corporation(
        "EVNHCMC",
        "PE",
        "Tổng công ty Điện lực TP. Hồ Chí Minh",
        ("1900545454",),
        (
            (
                "TP. Hồ Chí Minh",
                (
                    "Quận 1",
                    "Quận 3",
                    "Quận 5",
                    "Quận 10",
                    "Phú Nhuận",
                    "Tân Bình",
                    "Bình Thạnh",
                    "Thủ Đức",
                ),
            ),
        ),
    ),
)

#: Real wards of the districts the documented demo accounts live in.
DISTRICT_WARDS: dict[str, tuple[str, str, str]] = {
    "Quận 1": ("Phường Bến Nghé", "Phường Đa Kao", "Phường Cầu Kho"),
    "Quận 3": ("Phường Võ Thị Sáu", "Phường 9", "Phường 14"),
    "Quận 5": ("Phường 2", "Phường 7", "Phường 11"),
    "Quận 10": ("Phường 12", "Phường 14", "Phường 15"),
    "Bình Thạnh": ("Phường 1", "Phường 17", "Phường 25"),
    "Hoàn Kiếm": ("Phường Hàng Bài", "Phường Tràng Tiền", "Phường Phúc Tân"),
}
#: Wards given in turn to every other district (three each).
WARDS = (
    "Phường Tân Định",
    "Phường Nguyễn Cư Trinh",
    "Phường Phạm Ngũ Lão",
    "Phường Bến Thành",
    "Phường Cô Giang",
    "Phường Tân Phong",
    "Phường Bình Thuận",
    "Phường Tân Hưng",
    "Phường Kim Mã",
    "Phường Ngọc Hà",
    "Phường Láng Hạ",
    "Phường Trung Hòa",
    "Phường Dịch Vọng",
    "Phường Lê Đại Hành",
    "Phường Bồ Đề",
    "Phường Hòa Cường",
    "Phường An Hải",
    "Phường Quang Trung",
    "Phường Trần Phú",
    "Phường Hồng Hải",
)
WARDS_PER_DISTRICT = 3

FAMILY_NAMES = (
    "Nguyễn",
    "Nguyễn",
    "Nguyễn",
    "Trần",
    "Trần",
    "Lê",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
)
MIDDLE_NAMES = ("Văn", "Thị", "Hữu", "Đức", "Minh", "Thu", "Ngọc", "Quốc", "Thanh", "Xuân")
GIVEN_NAMES = (
    "An",
    "Bình",
    "Cường",
    "Dũng",
    "Giang",
    "Hà",
    "Hải",
    "Hạnh",
    "Hoa",
    "Hùng",
    "Hương",
    "Khánh",
    "Lan",
    "Linh",
    "Long",
    "Mai",
    "Nam",
    "Nga",
    "Phong",
    "Phúc",
    "Quang",
    "Sơn",
    "Tâm",
    "Thảo",
    "Trang",
    "Trung",
    "Tuấn",
    "Vy",
    "Yến",
    "Đạt",
)
STREETS = (
    "Lê Lợi",
    "Nguyễn Huệ",
    "Trần Hưng Đạo",
    "Hai Bà Trưng",
    "Lý Thường Kiệt",
    "Điện Biên Phủ",
    "Cách Mạng Tháng Tám",
    "Phan Đình Phùng",
    "Quang Trung",
    "Hùng Vương",
    "Nguyễn Trãi",
    "Lê Duẩn",
    "Võ Văn Tần",
    "Pasteur",
    "Bà Triệu",
    "Trường Chinh",
    "Nguyễn Thị Minh Khai",
    "Hoàng Văn Thụ",
    "Phạm Văn Đồng",
    "Lạc Long Quân",
)

#: Mobile prefixes for random numbers. ``090`` is left out: the documented demo
#: numbers all start with it, so random data can never shadow them.
MOBILE_PREFIXES = (
    "032",
    "033",
    "034",
    "035",
    "036",
    "037",
    "038",
    "039",
    "070",
    "076",
    "077",
    "078",
    "079",
    "081",
    "082",
    "083",
    "084",
    "085",
    "086",
    "091",
    "093",
    "094",
    "096",
    "097",
    "098",
)

#: Outage causes as short codes: flows map them to prompt ids (``outage_cause_<code>``),
#: so the same data speaks Vietnamese and English.
UNPLANNED_CAUSES = ("line_fault", "transformer_fault", "storm", "overload")
PLANNED_CAUSES = ("maintenance", "grid_upgrade")

#: Demo residential tariff (VND/kWh before VAT) from docs/domain.md: (tier top, price).
TARIFF_TIERS = ((50, 1806), (100, 1866), (200, 2167), (300, 2729), (400, 3050), (None, 3151))
VAT_PERCENT = 8

#: Relative consumption by calendar month: the hot season (April-July) runs air
#: conditioners; the index is the month number.
SEASON = (0.0, 0.85, 0.85, 1.0, 1.2, 1.3, 1.3, 1.2, 1.1, 1.0, 0.95, 0.9, 0.85)


def bill_amount(kwh: int) -> int:
    """VND including VAT for ``kwh`` under the demo tiers, rounded to the đồng."""
    total, lower = 0, 0
    for top, price in TARIFF_TIERS:
        if top is None or kwh <= top:
            total += (kwh - lower) * price
            break
        total += (top - lower) * price
        lower = top
    return (total * (100 + VAT_PERCENT) + 50) // 100
