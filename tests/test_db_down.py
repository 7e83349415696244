"""The database down or gone never costs a caller or a record.

``ivr serve`` (the composed :class:`Service`) started with the database unreachable
(a SQLite path it cannot open; PostgreSQL with a role that does not exist) serves
degraded: every call is answered, lookups take the flow's error branch (an apology
and the agent queue), records go to the spill file, ``/healthz`` says 503 and why; when
the database comes back it is migrated and seeded as at a normal start and the spill is
replayed. A SQLite file deleted under a running server refuses the ticket write, so no
caller is read a number that exists nowhere.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from ivr.config.settings import Settings
from ivr.service import UNSAVED_CALLS, Service, StartupError, open_core
from ivr.testing.callers import PatientCaller
from ivr.testing.fake_asterisk import CallTranscript, run_call

ROOT = Path(__file__).resolve().parent.parent
HCMC = "1900545454"
ONE_ACCOUNT_PHONE = "0901234567"  # PE01000123456 (docs/demo-data.md)
# silent at the safety offer, 2 billing, 1 use the registered account, 2 goodbye,
# silent at the survey
BILLING_KEYS = "-212-"
# With the database down the caller's accounts cannot be looked up, so the flow asks for
# the customer code: silent at the safety offer, 2 billing, the code and #, 1 it is right.
DOWN_BILLING_KEYS = "-201000123456#1"
# silent at the safety offer, 1 outages, 1 use the registered account, 1 report it
REPORT_KEYS = "-111"
PINNED = {"IVR_NOW": "2026-11-26T10:00:00+07:00"}
#: Seconds to wait for the watch task to bring a database back: its retries back off
#: from 1 s, and seeding the demo set takes a few seconds on a busy machine.
RECOVERY_TIMEOUT = 120.0


def settings_for(tmp_path: Path, **changes: Any) -> Settings:
    base = Settings(data_dir=tmp_path, agi_port=0, web_port=0,
                    flows_path=ROOT / "config" / "flows.yaml",
                    prompts_path=ROOT / "config" / "prompts.yaml", seed_demo=True)
    return replace(base, **changes)


@pytest.fixture
async def started() -> AsyncIterator[Callable[[Settings], Any]]:
    services: list[Service] = []

    async def start(settings: Settings) -> Service:
        core = await open_core(settings, PINNED)
        svc = Service(core, {}, build_prompts=False)
        await svc.start()
        services.append(svc)
        return svc

    yield start
    for svc in services:
        await svc.stop(grace=2.0)


async def call(svc: Service, keys: str, uniqueid: str) -> CallTranscript:
    transcript = await run_call("127.0.0.1", svc.agi_port, PatientCaller(keys),
                                callerid=ONE_ACCOUNT_PHONE, extension=HCMC, uniqueid=uniqueid)
    assert svc.agi is not None
    await svc.agi.wait_idle()  # the record is written after the socket closes
    return transcript


def streamed(transcript: CallTranscript) -> list[str]:
    return [c.split()[2].rsplit("/", 1)[-1] for c in transcript.commands
            if c.startswith("STREAM FILE ")]


async def healthz(svc: Service) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, \
            http.get(f"http://127.0.0.1:{svc.web_port}/healthz") as resp:
        body = await resp.json()
        body.pop("flows_version", None)  # what these tests look at is the database
        return resp.status, body


def spilled_ids(tmp_path: Path) -> list[str]:
    import json

    spill = tmp_path / UNSAVED_CALLS
    if not spill.exists():
        return []
    return [json.loads(line)["call_id"] for line in spill.read_text().splitlines()]


async def served_degraded_then_replayed(svc: Service, tmp_path: Path, tag: str,
                                        bring_back: Callable[[], Any]) -> list[str]:
    """Three calls while the database is down, then it comes back: returns the call ids,
    checked spilled while down and in the database after."""
    status, body = await healthz(svc)
    assert status == 503 and body["status"] == "degraded", body
    assert body["database"]["state"] == "unreachable", body
    ids = [f"{tag}.{n}" for n in range(3)]
    for call_id in ids:
        transcript = await call(svc, DOWN_BILLING_KEYS, call_id)
        assert transcript.closed_by_server
        files = streamed(transcript)
        assert "sorry_transfer" in files, files  # the flow's error branch: apologise...
        assert transcript.has_command("EXEC Queue"), transcript.text()  # ...and an agent
    assert spilled_ids(tmp_path) == ids

    assert not svc.database_settled.is_set()
    await bring_back()
    # Set by the watch once the database is prepared and the spill replayed.
    await asyncio.wait_for(svc.database_settled.wait(), RECOVERY_TIMEOUT)
    saved = {c["call_id"]: c for c in await svc.core.store.list_calls(limit=100)}
    assert set(ids) <= set(saved), sorted(saved)
    assert all(saved[i]["outcome"] == "transferred" for i in ids)
    assert await healthz(svc) == (200, {"status": "ok"})
    # Served normally again: the account is found and its bill read out.
    after = await call(svc, BILLING_KEYS, f"{tag}.after")
    assert "sorry_transfer" not in streamed(after)
    return ids


async def test_sqlite_unopenable_at_start_serves_degraded_then_recovers(
    tmp_path: Path, started: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    db_path = tmp_path / "ivr.db"
    db_path.mkdir()  # a directory where the database file should be: SQLite cannot open it
    svc = await started(settings_for(tmp_path))
    start_lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(start_lines) == 1, start_lines
    line = start_lines[0]
    assert f"database sqlite+aiosqlite:///{db_path} unreachable (IsADirectoryError: " in line
    assert f"check that {db_path} is a SQLite database file" in line
    assert "Serving degraded" in line and str(tmp_path / UNSAVED_CALLS) in line

    async def bring_back() -> None:
        db_path.rmdir()

    await served_degraded_then_replayed(svc, tmp_path, "deg.sqlite", bring_back)


@pytest.mark.postgres
async def test_postgres_missing_role_at_start_serves_degraded_then_recovers(
    tmp_path: Path, started: Any, postgres_url: str, caplog: pytest.LogCaptureFixture,
) -> None:
    name = f"ivr_deg_{uuid.uuid4().hex[:10]}"
    url = make_url(postgres_url).set(username=name, password="s3cret-pw", database=name)
    admin = create_async_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        svc = await started(settings_for(
            tmp_path, db_url=url.render_as_string(hide_password=False)))
        start_lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(start_lines) == 1, start_lines
        assert f'role "{name}" does not exist' in start_lines[0]
        assert f"postgresql+asyncpg://{name}:***@" in start_lines[0]
        assert "s3cret-pw" not in caplog.text
        assert f"role {name} may log in" in start_lines[0]

        async def bring_back() -> None:
            async with admin.connect() as conn:
                await conn.execute(text(f'CREATE ROLE "{name}" LOGIN'))
                await conn.execute(text(f'CREATE DATABASE "{name}" OWNER "{name}"'))

        await served_degraded_then_replayed(svc, tmp_path, "deg.pg", bring_back)
        await svc.stop(grace=2.0)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
        await admin.dispose()


async def test_require_database_refuses_to_start_with_one_line(tmp_path: Path) -> None:
    db_path = tmp_path / "ivr.db"
    db_path.mkdir()
    with pytest.raises(StartupError) as caught:
        await open_core(settings_for(tmp_path, require_database=True), PINNED)
    message = str(caught.value)
    assert message.startswith(f"database sqlite+aiosqlite:///{db_path} unreachable (")
    assert message.endswith("(require_database is set: not starting)")
    assert "\n" not in message


async def test_ivr_serve_require_database_is_one_line_without_a_traceback(
    tmp_path: Path,
) -> None:
    env = {**os.environ, **PINNED, "IVR_DATA_DIR": str(tmp_path),
           "IVR_FLOWS": str(ROOT / "config" / "flows.yaml"),
           "IVR_PROMPTS": str(ROOT / "config" / "prompts.yaml")}
    (tmp_path / "ivr.db").mkdir()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ivr", "serve", "--require-database", "--agi-port", "0",
        "--web-port", "0", "--no-prompt-build", env=env, cwd=tmp_path,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 2, (out, err)
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ivr: error: database "), lines
    assert "unreachable" in lines[0] and "Traceback" not in err.decode()


async def test_sqlite_file_deleted_under_a_running_server_tells_no_caller_a_ticket(
    tmp_path: Path, started: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    svc = await started(settings_for(tmp_path))
    told = await call(svc, REPORT_KEYS, "gone.before")
    assert "your_ticket_is" in streamed(told)  # the file is there: a ticket is read out
    assert await healthz(svc) == (200, {"status": "ok"})

    (tmp_path / "ivr.db").unlink()
    ids = [f"gone.{n}" for n in range(4)]
    for call_id in ids:
        transcript = await call(svc, REPORT_KEYS, call_id)
        files = streamed(transcript)
        assert "your_ticket_is" not in files, files  # no number that exists nowhere
        assert "sorry_transfer" in files and transcript.has_command("EXEC Queue")
    status, body = await healthz(svc)
    assert status == 503 and body["database"]["state"] == "file_replaced", body
    assert spilled_ids(tmp_path) == ids  # the records are kept for the next start
    errors = [r.getMessage() for r in caplog.records
              if r.levelno >= logging.ERROR and "was deleted" in r.getMessage()]
    assert len(errors) == 1, errors  # loud, and once
