"""Load on the whole service: ``ivr serve`` (engine, store, SQLite or PostgreSQL) in its
own process, driven by ``ivr loadtest`` (the fake Asterisk, virtual time) from another.

Reports AGI commands per second and calls per second through the real demo hotline,
and the server's peak resident memory (VmHWM) with N calls in progress at once.

    .venv/bin/python bench/serve_load.py                      # SQLite, defaults below
    .venv/bin/python bench/serve_load.py --calls 3000 --concurrency 1000 --pace 0.5
    .venv/bin/python bench/serve_load.py --db postgresql+asyncpg://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READY = re.compile(r"FastAGI listening on [\d.]+:(\d+)")
#: A full self-served billing call on the demo hotline (docs/demo-data.md account
#: PE01000123456): silent at the safety offer, 2 billing, 1 registered account, 2 bye.
KEYS = "-212-"


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def start_server(data_dir: Path, db: str | None) -> tuple[subprocess.Popen[bytes], int]:
    env = {**os.environ, "IVR_DATA_DIR": str(data_dir)}
    if db:
        env["IVR_DATABASE_URL"] = db
    cmd = [sys.executable, "-m", "ivr", "serve", "--agi-port", "0", "--web-port", "0",
           "--no-prompt-build",
           "--flows", str(ROOT / "config/flows.yaml"),
           "--prompts", str(ROOT / "config/prompts.yaml")]
    log = data_dir / "serve.log"
    # Output goes to a file: a pipe nobody reads would fill and stall the server.
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=data_dir)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if m := READY.search(log.read_text()):
            return proc, int(m.group(1))
        time.sleep(0.2)
    raise SystemExit("ivr serve did not start:\n" + log.read_text())


def count_outcomes(data_dir: Path, db: str | None) -> dict[str, int]:
    """Outcomes of the calls recorded (SQLite only): did lookups hold up under load?"""
    if db:
        return {}
    import sqlite3

    with sqlite3.connect(data_dir / "ivr.db") as conn:
        rows = conn.execute("SELECT outcome, count(*) FROM call_records GROUP BY outcome")
        return {str(k): int(v) for k, v in rows}


def load(port: int, calls: int, concurrency: int, pace: float = 0.0) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "ivr", "loadtest", "--port", str(port), "--calls", str(calls),
         "--concurrency", str(concurrency), "--caller", "patient", f"--keys={KEYS}",
         "--extension", "1900545454", "--callerid", "0901234567", "--json", "--no-progress",
         f"--pace={pace}"],
        check=True, capture_output=True, text=True,
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=1000)
    parser.add_argument("--pace", type=float, default=0.0,
                        help="real seconds per prompt/wait (0: virtual time, a burst test)")
    parser.add_argument("--db", help="database URL (default: SQLite in a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ivr-bench-") as tmp:
        proc, port = start_server(Path(tmp), args.db)
        try:
            idle = rss_kib(proc.pid, "VmRSS")
            load(port, 50, 10)  # warm up: imports, caches, first connections
            started = time.perf_counter()
            result = load(port, args.calls, args.concurrency, args.pace)
            wall = time.perf_counter() - started
            peak = rss_kib(proc.pid, "VmHWM")
            outcomes = count_outcomes(Path(tmp), args.db)
            if os.environ.get("KEEP_LOG"):
                Path(os.environ["KEEP_LOG"]).write_text((Path(tmp) / "serve.log").read_text())
            errors = [line for line in (Path(tmp) / "serve.log").read_text().splitlines()
                      if " ERROR " in line or " WARNING " in line]
        finally:
            proc.terminate()
            proc.wait(30)
    backend = args.db.split(":")[0] if args.db else "sqlite"
    print(f"ivr serve, demo hotline billing call, {args.calls} calls, "
          f"{args.concurrency} at once, pace {args.pace}s, db={backend}")
    print(f"  {'calls/s':<24}{result['calls_per_second']:>10.0f}")
    print(f"  {'AGI commands/s':<24}{result['commands_per_second']:>10.0f}")
    print(f"  {'commands per call':<24}{result['commands'] / max(1, result['calls']):>10.1f}")
    print(f"  {'turn latency p50 ms':<24}{result['p50_ms']:>10.2f}")
    print(f"  {'turn latency p99 ms':<24}{result['p99_ms']:>10.2f}")
    print(f"  {'server RSS idle MiB':<24}{idle / 1024:>10.1f}")
    print(f"  {'server RSS peak MiB':<24}{peak / 1024:>10.1f}")
    print(f"  {'wall s':<24}{wall:>10.1f}")
    print(f"  {'call outcomes':<24}{outcomes}")
    print(f"  {'server warnings/errors':<24}{len(errors):>10}")
    for line in errors[:5]:
        print("    " + line[:160])


if __name__ == "__main__":
    main()
