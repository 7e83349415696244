"""What a database outage costs: calls served while it is down, records replayed after,
and what a lookup costs while the circuit is open.

    .venv/bin/python bench/db_down.py [--calls 200] [--concurrency 50]

1. The composed service (what ``ivr serve`` runs) starts with its SQLite path unusable
   (a directory): ``--calls`` demo calls go through the fake Asterisk over TCP; counted:
   calls answered to the end, calls handed to an agent, records spilled. Then the path
   is freed: seconds until the watch task has migrated, seeded and replayed, and how
   many of the calls' records are in the database.
2. A store whose SQLite file is write-locked by another connection: writes until the
   circuit opens, then the time per refused write and the statements that reached the
   database meanwhile (0 expected).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr.config.settings import Settings  # noqa: E402
from ivr.lookups import LookupContext  # noqa: E402
from ivr.service import UNSAVED_CALLS, Service, open_core  # noqa: E402
from ivr.store import Store  # noqa: E402
from ivr.store.lookups import build_lookups  # noqa: E402
from ivr.store.seed import seed  # noqa: E402
from ivr.testing.callers import PatientCaller  # noqa: E402
from ivr.testing.fake_asterisk import run_many  # noqa: E402

#: With the database down the flow asks for the customer code: silent at the safety
#: offer, 2 billing, the code and #, 1 it is right (then the apology and an agent).
DOWN_KEYS = "-201000123456#1"


async def outage(calls: int, concurrency: int) -> None:
    data = Path(tempfile.mkdtemp(prefix="ivr-db-down-"))
    (data / "ivr.db").mkdir()
    settings = Settings(data_dir=data, agi_port=0, web_port=0,
                        flows_path=ROOT / "config" / "flows.yaml",
                        prompts_path=ROOT / "config" / "prompts.yaml")
    core = await open_core(settings, {"IVR_NOW": "2026-11-26T10:00:00+07:00"})
    svc = Service(core, {}, build_prompts=False)
    await svc.start()
    try:
        started = time.perf_counter()
        done = await run_many("127.0.0.1", svc.agi_port, calls, concurrency=concurrency,
                              caller_factory=lambda _i: PatientCaller(DOWN_KEYS),
                              callerid="0901234567", extension="1900545454")
        assert svc.agi is not None
        await svc.agi.wait_idle()
        took = time.perf_counter() - started
        answered = sum(t.closed_by_server for t in done)
        agent = sum(t.has_command("EXEC Queue") for t in done)
        spill = data / UNSAVED_CALLS
        spilled = len(spill.read_text().splitlines()) if spill.exists() else 0
        print(f"database down: {calls} calls, {answered} served to the end, {agent} handed "
              f"to an agent, {spilled} records spilled ({took:.1f} s)")
        (data / "ivr.db").rmdir()
        back = time.perf_counter()
        await svc.database_settled.wait()
        saved = len(await core.store.list_calls(limit=calls + 10))
        print(f"database back: migrated, seeded and {saved} records replayed in "
              f"{time.perf_counter() - back:.1f} s")
    finally:
        await svc.stop(grace=2.0)


async def open_circuit(refused: int) -> None:
    path = Path(tempfile.mkdtemp(prefix="ivr-breaker-")) / "ivr.db"
    store = await Store.open(f"sqlite+aiosqlite:///{path}", busy_timeout=0.2)
    await store.migrate()
    await seed(store, n_accounts=20, seed=1)
    statements: list[str] = []
    event.listen(store.sync_engine, "before_cursor_execute",
                 lambda *a: statements.append(a[2]))
    lookups = build_lookups(store)
    ctx = LookupContext("bench", "0901234567", "1900545454", "vi")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        failing = 0
        started = time.perf_counter()
        while store.health.writes.state.value == "closed":
            await lookups.run("record_survey", {"score": 3}, ctx)
            failing += 1
        opening = time.perf_counter() - started
        before = len(statements)
        started = time.perf_counter()
        for _ in range(refused):
            await lookups.run("record_survey", {"score": 3}, ctx)
        each = (time.perf_counter() - started) / refused * 1e6
        print(f"write-locked SQLite (busy timeout 0.2 s): circuit open after {failing} "
              f"writes ({opening:.2f} s); then {refused} writes refused at {each:.0f} us "
              f"each, {len(statements) - before} statements reached the database")
    finally:
        other.execute("ROLLBACK")
        other.close()
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(outage(args.calls, args.concurrency))
    asyncio.run(open_circuit(1000))


if __name__ == "__main__":
    main()
