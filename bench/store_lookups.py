"""Lookup latency at scale: seed N accounts (SQLite file, PostgreSQL), time every action.

    .venv/bin/python bench/store_lookups.py --accounts 1000000
    .venv/bin/python bench/store_lookups.py --accounts 1000000 --reuse   # skip seeding

Each action runs through the real ``LookupRegistry`` (timeouts and all), one call at
a time, over random demo-data keys; the report gives p50/p99/max in milliseconds and
the seeding time. Target: every lookup p99 under 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from tqdm import tqdm

from ivr.clock import SystemClock
from ivr.lookups import LookupContext, LookupStatus
from ivr.store import Store
from ivr.store.lookups import build_lookups
from ivr.store.models import account_phones, accounts
from ivr.store.seed import seed

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
BENCH_SCHEMA = "ivr_bench"


async def _reset_schema(url: str, schema: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    await engine.dispose()


async def _seed(store: Store, n: int) -> float:
    await store.migrate()
    bar = tqdm(total=n, unit="acct", unit_scale=True, file=sys.stderr, desc=store.dialect)
    report = await seed(store, n_accounts=n, seed=1, progress=bar.update)
    bar.close()
    return report.seconds


async def _keys(store: Store, samples: int) -> tuple[list[str], list[str]]:
    rng = random.Random(42)
    async with store.engine.connect() as conn:
        top = int(await conn.scalar(select(func.max(accounts.c.id))) or 0)
        ids = [rng.randint(1, top) for _ in range(samples)]
        codes = list(
            (await conn.execute(select(accounts.c.code).where(accounts.c.id.in_(ids)))).scalars()
        )
        phones = list(
            (
                await conn.execute(
                    select(account_phones.c.phone).where(account_phones.c.account_id.in_(ids))
                )
            ).scalars()
        )
    return codes, phones


Case = Callable[[int], tuple[dict[str, Any], LookupContext]]


def _cases(codes: list[str], phones: list[str]) -> dict[str, Case]:
    def c(i: int, caller: str = "0999999999") -> LookupContext:
        return LookupContext(
            call_id=f"bench-{time.time_ns()}-{i}",
            caller=caller,
            dialled="1900545454",
            language="vi",
        )

    def code(i: int) -> str:
        return codes[i % len(codes)]

    def phone(i: int) -> str:
        return phones[i % len(phones)]

    return {
        "accounts_for_caller": lambda i: ({}, c(i, phone(i))),
        "outage_for_caller": lambda i: ({}, c(i, phone(i))),
        "account_by_code": lambda i: ({"digits": code(i)[2:], "prefix": code(i)[:2]}, c(i)),
        "balance": lambda i: ({"account": code(i)}, c(i)),
        "meter_reading": lambda i: ({"account": code(i)}, c(i)),
        "outage_for_account": lambda i: ({"account": code(i)}, c(i)),
        "report_outage": lambda i: ({"account": code(i)}, c(i, phone(i))),
        "service_request": lambda i: ({"kind": "meter_inspection", "account": code(i)}, c(i)),
        "request_callback": lambda i: ({"reason": "billing"}, c(i, phone(i))),
        "record_survey": lambda i: ({"score": 1 + i % 5}, c(i)),
    }


async def _measure(store: Store, samples: int) -> dict[str, list[float]]:
    registry = build_lookups(store)
    codes, phones = await _keys(store, samples)
    results: dict[str, list[float]] = {}
    for name, case in _cases(codes, phones).items():
        for i in range(50):  # warm the pool, caches and statement cache
            await registry.run(name, *case(i))
        times = []
        for i in range(samples):
            inputs, ctx = case(i)
            t0 = time.perf_counter()
            result = await registry.run(name, inputs, ctx)
            times.append((time.perf_counter() - t0) * 1000)
            if result.status in (LookupStatus.ERROR, LookupStatus.TIMEOUT):
                raise RuntimeError(f"{name}: {result.error}")
        results[name] = times
    return results


def _report(label: str, seed_seconds: float | None, results: dict[str, list[float]]) -> None:
    seeded = "reused" if seed_seconds is None else f"{seed_seconds:.1f} s"
    print(f"\n## {label} (seeding: {seeded})")
    print(f"{'action':22} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  p99<5ms")
    for name, times in results.items():
        q = statistics.quantiles(times, n=100)
        print(
            f"{name:22} {q[49]:8.2f} {q[98]:8.2f} {max(times):8.2f}  {'yes' if q[98] < 5 else 'NO'}"
        )


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def run_backend(kind: str, args: argparse.Namespace) -> None:
    if kind == "sqlite":
        path = Path(args.sqlite)
        if not args.reuse:
            _remove_sqlite(path)
        store = await Store.open(f"sqlite+aiosqlite:///{path}", clock=SystemClock())
        label = f"SQLite {path}"
    else:
        if not args.reuse:
            await _reset_schema(args.postgres, BENCH_SCHEMA)
        store = await Store.open(args.postgres, clock=SystemClock(), schema=BENCH_SCHEMA)
        label = f"PostgreSQL {args.postgres} schema {BENCH_SCHEMA}"
    try:
        seconds = None if args.reuse else await _seed(store, args.accounts)
        results = await _measure(store, args.samples)
        counts = await store.stats()
        label += f", {counts['accounts']:,} accounts, {counts['bills']:,} bills"
        _report(label, seconds, results)
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=2_000, help="timed calls per action")
    parser.add_argument("--sqlite", default="var/bench/ivr-bench.db")
    parser.add_argument("--postgres", default=os.environ.get("IVR_TEST_POSTGRES_URL", DEFAULT_PG))
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--reuse", action="store_true", help="skip seeding, use existing data")
    args = parser.parse_args()
    for kind in args.backends.split(","):
        asyncio.run(run_backend(kind.strip(), args))


if __name__ == "__main__":
    main()
