"""No lost reports: ``ivr serve`` is SIGKILLed right after it announced a ticket number;
after a restart the ticket the caller heard is in the database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from ivr.clock import DEFAULT_TZ, FixedClock
from ivr.lookups import LookupContext, LookupStatus
from ivr.store import Store
from ivr.store.lookups import build_lookups
from ivr.testing.callers import PatientCaller
from ivr.testing.fake_asterisk import run_call

ROOT = Path(__file__).resolve().parent.parent
CALLER = "0901234567"  # PE01000123456: the only account on its phone (docs/demo-data.md)
HCMC = "1900545454"
# silent at the safety offer, 1 outages, 1 use the registered account, 1 report it
REPORT_KEYS = "-111"
DIGIT_WORDS = {"w_khong": "0", "w_mot": "1", "w_hai": "2", "w_ba": "3", "w_bon": "4",
               "w_nam": "5", "w_sau": "6", "w_bay": "7", "w_tam": "8", "w_chin": "9"}
READY = re.compile(r"FastAGI listening on [\d.]+:(\d+)")
#: Seeding the demo data and compiling flows on a busy CI machine.
START_TIMEOUT = 120.0
#: The server seeds the demo data for the month it starts in and files reports at its
#: clock's time: it and this test's own store live on one pinned weekday morning.
PINNED_AT = datetime(2026, 11, 26, 10, 0, tzinfo=DEFAULT_TZ)


class KillAfterTicket(PatientCaller):
    """A caller who hears the ticket number; the server dies right after it was said,
    as the next question starts (the number itself plays without barge-in)."""

    def __init__(self, keys: str, proc: asyncio.subprocess.Process) -> None:
        super().__init__(keys)
        self.proc = proc

    def during_prompt(self, file: str, escape: str) -> str | None:
        if file.endswith("/anything_else"):
            self.proc.send_signal(signal.SIGKILL)
        return super().during_prompt(file, escape)


def ticket_heard(commands: list[str]) -> str:
    """The digits streamed after the ``your_ticket_is`` prompt."""
    files = [c.split()[2].rsplit("/", 1)[-1] for c in commands if c.startswith("STREAM FILE ")]
    start = files.index("your_ticket_is") + 1
    digits = ""
    for word in files[start:]:
        if word not in DIGIT_WORDS:
            break
        digits += DIGIT_WORDS[word]
    return digits


class Server:
    """``ivr serve`` as a child process, its output kept for failure messages."""

    def __init__(self, data_dir: Path, db_url: str) -> None:
        self.data_dir = data_dir
        self.db_url = db_url
        self.output: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None

    async def start(self) -> int:
        env = {**os.environ, "IVR_DATA_DIR": str(self.data_dir),
               "IVR_DATABASE_URL": self.db_url,
               "IVR_FLOWS": str(ROOT / "config" / "flows.yaml"),
               "IVR_PROMPTS": str(ROOT / "config" / "prompts.yaml"),
               "IVR_NOW": PINNED_AT.isoformat()}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ivr", "serve", "--agi-port", "0", "--web-port", "0",
            env=env, cwd=self.data_dir, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._drain = asyncio.create_task(self._read(ready))
        try:
            return await asyncio.wait_for(asyncio.shield(ready), START_TIMEOUT)
        except BaseException:
            await self.kill()
            raise

    async def _read(self, ready: asyncio.Future[int]) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode(errors="replace")
            self.output.append(line)
            if not ready.done() and (m := READY.search(line)):
                ready.set_result(int(m.group(1)))
        if not ready.done():
            ready.set_exception(AssertionError("ivr serve exited:\n" + "".join(self.output)))

    async def wait(self) -> int:
        assert self.proc is not None
        code = await asyncio.wait_for(self.proc.wait(), 30)
        if self._drain is not None:
            await self._drain
        return code

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.wait()


async def ticket_survives_sigkill(tmp_path: Path, db_url: str) -> None:
    server = Server(tmp_path, db_url)
    port = await server.start()
    assert server.proc is not None
    caller = KillAfterTicket(REPORT_KEYS, server.proc)
    call_id = f"durable.{uuid.uuid4().hex[:8]}"
    try:
        transcript = await run_call("127.0.0.1", port, caller, callerid=CALLER,
                                    extension=HCMC, uniqueid=call_id)
        code = await server.wait()
    finally:
        await server.kill()
    assert code == -signal.SIGKILL, "".join(server.output)
    heard = ticket_heard(transcript.commands)
    assert heard.isdigit() and len(heard) >= 6, heard

    # Restart the server on the same database: it must come up with the report intact.
    server = Server(tmp_path, db_url)
    await server.start()
    try:
        store = await Store.open(db_url, clock=FixedClock(PINNED_AT))
        try:
            lookups = build_lookups(store)
            # The same call asking again gets the same ticket: the one the caller heard.
            again = await lookups.run("report_outage", {"account": "PE01000123456"},
                                      LookupContext(call_id, CALLER, HCMC, "vi", "hotline"))
            assert again.status is LookupStatus.FOUND, again.error
            assert again.value["ticket"] == heard
        finally:
            await store.close()
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        assert await server.wait() == 0, "".join(server.output)
    finally:
        await server.kill()


@pytest.mark.dates
async def test_ticket_survives_sigkill_on_sqlite(tmp_path: Path) -> None:
    await ticket_survives_sigkill(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}")


@pytest.fixture
async def fresh_postgres_db(postgres_url: str) -> AsyncIterator[str]:
    """A database of its own: the server migrates and seeds it like a new site."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"ivr_e2e_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(postgres_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.mark.postgres
async def test_ticket_survives_sigkill_on_postgres(tmp_path: Path, fresh_postgres_db: str) -> None:
    await ticket_survives_sigkill(tmp_path, fresh_postgres_db)
