"""``ivr serve --workers 2``: two processes answer calls on one FastAGI port and write
one SQLite file at once; a worker that dies is started again; SIGTERM stops them all."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import sys
from pathlib import Path

import pytest
from test_e2e_serve import BILLING_KEYS, FLOWS_YAML, HCMC, ONE_ACCOUNT_PHONE, PINNED, PROMPTS_YAML

from ivr.testing.callers import PatientCaller
from ivr.testing.fake_asterisk import run_call, run_many

pytestmark = pytest.mark.dates
READY = re.compile(r"ivr: FastAGI listening on [\d.]+:(\d+)")
WORKER_READY = re.compile(r"ivr: worker (\d+) pid (\d+) ready")
#: The FastAGI server's debug line for each call, in a worker's log format.
CALL_LINE = re.compile(r"worker \d+ pid (\d+) ivr\.agi\.server: call (\S+) from")
START_TIMEOUT = 120.0
#: -vv logs the database layer too: some of its lines (the demo seed) are long.
OUTPUT_LINE_LIMIT = 16 * 1024 * 1024


class Supervisor:
    """``ivr -vv serve --workers 2`` as a child process; its output, line by line."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.lines: list[str] = []
        self._new_line = asyncio.Event()
        self.proc: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None

    async def start(self) -> int:
        env = {**os.environ, **PINNED, "IVR_DATA_DIR": str(self.data_dir),
               "IVR_FLOWS": str(FLOWS_YAML), "IVR_PROMPTS": str(PROMPTS_YAML)}
        env.pop("IVR_DATABASE_URL", None)
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ivr", "-vv", "serve", "--workers", "2", "--agi-port", "0",
            "--web-port", "0", "--no-prompt-build", env=env, cwd=self.data_dir,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, limit=OUTPUT_LINE_LIMIT)
        self._drain = asyncio.create_task(self._read())
        match = await self.wait_for(READY)
        return int(match.group(1))

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace"))
            self._new_line.set()
        self._new_line.set()

    async def wait_for(self, pattern: re.Pattern[str], after: int = 0) -> re.Match[str]:
        """The first line from number ``after`` on that matches ``pattern``."""
        async with asyncio.timeout(START_TIMEOUT):
            seen = after
            while True:
                for line in self.lines[seen:]:
                    if m := pattern.search(line):
                        return m
                seen = len(self.lines)
                assert self._drain is not None
                if self._drain.done():
                    raise AssertionError("ivr serve exited:\n" + self.output())
                self._new_line.clear()
                await self._new_line.wait()

    def output(self) -> str:
        return "".join(line for line in self.lines if " DEBUG " not in line)

    async def stop(self) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), 60)
        if self._drain is not None:
            await self._drain
        return code


async def billing_call(port: int, uniqueid: str) -> bool:
    t = await run_call("127.0.0.1", port, PatientCaller(BILLING_KEYS), extension=HCMC,
                       callerid=ONE_ACCOUNT_PHONE, uniqueid=uniqueid)
    return t.closed_by_server


def outcomes(data_dir: Path, prefix: str) -> list[str]:
    with sqlite3.connect(data_dir / "ivr.db") as conn:
        rows = conn.execute("SELECT outcome FROM call_records WHERE call_id LIKE ?",
                            (prefix + "%",))
        return [str(r[0]) for r in rows]


async def test_two_workers_answer_on_one_port_and_write_one_sqlite_file(
        tmp_path: Path) -> None:
    server = Supervisor(tmp_path)
    port = await server.start()
    n = 40
    try:
        transcripts = await run_many(
            "127.0.0.1", port, n, concurrency=20,
            caller_factory=lambda _i: PatientCaller(BILLING_KEYS), extension=HCMC,
            callerid=ONE_ACCOUNT_PHONE, record=False)
    finally:
        code = await server.stop()
    assert code == 0, server.output()
    assert all(t.closed_by_server for t in transcripts)
    took = {m.group(2): m.group(1) for line in server.lines if (m := CALL_LINE.search(line))}
    assert len(took) == n, server.output()
    # Both processes took calls (SO_REUSEPORT spreads connections by their addresses:
    # all 40 on one worker would be a 1 in 2**39 chance).
    assert len(set(took.values())) == 2, took
    # ...and both wrote into the one file at once, with no write lost or spilled.
    with sqlite3.connect(tmp_path / "ivr.db") as conn:
        saved = conn.execute("SELECT outcome, count(*) FROM call_records GROUP BY outcome")
        assert dict(saved) == {"self_served": n}
    assert not (tmp_path / "unsaved-calls.jsonl").exists()
    assert "database is locked" not in server.output()
    assert "ivr: stopping 2 workers" in server.output()


async def test_a_dead_worker_is_started_again(tmp_path: Path) -> None:
    server = Supervisor(tmp_path)
    port = await server.start()
    try:
        first = await server.wait_for(WORKER_READY)
        index, pid = first.group(1), int(first.group(2))
        mark = len(server.lines)
        os.kill(pid, signal.SIGKILL)
        again = await server.wait_for(WORKER_READY, after=mark)
        assert again.group(1) == index and int(again.group(2)) != pid
        assert f"worker {index} (pid {pid}) exited with code -9" in server.output()
        assert await billing_call(port, "restart.1")
    finally:
        code = await server.stop()
    assert code == 0, server.output()
    assert outcomes(tmp_path, "restart.") == ["self_served"]
