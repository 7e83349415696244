"""Publishing a version: what it costs and how soon the other nodes run it.

    .venv/bin/python bench/publish_fanout.py [--rounds 20] [--pg URL] [--json]

- compile: one reload of the demo flows and prompts as a unit (``FlowSource.compile_file``)
  next to the flows file alone (what a reload read before), as the ratio unit / alone.
- publish: ``Publisher.publish`` of the demo hotline with its golden scenarios run (what
  the web's Publish button waits for) next to the same publish without them (the ratio
  says what the scenarios cost).
- fan-out: two composed services (``Service``) on one fresh PostgreSQL database, each
  with its own config copy; from ``publish`` returning on node A until node B runs the
  new version (NOTIFY ivr_flows, B loads the texts, compiles off the loop, swaps).
  Reported as p50 / max. Skipped without PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from publish_support import copy_config  # noqa: E402

from ivr.config.settings import Settings  # noqa: E402
from ivr.service import Service, open_core  # noqa: E402

PINNED = {"IVR_NOW": "2026-11-26T10:00:00+07:00", "IVR_SECRET_KEY": "k" * 32}
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def timed(fn: Any, rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        fn()
    return (time.perf_counter() - start) / rounds


async def service(home: Path, url: str) -> Service:
    config = copy_config(home / "config")
    settings = Settings(data_dir=home / "var", agi_port=0, web_port=0, db_url=url,
                        flows_path=config / "flows.yaml", prompts_path=config / "prompts.yaml",
                        seed_demo=True)
    svc = Service(await open_core(settings, PINNED), PINNED, build_prompts=False)
    await svc.start()
    return svc


def variant(flows: str, n: int) -> str:
    return flows + f"\n# bench edit {n}\n"


async def compile_and_publish(rounds: int, work: Path) -> dict[str, float]:
    svc = await service(work / "sqlite", f"sqlite+aiosqlite:///{work / 'ivr.db'}")
    try:
        source = svc.core.flows
        prompts_file = source.prompts
        unit = timed(source.compile_file, rounds)
        source.prompts = None  # the flows file alone, against the same catalog
        alone = timed(source.compile_file, rounds)
        source.prompts = prompts_file
        publisher = svc.publisher
        assert publisher is not None
        flows = source.live.flows_text
        with_s, without = [], []
        for n in range(max(2, rounds // 4)):
            start = time.perf_counter()
            assert (await publisher.publish(variant(flows, 2 * n), by="bench")).ok
            with_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            outcome = await publisher.publish(variant(flows, 2 * n + 1), by="bench",
                                              check_scenarios=False)
            assert outcome.ok
            without.append(time.perf_counter() - start)
        return {"compile_unit_ms": unit * 1000, "compile_flows_alone_ms": alone * 1000,
                "compile_ratio": unit / alone,
                "publish_with_scenarios_ms": statistics.median(with_s) * 1000,
                "publish_without_scenarios_ms": statistics.median(without) * 1000,
                "publish_ratio": statistics.median(with_s) / statistics.median(without)}
    finally:
        await svc.stop(grace=1.0)


async def fanout(rounds: int, work: Path, pg: str) -> dict[str, float] | str:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"ivr_bench_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(pg, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        await admin.dispose()
        return f"skipped: PostgreSQL at {pg}: {type(exc).__name__}"
    url = make_url(pg).set(database=name).render_as_string(hide_password=False)
    a = b = None
    try:
        a = await service(work / "a", url)
        b = await service(work / "b", url)
        assert a.publisher is not None
        flows = a.core.flows.live.flows_text
        waits = []
        seen: dict[str, float] = {}
        arrived = asyncio.Event()

        def on_b(live: Any, _origin: str) -> None:
            seen[live.version] = time.perf_counter()  # when B swapped it in
            arrived.set()

        b.core.flows.listeners.append(on_b)
        for n in range(rounds):
            outcome = await a.publisher.publish(variant(flows, 1000 + n), by="bench",
                                                check_scenarios=False)
            assert outcome.ok and outcome.version is not None
            start = time.perf_counter()
            async with asyncio.timeout(30):
                while outcome.version not in seen:
                    arrived.clear()
                    await arrived.wait()
            waits.append(seen[outcome.version] - start)
        return {"fanout_p50_ms": statistics.median(waits) * 1000,
                "fanout_max_ms": max(waits) * 1000, "rounds": rounds}
    finally:
        for svc in (a, b):
            if svc is not None:
                await svc.stop(grace=1.0)
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--pg", default=DEFAULT_PG)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="ivr-bench-publish-") as tmp:
        work = Path(tmp)
        results: dict[str, Any] = await compile_and_publish(args.rounds, work)
        results["fanout"] = await fanout(args.rounds, work, args.pg)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for key, value in results.items():
            print(f"{key}: {value:.2f}" if isinstance(value, float) else f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
