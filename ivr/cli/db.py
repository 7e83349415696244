"""``ivr db``: create or upgrade the schema, seed demo data, show row counts.

$ ivr db migrate
$ ivr db seed --accounts 1000000 --seed 7
$ ivr db stats --db postgresql+asyncpg://ivr@db/ivr
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from ivr.cli import UsageError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "db",
        help="create/upgrade the database, seed demo data, show counts",
        description="Manage the store's database. The URL comes from --db, else "
        "IVR_DATABASE_URL, else the SQLite file <data_dir>/ivr.db (var/ivr.db).",
    )
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION")
    sub.required = True

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--db",
            metavar="URL",
            help="SQLAlchemy URL (sqlite+aiosqlite:///..., postgresql+asyncpg://...)",
        )
        p.add_argument("--schema", help="PostgreSQL schema to use (default: search_path)")
        p.add_argument("--config", metavar="FILE", help="service config file (YAML)")

    migrate = sub.add_parser(
        "migrate", help="create or upgrade the schema (keeps data)",
        description="Create the tables, or upgrade them to this version of ivr, keeping the "
        "data (ivr serve also does this at start). The URL comes from --db, else "
        "IVR_DATABASE_URL, else the SQLite file <data_dir>/ivr.db (var/ivr.db).",
    )
    common(migrate)
    migrate.set_defaults(func=run_migrate)

    seed = sub.add_parser(
        "seed",
        help="fill an empty database with deterministic demo data",
        description="Create the schema if needed, then the demo data set: the five power "
        "corporations, areas, accounts with phones, 12 months of bills and meter "
        "readings, outages, and the documented demo accounts (docs/demo-data.md). The "
        "same --seed and --accounts give the same data (dates follow the current month, "
        "or IVR_NOW).",
    )
    common(seed)
    seed.add_argument(
        "--accounts",
        type=int,
        default=2_000,
        metavar="N",
        help="number of accounts, demo accounts included (default 2000)",
    )
    seed.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default 1)")
    seed.add_argument("--no-progress", action="store_true", help="no progress bar")
    seed.set_defaults(func=run_seed)

    stats = sub.add_parser(
        "stats", help="row counts per table",
        description="Print the number of rows in every table (accounts, bills, cases, call "
        "records, ...). The URL comes from --db, else IVR_DATABASE_URL, else the SQLite file "
        "<data_dir>/ivr.db (var/ivr.db).",
    )
    common(stats)
    stats.set_defaults(func=run_stats)


def _open_args(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    from ivr.clock import clock_from_env
    from ivr.config.settings import SettingsError, load_settings

    try:
        settings = load_settings(os.environ, {"db_url": args.db, "config_path": args.config})
        clock = clock_from_env(os.environ)
    except (SettingsError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    return settings.database_url, {"clock": clock, "schema": args.schema}


def _run(args: argparse.Namespace, work: Any) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from ivr.store import Store

    url, kwargs = _open_args(args)

    async def main() -> int:
        try:
            store = await Store.open(url, **kwargs)
        except (ValueError, SQLAlchemyError) as exc:
            raise UsageError(f"cannot use database {url!r}: {exc}") from None
        try:
            await store.migrate()
            result: int = await work(store)
            return result
        except (OSError, SQLAlchemyError) as exc:
            if args.schema and "no schema has been selected" in str(exc):
                # search_path names a schema that is not there: PostgreSQL's words for it
                # (and the CREATE TABLE they come with) do not say which or what to do.
                raise UsageError(f"database {_safe(url)}: schema {args.schema!r} does not "
                                 f"exist: create it first (CREATE SCHEMA {args.schema};) "
                                 "or leave out --schema") from None
            raise UsageError(f"database {_safe(url)}: {type(exc).__name__}: {exc}") from None
        finally:
            await store.close()

    return asyncio.run(main())


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def run_migrate(args: argparse.Namespace) -> int:
    async def work(store: Any) -> int:
        print(f"schema up to date in {_safe(str(store.engine.url))}")
        return 0

    return _run(args, work)


def run_seed(args: argparse.Namespace) -> int:
    from ivr.store.seed import SeedError, seed

    if args.accounts < 1:
        raise UsageError("--accounts must be at least 1")

    async def work(store: Any) -> int:
        from tqdm import tqdm

        if not await store.is_empty():
            raise UsageError(
                f"database {_safe(str(store.engine.url))} already has accounts; "
                "seed a fresh database (another file, or drop the schema)"
            )

        bar = tqdm(
            total=args.accounts,
            unit="acct",
            unit_scale=True,
            file=sys.stderr,
            disable=args.no_progress,
            desc="seeding",
        )
        try:
            report = await seed(
                store, n_accounts=args.accounts, seed=args.seed, progress=bar.update
            )
        except SeedError as exc:
            raise UsageError(f"{exc} (database {_safe(str(store.engine.url))})") from None
        finally:
            bar.close()
        print(
            f"seeded {report.accounts:,} accounts, {report.bills:,} bills, "
            f"{report.readings:,} meter readings, {report.outages} outages "
            f"in {report.seconds:.1f}s into {_safe(str(store.engine.url))}"
        )
        print("demo accounts: see docs/demo-data.md")
        return 0

    return _run(args, work)


def run_stats(args: argparse.Namespace) -> int:
    async def work(store: Any) -> int:
        for table, count in sorted((await store.stats()).items()):
            print(f"{table:20} {count:>12,}")
        return 0

    return _run(args, work)
