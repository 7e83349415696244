"""The documented demo accounts (``docs/demo-data.md``): one per branch of the hotline.

They are seeded whatever ``--seed`` says, with numbers that depend only on the account
(and the month the data is seeded in), so the docs and the tests can rely on them. All
their phone numbers start with ``090``, a prefix random data never uses.
"""

from __future__ import annotations

from dataclasses import dataclass

HCMC = "TP. Hồ Chí Minh"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    code: str
    name: str
    address: str
    area: tuple[str, str, str]
    """(province, district, ward): must be an area ``seed.build_areas`` makes."""
    phones: tuple[str, ...]
    paid: bool
    """Whether the latest bill is paid (older ones always are)."""
    kwh: int
    """Typical monthly consumption."""
    shows: str


@dataclass(frozen=True, slots=True)
class DemoOutage:
    area: tuple[str, str, str]
    planned: bool
    cause: str
    starts_in_hours: float
    """Relative to seeding time: negative means it is already under way."""
    hours: float


UNPAID = DemoAccount(
    "PE01000123456",
    "Nguyễn Văn An",
    "12 Lê Lợi, Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh",
    (HCMC, "Quận 1", "Phường Bến Nghé"),
    ("0901234567",),
    False,
    250,
    "unpaid latest bill; the only account on its phone (offered as 'account ending 3456')",
)
PAID = DemoAccount(
    "PE01000654321",
    "Trần Thị Bích",
    "45 Pasteur, Phường Đa Kao, Quận 1, TP. Hồ Chí Minh",
    (HCMC, "Quận 1", "Phường Đa Kao"),
    ("0902345678",),
    True,
    180,
    "every bill paid (amount due 0)",
)
OUTAGE = DemoAccount(
    "PE02000111111",
    "Lê Văn Cường",
    "88 Võ Văn Tần, Phường Võ Thị Sáu, Quận 3, TP. Hồ Chí Minh",
    (HCMC, "Quận 3", "Phường Võ Thị Sáu"),
    ("0903456789",),
    True,
    210,
    "area with an active unplanned outage: announced at the greeting; reports link to it",
)
TWO_ACCOUNTS_HOME = DemoAccount(
    "PE03000222221",
    "Phạm Thị Dung",
    "7 Trần Hưng Đạo, Phường 7, Quận 5, TP. Hồ Chí Minh",
    (HCMC, "Quận 5", "Phường 7"),
    ("0904567890",),
    True,
    300,
    "one of two accounts on the same phone (the caller must key the code)",
)
TWO_ACCOUNTS_SHOP = DemoAccount(
    "PE03000222222",
    "Phạm Thị Dung",
    "9 Trần Hưng Đạo, Phường 7, Quận 5, TP. Hồ Chí Minh",
    (HCMC, "Quận 5", "Phường 7"),
    ("0904567890",),
    False,
    520,
    "the second account on 0904567890 (a shop, unpaid, top tariff tier)",
)
PLANNED = DemoAccount(
    "PE07000333333",
    "Hoàng Văn Em",
    "150 Điện Biên Phủ, Phường 25, Bình Thạnh, TP. Hồ Chí Minh",
    (HCMC, "Bình Thạnh", "Phường 25"),
    ("0905678901",),
    True,
    160,
    "planned maintenance outage tomorrow (outage lookup by account: status scheduled)",
)
HANOI = DemoAccount(
    "PD01000123456",
    "Vũ Thị Hoa",
    "3 Bà Triệu, Phường Hàng Bài, Hoàn Kiếm, Hà Nội",
    ("Hà Nội", "Hoàn Kiếm", "Phường Hàng Bài"),
    ("0906789012",),
    False,
    140,
    "EVNHANOI customer (hotline 19001288, prefix PD), unpaid",
)
NO_PHONE = DemoAccount(
    "PE04000444444",
    "Đỗ Minh Khánh",
    "21 Lý Thường Kiệt, Phường 12, Quận 10, TP. Hồ Chí Minh",
    (HCMC, "Quận 10", "Phường 12"),
    (),
    True,
    90,
    "no registered phone: reachable only by keying the code",
)

DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    UNPAID,
    PAID,
    OUTAGE,
    TWO_ACCOUNTS_HOME,
    TWO_ACCOUNTS_SHOP,
    PLANNED,
    HANOI,
    NO_PHONE,
)

DEMO_OUTAGES: tuple[DemoOutage, ...] = (
    DemoOutage(OUTAGE.area, planned=False, cause="line_fault", starts_in_hours=-1.5, hours=4),
    DemoOutage(PLANNED.area, planned=True, cause="maintenance", starts_in_hours=24, hours=8),
)
