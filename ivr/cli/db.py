"""``ivr db``: create or upgrade the schema, seed demo data, show row counts.

$ ivr db migrate
$ ivr db seed --accounts 1000000 --seed 7
$ ivr db stats --db postgresql+asyncpg://ivr@db/ivr
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Iterator
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
        "records, ...). Only reads: a database or tables that are not there are an error, "
        "never created. The URL comes from --db, else IVR_DATABASE_URL, else the SQLite file "
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


def _run(args: argparse.Namespace, work: Any, *, read_only: bool = False) -> int:
    """Open the store, migrate it unless ``read_only``, run ``work``, close.

    A read-only command never creates anything: not a mistyped SQLite file (it would
    report zeros from an empty database it just made), not the tables.
    """
    from ivr.cli.database import database_errors
    from ivr.store import Store

    url, kwargs = _open_args(args)
    if read_only:
        with database_errors(url):
            _require_existing_file(url)

    async def main() -> int:
        with database_errors(url):
            store = await Store.open(url, **kwargs)
        try:
            with _schema_errors(url, args.schema, read_only=read_only), database_errors(url):
                if not read_only:
                    await store.migrate()
                result: int = await work(store)
                return result
        finally:
            await store.close()

    return asyncio.run(main())


def _require_existing_file(url: str) -> None:
    from ivr.cli import CliError
    from ivr.store.engine import sqlite_file

    path = sqlite_file(url)
    if path is None or path.is_file():
        return
    what = "is a directory, not a database file" if path.is_dir() else "does not exist"
    raise CliError(f"database {_safe(url)}: {path} {what}: check --db, IVR_DATABASE_URL "
                   "or --data-dir (ivr db migrate creates a database)")


@contextlib.contextmanager
def _schema_errors(url: str, schema: str | None, *, read_only: bool) -> Iterator[None]:
    """A schema or tables that are not there, in words that say which and what to do."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as exc:
        if schema and "no schema has been selected" in str(exc):
            # search_path names a schema that is not there: PostgreSQL's words for it
            # (and the CREATE TABLE they come with) do not say which or what to do.
            raise UsageError(f"database {_safe(url)}: schema {schema!r} does not "
                             f"exist: create it first (CREATE SCHEMA {schema};) "
                             "or leave out --schema") from None
        if read_only and _missing_table(exc):
            from ivr.cli import CliError

            where = f" (schema {schema})" if schema else ""
            raise CliError(f"database {_safe(url)}{where} has no ivr tables (or older "
                           "ones): ivr db migrate creates or upgrades them") from None
        raise


def _missing_table(exc: Exception) -> bool:
    from sqlalchemy.exc import DBAPIError

    from ivr.cli.database import driver_error

    if not isinstance(exc, DBAPIError):
        return False
    # SQLite says "no such table: x"; PostgreSQL answers SQLSTATE 42P01 (undefined_table).
    root = driver_error(exc)
    return str(root).startswith("no such table") or getattr(root, "sqlstate", "") == "42P01"


def _safe(url: str) -> str:
    from ivr.cli.database import shown

    return shown(url)


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

    return _run(args, work, read_only=True)
