"""The demo data generator, ``ivr db`` and the small helpers under them."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest
from sqlalchemy import func, select
from store_helpers import NOW, Db

from ivr.cli import main
from ivr.clock import FixedClock
from ivr.store import Store
from ivr.store.convert import normalise_phone
from ivr.store.demo import DEMO_ACCOUNTS, NO_PHONE, TWO_ACCOUNTS_HOME, UNPAID
from ivr.store.models import account_phones, accounts, bills, corporations, meter_readings
from ivr.store.seed import DEMO_SIZE, SeedError, seed, seed_demo_if_empty
from ivr.store.seed_data import bill_amount

pytest_plugins = ("store_fixtures",)


async def fingerprint(store: Store) -> str:
    """A digest of every account, phone, bill and reading, in a backend-neutral form."""
    digest = hashlib.sha256()
    async with store.engine.connect() as conn:
        for table, order in (
            (accounts, accounts.c.id),
            (account_phones, account_phones.c.phone),
            (bills, bills.c.account_id),
            (meter_readings, meter_readings.c.read_on),
        ):
            query = select(table).order_by(*table.primary_key.columns, order)
            for row in await conn.execute(query):
                digest.update(repr(tuple(str(v) for v in row)).encode())
    return digest.hexdigest()


async def seeded_sqlite(path: Path, n: int, s: int) -> tuple[Store, str]:
    store = await Store.open(f"sqlite+aiosqlite:///{path}", clock=FixedClock(NOW))
    await store.migrate()
    await seed(store, n_accounts=n, seed=s)
    return store, await fingerprint(store)


async def test_same_seed_same_data_on_every_backend(db: Db, tmp_path: Path) -> None:
    reference, expected = await seeded_sqlite(tmp_path / "ref.db", 300, 7)
    other, different = await seeded_sqlite(tmp_path / "other.db", 300, 8)
    await reference.close()
    await other.close()
    assert different != expected
    store = await db.open()
    try:
        await store.migrate()
        report = await seed(store, n_accounts=300, seed=7)
        assert (report.accounts, report.bills, report.readings) == (300, 3600, 3600)
        assert await fingerprint(store) == expected
    finally:
        await store.close()


async def test_demo_accounts_and_data_shape(store: Store) -> None:
    async with store.engine.connect() as conn:
        codes = set((await conn.execute(select(accounts.c.code))).scalars())
        assert {d.code for d in DEMO_ACCOUNTS} <= codes
        assert all(len(c) == 13 and c[2:].isdigit() for c in codes)
        prefixes = dict(
            (await conn.execute(select(corporations.c.code, corporations.c.prefix))).all()
        )
        assert prefixes == {
            "EVNNPC": "PA",
            "EVNSPC": "PB",
            "EVNCPC": "PC",
            "EVNHANOI": "PD",
            "EVNHCMC": "PE",
        }
        hotlines = set((await conn.execute(select(corporations.c.hotlines))).scalars())
        assert hotlines == {"19006769", "19001006", "19001909", "19001288", "1900545454"}
        per_phone = dict(
            (
                await conn.execute(
                    select(account_phones.c.phone, func.count()).group_by(account_phones.c.phone)
                )
            ).all()
        )
        assert per_phone[UNPAID.phones[0]] == 1 and per_phone[TWO_ACCOUNTS_HOME.phones[0]] == 2
        no_phone = await conn.scalar(
            select(func.count())
            .select_from(account_phones)
            .join(accounts, accounts.c.id == account_phones.c.account_id)
            .where(accounts.c.code == NO_PHONE.code)
        )
        assert no_phone == 0
        names = list((await conn.execute(select(accounts.c.name))).scalars())
        assert any(ch in "".join(names) for ch in "ễồịạửđ")
        rows = (
            await conn.execute(select(bills).order_by(bills.c.account_id, bills.c.period))
        ).all()
        assert len(rows) == 12 * len(codes)
        assert all(r.amount == bill_amount(r.kwh) for r in rows)
        readings = (
            await conn.execute(
                select(meter_readings).order_by(
                    meter_readings.c.account_id, meter_readings.c.read_on
                )
            )
        ).all()
        for before, after in itertools.pairwise(readings):
            if before.account_id == after.account_id:
                assert after.meter_index - before.meter_index == after.kwh


async def test_seed_demo_if_empty_seeds_only_once(tmp_path: Path) -> None:
    # How quick it is (a newcomer's first `ivr serve` waits for it) is measured by
    # bench/timing_budgets.py: a limit here would fail on a busy machine.
    store = await Store.open(
        f"sqlite+aiosqlite:///{tmp_path / 'x' / 'ivr.db'}", clock=FixedClock(NOW)
    )
    try:
        await store.migrate()
        assert await seed_demo_if_empty(store) is True
        assert (await store.stats())["accounts"] == DEMO_SIZE
        assert await seed_demo_if_empty(store) is False
        with pytest.raises(SeedError):
            await seed(store, n_accounts=10)
    finally:
        await store.close()


def test_tariff_tiers_with_vat() -> None:
    assert bill_amount(0) == 0
    assert bill_amount(50) == 97_524  # 50 x 1,806 + 8 %
    assert bill_amount(120) == 245_095  # 50 x 1,806 + 50 x 1,866 + 20 x 2,167, + 8 %
    assert bill_amount(500) - bill_amount(400) == 340_308  # 100 x 3,151 + 8 %


@pytest.mark.parametrize(
    ("raw", "national"),
    [
        ("+84901234567", "0901234567"),
        ("84901234567", "0901234567"),
        ("0901234567", "0901234567"),
        ("901234567", "0901234567"),
        ("0084 90 123 4567", "0901234567"),
        ("+84 (90) 123-4567", "0901234567"),
        ("02838221234", "02838221234"),
        ("1900545454", "1900545454"),
        ("anonymous", ""),
        ("", ""),
    ],
)
def test_normalise_phone(raw: str, national: str) -> None:
    assert normalise_phone(raw) == national


@pytest.mark.dates
def test_cli_migrate_seed_stats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR_NOW", NOW.isoformat())  # `ivr db seed` seeds for its clock's month
    url = f"sqlite:///{tmp_path / 'cli' / 'ivr.db'}"
    assert main(["db", "migrate", "--db", url]) == 0
    assert (
        main(["db", "seed", "--db", url, "--accounts", "40", "--seed", "3", "--no-progress"]) == 0
    )
    out = capsys.readouterr().out
    assert "seeded 40 accounts, 480 bills, 480 meter readings" in out
    assert main(["db", "seed", "--db", url, "--no-progress"]) == 2
    assert "already has accounts" in capsys.readouterr().err
    assert main(["db", "stats", "--db", url]) == 0
    stats = capsys.readouterr().out
    assert "accounts" in stats and "40" in stats
    assert main(["db", "seed", "--db", url, "--accounts", "0"]) == 2
