"""The demo data generator behind ``ivr db seed`` and the first start of ``ivr serve``.

Deterministic: the same ``seed``, account count and clock month give the same data.
Rows are generated and written in batches (bounded memory, a million accounts in a few
minutes). The documented demo accounts (``DEMO_ACCOUNTS``, ``docs/demo-data.md``) are
always present, whatever the seed, so a newcomer can try every branch of the hotline.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from ivr.errors import IvrError
from ivr.store import bulk
from ivr.store.demo import DEMO_ACCOUNTS, DEMO_OUTAGES
from ivr.store.models import (
    account_phones,
    accounts,
    areas,
    bills,
    corporations,
    meter_readings,
    outages,
)
from ivr.store.seed_data import (
    CORPORATIONS,
    DISTRICT_WARDS,
    FAMILY_NAMES,
    GIVEN_NAMES,
    MIDDLE_NAMES,
    MOBILE_PREFIXES,
    PLANNED_CAUSES,
    SEASON,
    STREETS,
    UNPLANNED_CAUSES,
    WARDS,
    WARDS_PER_DISTRICT,
    bill_amount,
)
from ivr.store.store import Store

#: Accounts ``seed_demo_if_empty`` creates: enough to feel real, seeded in about a second.
DEMO_SIZE = 2_000

#: Accounts per batch: about 25 rows each, so a batch is ~125k rows (tens of MB of
#: tuples at most) and one commit.
BATCH_ACCOUNTS = 5_000
#: Months of bills and meter readings per account.
MONTHS = 12
#: Random serials start here so they never meet the demo accounts' (all below it).
RANDOM_SERIAL_BASE = 1_000_000
#: Days from a period's end to the bill's due date.
DUE_DAYS = 20


class SeedError(IvrError):
    """The database cannot be seeded as asked (already holds accounts)."""


@dataclass(frozen=True, slots=True)
class Area:
    id: int
    corporation_id: int
    prefix: str
    unit: str
    """Managing-unit digits in the customer code (one per district)."""
    province: str
    district: str
    ward: str


@dataclass(frozen=True, slots=True)
class SeedReport:
    accounts: int
    bills: int
    readings: int
    outages: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Period:
    name: str  # "2026-10"
    end: date
    due: date
    month: int


def build_areas() -> list[Area]:
    """Every ward of every district of every corporation, ids from 1 (seed-independent)."""
    result: list[Area] = []
    ward = 0
    for corp_id, corp in enumerate(CORPORATIONS, start=1):
        district_no = 0
        for province, districts in corp.provinces:
            for district in districts:
                district_no += 1
                wards = DISTRICT_WARDS.get(district)
                for i in range(WARDS_PER_DISTRICT):
                    name = wards[i] if wards else WARDS[ward % len(WARDS)]
                    result.append(
                        Area(
                            len(result) + 1,
                            corp_id,
                            corp.prefix,
                            f"{district_no:02d}00",
                            province,
                            district,
                            name,
                        )
                    )
                    ward += 0 if wards else 1
    return result


def area_name(a: Area) -> str:
    return f"{a.ward}, {a.district}, {a.province}"


def periods(today: date) -> list[Period]:
    """The last ``MONTHS`` whole calendar months before ``today``, oldest first."""
    result = []
    year, month = today.year, today.month
    for _ in range(MONTHS):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        end = date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)
        result.append(Period(f"{year:04d}-{month:02d}", end, end + timedelta(days=DUE_DAYS), month))
    return result[::-1]


class _Generator:
    """Rows for one account at a time, from one ``random.Random``."""

    def __init__(self, rng: random.Random, months: list[Period], native_dates: bool) -> None:
        self.rng = rng
        self.months = months
        conv: Callable[[date], Any] = (lambda d: d) if native_dates else date.isoformat
        self.ends = [conv(p.end) for p in months]
        self.dues = [conv(p.due) for p in months]
        self.season = [SEASON[p.month] for p in months]
        self.amounts = [bill_amount(k) for k in range(4000)]  # precomputed: the hot path

    def account_rows(
        self, account_id: int, rng: random.Random, paid_latest: bool, base_kwh: int
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        bill_rows, reading_rows = [], []
        index = rng.randint(1_000, 40_000)
        last = len(self.months) - 1
        for i, p in enumerate(self.months):
            kwh = min(3_999, max(5, int(base_kwh * self.season[i] * (0.85 + 0.3 * rng.random()))))
            index += kwh
            paid = paid_latest if i == last else True
            bill_rows.append(
                (account_id, p.name, self.ends[i], kwh, self.amounts[kwh], self.dues[i], paid)
            )
            reading_rows.append((account_id, self.ends[i], index, kwh))
        return bill_rows, reading_rows

    def name(self) -> str:
        r = self.rng
        return f"{r.choice(FAMILY_NAMES)} {r.choice(MIDDLE_NAMES)} {r.choice(GIVEN_NAMES)}"

    def address(self, area: Area) -> str:
        r = self.rng
        return f"{r.randint(1, 399)} {r.choice(STREETS)}, {area_name(area)}"

    def phones(self) -> list[str]:
        r = self.rng
        n = r.choices((0, 1, 2), (15, 70, 15))[0]
        return sorted({f"{r.choice(MOBILE_PREFIXES)}{r.randrange(10**7):07d}" for _ in range(n)})


ACCOUNT_COLS = ("id", "code", "name", "address", "area_id", "corporation_id")
BILL_COLS = ("account_id", "period", "period_end", "kwh", "amount", "due_date", "paid")
READING_COLS = ("account_id", "read_on", "meter_index", "kwh")

Rows = list[tuple[Any, ...]]


class _Batch:
    """Rows waiting to be written; one commit per batch."""

    def __init__(self, store: Store, progress: Callable[[int], None] | None) -> None:
        self.store, self.progress = store, progress
        self.accounts: Rows = []
        self.phones: Rows = []
        self.bills: Rows = []
        self.readings: Rows = []
        self.totals = [0, 0, 0]
        self.pending: asyncio.Future[None] | None = None

    def add(self, account: tuple[Any, ...], phones: list[str], b: Rows, r: Rows) -> None:
        self.accounts.append(account)
        self.phones.extend((p, account[0]) for p in phones)
        self.bills.extend(b)
        self.readings.extend(r)

    async def flush(self) -> None:
        """Start writing the rows gathered so far; the next batch is generated meanwhile
        (the database works in its own thread or server while Python makes rows)."""
        await self.finish()
        rows = (self.accounts, self.phones, self.bills, self.readings)
        self.accounts, self.phones, self.bills, self.readings = [], [], [], []
        self.pending = asyncio.ensure_future(self._write(*rows))

    async def finish(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            await pending

    async def _write(self, acc: Rows, phones: Rows, bill_rows: Rows, readings: Rows) -> None:
        schema = self.store.schema
        async with self.store.engine.begin() as conn:
            await bulk.load(conn, accounts, ACCOUNT_COLS, acc, schema=schema)
            await bulk.load(conn, account_phones, ("phone", "account_id"), phones, schema=schema)
            await bulk.load(conn, bills, BILL_COLS, bill_rows, schema=schema)
            await bulk.load(conn, meter_readings, READING_COLS, readings, schema=schema)
        self.totals[0] += len(acc)
        self.totals[1] += len(bill_rows)
        self.totals[2] += len(readings)
        if self.progress is not None:
            self.progress(len(acc))


async def seed_demo_if_empty(store: Store) -> bool:
    """Seed the small demo set into an empty database; True if it did. (Here, not a
    ``Store`` method: the store knows nothing of demo data, and seed imports the store.)"""
    if not await store.is_empty():
        return False
    await seed(store, n_accounts=DEMO_SIZE, seed=1)
    return True


async def seed(
    store: Store,
    *,
    n_accounts: int,
    seed: int = 1,
    progress: Callable[[int], None] | None = None,
) -> SeedReport:
    """Create the demo data set in an empty database (raises :class:`SeedError` otherwise).

    ``n_accounts`` counts the documented demo accounts too. ``progress`` is called with
    the number of accounts written since its last call.
    """
    started = time.perf_counter()
    if not await store.is_empty():
        raise SeedError("the database already has accounts; seed a fresh database")
    now = store.clock.now()
    rng = random.Random(seed)
    area_list = build_areas()
    by_key = {(a.province, a.district, a.ward): a for a in area_list}
    gen = _Generator(rng, periods(now.date()), bulk.native_dates(store.dialect))
    await _reference_rows(store, area_list)
    batch = _Batch(store, progress)
    for account_id, d in enumerate(DEMO_ACCOUNTS, start=1):
        area = by_key[d.area]
        # Each demo account has its own generator: its numbers never depend on --seed.
        b, r = gen.account_rows(account_id, random.Random(d.code), d.paid, d.kwh)
        batch.add(
            (account_id, d.code, d.name, d.address, area.id, area.corporation_id),
            list(d.phones),
            b,
            r,
        )
    serials: dict[tuple[str, str], int] = {}
    try:
        for account_id in range(len(DEMO_ACCOUNTS) + 1, n_accounts + 1):
            area = area_list[rng.randrange(len(area_list))]
            serial = serials.get((area.prefix, area.unit), RANDOM_SERIAL_BASE)
            serials[(area.prefix, area.unit)] = serial + 1
            code = f"{area.prefix}{area.unit}{serial:07d}"
            row = (account_id, code, gen.name(), gen.address(area), area.id, area.corporation_id)
            b, r = gen.account_rows(
                account_id, rng, rng.random() < 0.75, max(30, int(rng.gauss(190, 90)))
            )
            batch.add(row, gen.phones(), b, r)
            if len(batch.accounts) >= BATCH_ACCOUNTS:
                await batch.flush()
        await batch.flush()
        await batch.finish()
    finally:
        if batch.pending is not None and not batch.pending.done():
            batch.pending.cancel()  # generation failed: do not leave a write running
    n_outages = await _outages(store, rng, area_list, by_key, now)
    async with store.engine.begin() as conn:
        await bulk.fix_sequences(conn, [corporations, areas, accounts])
        await bulk.analyze(
            conn, [corporations, areas, accounts, account_phones, bills, meter_readings, outages]
        )
    n_acc, n_bills, n_readings = batch.totals
    return SeedReport(n_acc, n_bills, n_readings, n_outages, time.perf_counter() - started)


async def _reference_rows(store: Store, area_list: list[Area]) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(
            insert(corporations),
            [
                {
                    "id": i,
                    "code": c.code,
                    "prefix": c.prefix,
                    "name": c.name,
                    "hotlines": ",".join(c.hotlines),
                }
                for i, c in enumerate(CORPORATIONS, start=1)
            ],
        )
        await conn.execute(
            insert(areas),
            [
                {
                    "id": a.id,
                    "corporation_id": a.corporation_id,
                    "code": f"{a.prefix}{a.unit}-{a.id:03d}",
                    "province": a.province,
                    "district": a.district,
                    "ward": a.ward,
                    "feeder": f"47{a.id % 10}",
                    "name": area_name(a),
                }
                for a in area_list
            ],
        )


def _half_hour(at: datetime) -> datetime:
    """Round down to the half hour: restore times are announced as 14:30, not 14:37."""
    return at.replace(minute=at.minute - at.minute % 30, second=0, microsecond=0)


def _outage_rows(
    rng: random.Random,
    area_list: list[Area],
    by_key: dict[tuple[str, str, str], Area],
    now: datetime,
) -> Iterator[dict[str, Any]]:
    demo_areas = {by_key[d.area].id for d in DEMO_ACCOUNTS}
    for o in DEMO_OUTAGES:
        start = _half_hour(now + timedelta(hours=o.starts_in_hours))
        if o.planned:  # planned works start at the beginning of a working day
            start = start.replace(hour=8, minute=0)
        yield {
            "area_id": by_key[o.area].id,
            "planned": o.planned,
            "cause": o.cause,
            "started_at": start,
            "estimated_restore": start + timedelta(hours=o.hours),
            "status": "open",
        }
    others = [a for a in area_list if a.id not in demo_areas]
    # A few areas dark now, a few planned works ahead, and some history that is over.
    for area in rng.sample(others, k=min(len(others), 6)):
        start = _half_hour(now - timedelta(minutes=rng.randint(20, 240)))
        yield {
            "area_id": area.id,
            "planned": False,
            "cause": rng.choice(UNPLANNED_CAUSES),
            "started_at": start,
            "estimated_restore": start + timedelta(hours=rng.randint(2, 6)),
            "status": "open",
        }
    for area in rng.sample(others, k=min(len(others), 6)):
        start = _half_hour(now + timedelta(days=rng.randint(1, 7))).replace(hour=7, minute=0)
        yield {
            "area_id": area.id,
            "planned": True,
            "cause": rng.choice(PLANNED_CAUSES),
            "started_at": start,
            "estimated_restore": start + timedelta(hours=9),
            "status": "open",
        }
    for area in rng.sample(area_list, k=min(len(area_list), 10)):
        start = _half_hour(now - timedelta(days=rng.randint(2, 60)))
        yield {
            "area_id": area.id,
            "planned": rng.random() < 0.5,
            "cause": rng.choice(UNPLANNED_CAUSES),
            "started_at": start,
            "estimated_restore": start + timedelta(hours=3),
            "status": "restored",
        }


async def _outages(
    store: Store,
    rng: random.Random,
    area_list: list[Area],
    by_key: dict[tuple[str, str, str], Area],
    now: datetime,
) -> int:
    rows = list(_outage_rows(rng, area_list, by_key, now))
    async with store.engine.begin() as conn:
        await conn.execute(insert(outages), rows)
    return len(rows)
