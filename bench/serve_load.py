"""Load on the whole service, side by side with the same calls minus the database.

(a) ``ivr serve`` (FastAGI, engine, store on SQLite or PostgreSQL, web app) in its own
process; (b) the same FastAGI server and engine, same flows and prompts, in another
process, with a store that does nothing: lookups answer what the real store answered
during the warm-up (cached per call script), writes are dropped. The fake Asterisk
(ivr.testing.load, virtual time) drives both with the same demo billing call, in
interleaved rounds, and each server's own CPU time per call is read from /proc: the ratio
(a)/(b) is what the database layer costs a call. Ratios, not absolute times, are the
result on a shared, noisy machine.

    .venv/bin/python bench/serve_load.py                      # SQLite, the defaults below
    .venv/bin/python bench/serve_load.py --loop uvloop --rounds 5
    .venv/bin/python bench/serve_load.py --db postgresql+asyncpg://postgres@127.0.0.1/test
    .venv/bin/python bench/serve_load.py --workers 2          # calls/s, 2 workers vs 1

Storm mode: N callers from an outage area arriving within a few seconds; each hears the
outage announcement, then waits in the next prompt until all are in, and then they all
hang up at once (as a storm's end does). Reports how many heard the announcement,
lookups that timed out, records written, records spilled to the fallback file, the p99
turn latency, and the server's memory per held call.

    .venv/bin/python bench/serve_load.py --storm 2000 --ramp 3
    .venv/bin/python bench/serve_load.py --storm 10000 --ramp 10 --loop uvloop
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
READY = re.compile(r"FastAGI listening on [\d.]+:(\d+)")
#: A full self-served billing call on the demo hotline (docs/demo-data.md account
#: PE01000123456): silent at the safety offer, 2 billing, 1 registered account, 2 bye.
KEYS = "-212-"
HCMC = "1900545454"
BILLING_PHONE = "0901234567"
#: PE02000111111's phone: its ward has an active unplanned outage, announced at the
#: greeting (docs/demo-data.md); a storm's callers all ring from that area.
OUTAGE_PHONE = "0903456789"
ANNOUNCEMENT = "ivr/vi/outage_in_area"
PINNED = "2026-11-26T10:00:00+07:00"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def proc_status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (fields 14 and 15 of /proc/pid/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class ServerProcess:
    """A server in its own process; its output in a file (a full pipe would stall it)."""

    def __init__(self, cmd: list[str], data_dir: Path, env: Mapping[str, str]) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log = data_dir / "serve.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=out,
                                         stderr=subprocess.STDOUT, cwd=data_dir)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.proc.poll() is None:
            if m := READY.search(self.log.read_text()):
                self.port = int(m.group(1))
                return
            time.sleep(0.2)
        raise SystemExit(f"{cmd[2:5]} did not start:\n" + self.log.read_text())

    @property
    def pid(self) -> int:
        return self.proc.pid

    def warnings(self) -> list[str]:
        return [line for line in self.log.read_text().splitlines()
                if " ERROR " in line or " WARNING " in line]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


def start_serve(data_dir: Path, db: str | None, loop: str, workers: int = 1) -> ServerProcess:
    env = {"IVR_DATA_DIR": str(data_dir), "IVR_NOW": PINNED, "IVR_LOOP": loop,
           "IVR_WORKERS": str(workers)}
    if db:
        env["IVR_DATABASE_URL"] = db
    return ServerProcess(
        [sys.executable, "-m", "ivr", "serve", "--agi-port", "0", "--web-port", "0",
         "--no-prompt-build", "--flows", str(ROOT / "config/flows.yaml"),
         "--prompts", str(ROOT / "config/prompts.yaml")], data_dir, env)


def start_null(data_dir: Path, loop: str) -> ServerProcess:
    return ServerProcess([sys.executable, __file__, "--serve-null", str(data_dir),
                          "--loop", loop], data_dir, {"IVR_NOW": PINNED})


# ------------------------------------------------------------------ (b): no database


class NullStore:
    """The engine's store, doing nothing: what (b) leaves out is the database."""

    async def save_call(self, record: object) -> None:
        return None

    async def open_case(self, draft: object) -> str:
        return "C-0000-0"

    async def finish_transfer(self, case_id: str, result: object) -> None:
        return None


