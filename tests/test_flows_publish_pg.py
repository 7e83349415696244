"""Two ``ivr serve`` processes on one PostgreSQL (issue 13, item 2): a version published
on one node goes live on the other (NOTIFY ivr_flows; the other loads the texts from the
database), which writes its own files and reports the version on ``/healthz``; a
rollback on the second comes back to the first. Each node has its own config directory,
as on two machines, so nothing but the database carries the version."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from publish_support import TOKEN, copy_config, with_storm_option, with_storm_prompt

from ivr.flows.source import unit_version
from ivr.testing.callers import PatientCaller
from ivr.testing.fake_asterisk import run_call

pytestmark = [pytest.mark.postgres, pytest.mark.dates]
PINNED_AT = "2026-11-26T10:00:00+07:00"
AGI = re.compile(r"FastAGI listening on [\d.]+:(\d+)")
WEB = re.compile(r"web app on http://[\d.]+:(\d+)/")
START_TIMEOUT = 120.0
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Server:
    """``ivr serve`` as a child process with its own config copy."""

    def __init__(self, home: Path, db_url: str) -> None:
        self.home = home
        self.config = copy_config(home / "config")
        self.db_url = db_url
        self.output: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self.agi_port = self.web_port = 0
        self._drain: asyncio.Task[None] | None = None

    async def start(self) -> None:
        env = {**os.environ, "IVR_DATA_DIR": str(self.home / "var"),
               "IVR_DATABASE_URL": self.db_url,
               "IVR_FLOWS": str(self.config / "flows.yaml"),
               "IVR_PROMPTS": str(self.config / "prompts.yaml"),
               "IVR_METRICS_TOKEN": TOKEN, "IVR_NOW": PINNED_AT}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ivr", "serve", "--agi-port", "0", "--web-port", "0",
            env=env, cwd=self.home, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._drain = asyncio.create_task(self._read(ready))
        await asyncio.wait_for(asyncio.shield(ready), START_TIMEOUT)

    async def _read(self, ready: asyncio.Future[None]) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode(errors="replace")
            self.output.append(line)
            if m := AGI.search(line):
                self.agi_port = int(m.group(1))
            if (m := WEB.search(line)) and not ready.done():
                self.web_port = int(m.group(1))
                ready.set_result(None)
        if not ready.done():
            ready.set_exception(AssertionError("ivr serve exited:\n" + "".join(self.output)))

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._drain is not None:
            await self._drain


@pytest.fixture
async def fresh_db(postgres_url: str) -> AsyncIterator[str]:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"ivr_publish_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(postgres_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


async def health_version(http: aiohttp.ClientSession, node: Server) -> str:
    async with http.get(f"{node.base}/healthz") as resp:
        body: dict[str, Any] = await resp.json()
    return str(body["flows_version"])


async def until_version(http: aiohttp.ClientSession, node: Server, version: str) -> None:
    try:
        async with asyncio.timeout(30):
            while await health_version(http, node) != version:
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"{node.base} never ran {version}:\n"
                             + "".join(node.output)) from None


async def streamed(node: Server, keys: str, call_id: str) -> list[str]:
    transcript = await run_call("127.0.0.1", node.agi_port, PatientCaller(keys),
                                extension="1900545454", uniqueid=call_id,
                                callerid="0901234567")
    return [c.split()[2] for c in transcript.commands if c.startswith("STREAM FILE ")]


async def test_a_version_published_on_one_node_goes_live_on_the_other(
        tmp_path: Path, fresh_db: str) -> None:
    a, b = Server(tmp_path / "a", fresh_db), Server(tmp_path / "b", fresh_db)
    try:
        await a.start()  # first: it migrates and seeds, then records its files
        await b.start()
        async with aiohttp.ClientSession() as http:
            first = await health_version(http, a)
            assert await health_version(http, b) == first
            flows = with_storm_option((a.config / "flows.yaml").read_text(encoding="utf-8"))
            prompts = with_storm_prompt(
                (a.config / "prompts.yaml").read_text(encoding="utf-8"))
            async with http.post(f"{a.base}/api/flows/publish", headers=AUTH,
                                 json={"flows": flows, "prompts": prompts,
                                       "note": "storm bulletin"}) as resp:
                assert resp.status == 200, await resp.text()
                second = (await resp.json())["version"]
            assert second == unit_version(flows, prompts)
            await until_version(http, b, second)
            # Node B runs it, from the database's texts, and its own files now agree.
            assert (b.config / "flows.yaml").read_text(encoding="utf-8") == flows
            assert (b.config / "prompts.yaml").read_text(encoding="utf-8") == prompts
            files = await streamed(b, "-5", f"pg.storm.{uuid.uuid4().hex[:6]}")
            assert files[-1] == "ivr/vi/storm_news", files

            async with http.post(f"{b.base}/api/flows/rollback", headers=AUTH,
                                 json={"version": first}) as resp:
                assert resp.status == 200, await resp.text()
            await until_version(http, a, first)
            async with http.get(f"{a.base}/api/flows", headers=AUTH) as resp:
                index = await resp.json()
            assert [(h["version"], h["published_by"], h["rollback_of"])
                    for h in index["history"]] == [
                (first, "api", first), (second, "api", None), (first, "file", None)]
            files = await streamed(a, "-5", f"pg.rolled.{uuid.uuid4().hex[:6]}")
            assert "ivr/vi/storm_news" not in files
    finally:
        await a.stop()
        await b.stop()
    assert "flows reloaded: version" in "".join(b.output)