def cached_lookups(lookups: Any, metrics: Any) -> Any:
    """The same lookups, each answered from memory once it has run for those inputs."""
    from dataclasses import replace

    from ivr.lookups import LookupRegistry

    def memo(fn: Any) -> Any:
        seen: dict[str, Any] = {}

        async def run(inputs: Mapping[str, Any], ctx: Any) -> Any:
            key = repr((sorted(inputs.items()), ctx.caller, ctx.dialled))
            if key not in seen:
                seen[key] = await fn(inputs, ctx)
            return seen[key]

        return run

    return LookupRegistry([replace(lookups.spec(n), fn=memo(lookups.spec(n).fn))
                           for n in sorted(lookups.names())], metrics=metrics)


async def serve_null(data_dir: Path) -> None:
    from ivr.agi.server import FastAgiServer
    from ivr.config.settings import Settings
    from ivr.engine.engine import Engine
    from ivr.metrics import Metrics
    from ivr.service import open_core

    settings = Settings(data_dir=data_dir, agi_port=0, web_port=0,
                        flows_path=ROOT / "config/flows.yaml",
                        prompts_path=ROOT / "config/prompts.yaml")
    # The same metrics as ivr serve counts (every AGI command, lookup and call): (a)
    # and (b) differ by the database only.
    metrics = Metrics()
    core = await open_core(settings, os.environ, metrics=metrics)
    engine = Engine(core.flows, cached_lookups(core.lookups, metrics), core.catalog,
                    NullStore(), core.clock, metrics=metrics)

    async def handler(channel: Any) -> object:
        return await engine.run(channel)

    agi = FastAgiServer(handler, port=0, metrics=metrics)
    await agi.start()
    print(f"FastAGI listening on 127.0.0.1:{agi.port}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await agi.stop(1.0)
    await core.close()


# ------------------------------------------------------------------ load


async def billing_calls(port: int, calls: int, concurrency: int) -> Any:
    from ivr.testing.callers import PatientCaller
    from ivr.testing.load import drive_calls

    run = await drive_calls("127.0.0.1", port, calls, concurrency=concurrency,
                            caller_factory=lambda _i: PatientCaller(KEYS), extension=HCMC,
                            callerid=BILLING_PHONE)
    return run.summary


def compare(args: argparse.Namespace, tmp: Path) -> None:
    serve = start_serve(tmp / "serve", args.db, args.loop)
    null = start_null(tmp / "null", args.loop)
    servers = (("(a) ivr serve", serve), ("(b) AGI + engine, null store", null))
    per_call: dict[str, list[float]] = {label: [] for label, _ in servers}
    rates: dict[str, list[float]] = {label: [] for label, _ in servers}
    p99: dict[str, list[float]] = {label: [] for label, _ in servers}
    try:
        for _label, server in servers:  # warm up: imports, caches, the null store's answers
            run_on(args.loop, billing_calls(server.port, 50, 10))
        for _round in range(args.rounds):
            for label, server in servers:
                before = cpu_seconds(server.pid)
                summary = run_on(args.loop, billing_calls(server.port, args.calls,
                                                          args.concurrency))
                used = cpu_seconds(server.pid) - before
                if summary.completed != args.calls:
                    raise SystemExit(f"{label}: {summary.completed}/{args.calls} completed")
                per_call[label].append(used / args.calls * 1000)
                rates[label].append(summary.calls_per_second)
                p99[label].append(summary.p99_ms)
        warnings = serve.warnings()
    finally:
        serve.stop()
        null.stop()
    backend = args.db.split(":")[0] if args.db else "sqlite"
    print(f"demo billing call ({KEYS}), {args.calls} calls x {args.rounds} rounds interleaved, "
          f"{args.concurrency} at once, db={backend}, loop={args.loop}, "
          f"{os.cpu_count()} cores (median round)")
    print(f"  {'server':<32}{'CPU ms/call':>12}{'calls/s':>9}{'p99 ms':>9}")
    medians = {}
    for label, _ in servers:
        medians[label] = median(per_call[label])
        print(f"  {label:<32}{medians[label]:>12.2f}{median(rates[label]):>9.0f}"
              f"{median(p99[label]):>9.2f}")
    a, b = (medians[label] for label, _ in servers)
    print(f"  server CPU per call (a)/(b): {a / b:.2f} "
          f"(the store costs {a - b:.2f} ms of CPU per call)")
    print(f"  (a) warnings/errors: {len(warnings)}")
    for line in warnings[:5]:
        print("    " + line[:160])


def compare_workers(args: argparse.Namespace, tmp: Path) -> None:
    """calls/s of ``ivr serve`` with 1 worker and with ``--workers`` N, interleaved."""
    counts = (1, args.workers)
    servers = [(n, start_serve(tmp / f"w{n}", args.db, args.loop, n)) for n in counts]
    rates: dict[int, list[float]] = {n: [] for n in counts}
    p99: dict[int, list[float]] = {n: [] for n in counts}
    try:
        for _n, server in servers:
            run_on(args.loop, billing_calls(server.port, 50, 10))  # warm up every worker
        for _round in range(args.rounds):
            for n, server in servers:
                summary = run_on(args.loop, billing_calls(server.port, args.calls,
                                                          args.concurrency))
                if summary.completed != args.calls:
                    raise SystemExit(f"{n} workers: {summary.completed}/{args.calls} completed")
                rates[n].append(summary.calls_per_second)
                p99[n].append(summary.p99_ms)
    finally:
        for _n, server in servers:
            server.stop()
    backend = args.db.split(":")[0] if args.db else "sqlite"
    print(f"ivr serve --workers, demo billing call, {args.calls} calls x {args.rounds} rounds "
          f"interleaved, {args.concurrency} at once, db={backend}, loop={args.loop}, "
          f"{os.cpu_count()} cores shared with the load generator (median round)")
    for n in counts:
        print(f"  {n} worker{'s' if n > 1 else ' '}   calls/s {median(rates[n]):>6.0f}   "
              f"p99 turn {median(p99[n]):>7.2f} ms")
    print(f"  calls/s {args.workers} workers / 1: "
          f"{median(rates[args.workers]) / median(rates[1]):.2f}")


def median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0


# ------------------------------------------------------------------ storm


def run_on(loop: str, main: Any) -> Any:
    """Run the load generator on the servers' loop too (uvloop: a faster generator)."""
    from ivr.cli.event_loop import run

    return run(main, loop)


def spilled_records(path: Path) -> dict[str, dict[str, Any]]:
    """Records the server could not save in time, from its fallback file: the same shape
    as the database's rows (the engine writes each record's fields as JSON)."""
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for row in rows:
        row["outcome"] = row.get("outcome")
    return {str(r["call_id"]): r for r in rows}


async def play_storm(server: ServerProcess, n: int, ramp: float, hold_at: int,
                     db_url: str, spill: Path) -> dict[str, Any]:
    from ivr.testing.callers import PatientCaller
    from ivr.testing.fake_asterisk import Hold
    from ivr.testing.load import call_result, drive_calls, fetch_records

    def storm_calls(count: int, hold: Hold, spread: float) -> asyncio.Future[Any]:
        return asyncio.ensure_future(drive_calls(
            "127.0.0.1", server.port, count, concurrency=count, ramp=spread, hold=hold,
            caller_factory=lambda _i: PatientCaller(), extension=HCMC, callerid=OUTAGE_PHONE))

    await storm_calls(20, Hold(20, hold_at), 0.0)  # warm up
    # Memory per held call is the slope between a fifth of the storm and all of it, both
    # held at once: an RSS delta from zero would hide calls in memory that start-up (the
    # demo seed) freed but the allocator kept.
    first_n = max(n // 5, 1)
    first = Hold(first_n, hold_at, auto_release=False)
    first_run = storm_calls(first_n, first, ramp * first_n / n)
    await first.all_parked.wait()
    rss_first = proc_status(server.pid, "VmRSS")
    rest = Hold(n - first_n, hold_at, auto_release=False) if n > first_n else None
    rest_run = storm_calls(n - first_n, rest, ramp * (n - first_n) / n) if rest else None
    if rest is not None:
        await rest.all_parked.wait()
    rss_all = proc_status(server.pid, "VmRSS")
    for hold in (first, rest):  # the storm ends: every caller hangs up at once
        if hold is not None:
            hold.release()
    loads = [await first_run] + ([await rest_run] if rest_run is not None else [])
    transcripts = [t for load in loads for t in load.transcripts]
    ids = [t.call_id for t in transcripts]
    # The server releases a call's socket before it writes the record: give the records
    # of the last hang-ups a moment (up to the engine's 10 s save timeout and then some).
    deadline = time.monotonic() + 15.0
    while True:
        records = await fetch_records(db_url, ids)
        spilled = spilled_records(spill)
        if len(records) + len(spilled) >= len(ids) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    results = [call_result(t, records.get(t.call_id) or spilled.get(t.call_id))
               for t in transcripts]
    latencies = sorted(x for t in transcripts for x in t.latencies)
    return {"results": results, "records": records, "spilled": spilled,
            "latencies": latencies,
            "failed": sum(bool(t.error) for t in transcripts),
            "drain": max(load.summary.drain_seconds for load in loads),
            "rss_first": rss_first, "rss_all": rss_all, "first": first.parked,
            "parked": first.parked + (rest.parked if rest else 0)}


def storm(args: argparse.Namespace, tmp: Path) -> None:
    data_dir = tmp / "serve"
    server = start_serve(data_dir, args.db, args.loop)
    db_url = args.db or f"sqlite+aiosqlite:///{data_dir / 'ivr.db'}"
    try:
        out = run_on(args.loop, play_storm(server, args.storm, args.ramp, args.hold_at,
                                           db_url, data_dir / "unsaved-calls.jsonl"))
        warnings = server.warnings()
    finally:
        server.stop()
    results = out["results"]

    def heard(r: dict[str, Any]) -> bool:  # played to its end: not the prompt it hung up in
        prompts = r["prompts"][:-1] if r["parked"] else r["prompts"]
        return ANNOUNCEMENT in prompts

    lookups = [x for r in results for x in r.get("lookups", ())]
    timed_out = sum(x["status"] == "timeout" for x in lookups)
    spilled = len(out["spilled"])
    unparked = [r for r in results if not r["parked"]]
    outcomes: dict[str, int] = {}
    for record in out["records"].values():
        outcomes[record["outcome"]] = outcomes.get(record["outcome"], 0) + 1
    from ivr.testing.load import percentile

    lat = out["latencies"]
    grown = out["rss_all"] - out["rss_first"]
    added = out["parked"] - out["first"]
    backend = args.db.split(":")[0] if args.db else "sqlite"
    print(f"storm: {args.storm} callers from an outage area ({OUTAGE_PHONE}) arriving "
          f"within {args.ramp:g} s, parked at prompt {args.hold_at}, then all hung up at "
          f"once; db={backend}, loop={args.loop}")
    rows = [
        ("heard the announcement", f"{sum(heard(r) for r in results)} of {len(results)}"),
        ("lookups timed out", f"{timed_out} of {len(lookups)}"),
        ("records written", f"{len(out['records'])} {json.dumps(dict(sorted(outcomes.items())))}"),
        ("records spilled", f"{spilled}"),
        ("calls failed to connect", f"{out['failed']}"),
        ("calls ended before prompt", f"{len(unparked)}"
         + (f" (e.g. {unparked[0].get('server_error') or unparked[0]['commands']})"
            if unparked else "")),
        ("turn latency p50 / p99 ms",
         f"{percentile(lat, 50) * 1000:.1f} / {percentile(lat, 99) * 1000:.1f}"),
        ("hang-up to last close s", f"{out['drain']:.2f}"),
        ("server RSS per held call", f"{grown / max(added, 1):.2f} KiB (from "
         f"{out['first']} to {out['parked']} held: +{grown / 1024:.1f} MiB, "
         f"{out['rss_all'] / 1024:.0f} MiB in all)"),
        ("server warnings/errors", f"{len(warnings)}"),
    ]
    for label, value in rows:
        print(f"  {label:<28}{value}")
    for line in warnings[:3]:
        print("    " + line[:160])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1000, help="calls per round")
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", help="database URL (default: SQLite in a temp dir)")
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--storm", type=int, metavar="N", help="storm mode with N callers")
    parser.add_argument("--ramp", type=float, default=3.0,
                        help="storm: seconds over which the callers arrive")
    parser.add_argument("--hold-at", type=int, default=2,
                        help="storm: the prompt the callers hang up in (default 2: the one "
                             "after the announcement, its cause)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="compare ivr serve --workers N with one worker (calls/s)")
    parser.add_argument("--serve-null", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_null:
        from ivr.cli.event_loop import run

        run(serve_null(args.serve_null), args.loop)
        return
    with tempfile.TemporaryDirectory(prefix="ivr-bench-") as tmp:
        if args.storm:
            storm(args, Path(tmp))
        elif args.workers:
            compare_workers(args, Path(tmp))
        else:
            compare(args, Path(tmp))


if __name__ == "__main__":
    main()
