"""The real engine and the shipped demo hotline behind FastAgiServer, driven by the fake
Asterisk over loopback TCP: a caller hanging up during any AGI command of a full call
leaves an ``abandoned`` record and the server healthy for the next call."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from agi_fixtures import serving

from ivr.agi.server import FastAgiServer
from ivr.testing.callers import HangUpCaller, PatientCaller, QueueOutcome, SilentCaller
from ivr.testing.fake_asterisk import run_call

ROOT = Path(__file__).resolve().parent.parent
CASE_ID = re.compile(r"C-\d{4}-\d+")
#: Their clock comes from IVR_NOW: ``scripts/dev test-dates`` runs them on other days.
pytestmark = pytest.mark.dates


def same_but_case_ids(a: list[str], b: list[str]) -> bool:
    return [CASE_ID.sub("C-ID", x) for x in a] == [CASE_ID.sub("C-ID", x) for x in b]


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[object]:
    from ivr.config.settings import load_settings
    from ivr.service import open_core

    environ = {**os.environ, "IVR_NOW": "2026-12-01T10:00:00+07:00"}
    settings = load_settings(environ, {
        "data_dir": tmp_path, "flows_path": ROOT / "config" / "flows.yaml",
        "prompts_path": ROOT / "config" / "prompts.yaml"})
    opened = await open_core(settings, environ)
    try:
        yield opened
    finally:
        await opened.close()


async def test_hang_up_at_every_command_of_a_demo_call(core: object) -> None:
    from ivr.service import Core

    assert isinstance(core, Core)
    outcomes: list[str] = []

    async def handler(channel: object) -> None:
        record = await core.engine.run(channel)  # type: ignore[arg-type]
        outcomes.append(record.outcome.value)

    server: FastAgiServer
    async with serving(handler) as server:
        full = await run_call("127.0.0.1", server.port, SilentCaller(), extension="19001234")
        await server.wait_idle()  # the socket closes first, the record is saved after
        assert full.closed_by_server and outcomes == ["transferred"]  # silence -> agent
        n = len(full.commands)
        assert n > 5
        queue_at = next(i for i, c in enumerate(full.commands, 1) if c.startswith("EXEC Queue"))
        for k in range(1, n + 1):
            t = await run_call("127.0.0.1", server.port, HangUpCaller(k, SilentCaller()),
                               extension="19001234")
            await server.wait_idle()
            assert t.closed_by_server, k
            # up to the queue the caller abandons; after it an agent had the call
            expected = "abandoned" if k <= queue_at else outcomes[0]
            assert outcomes[-1] == expected, (k, t.text())
            assert server.active_calls <= 1
        again = await run_call("127.0.0.1", server.port, SilentCaller(), extension="19001234")
        await server.wait_idle()
        assert same_but_case_ids(again.commands, full.commands)
        assert outcomes[-1] == outcomes[0]
    calls = await core.store.list_calls(limit=1000)
    assert sum(c["outcome"] == "abandoned" for c in calls) == queue_at


async def test_abandon_in_the_agents_queue_after_the_safety_queue_timed_out(core: object) -> None:
    """The demo's safety path queues twice (safety times out, then the agents queue).
    Asterisk's Queue leaves QUEUESTATUS alone when the caller abandons, so the second
    queue must not be read as the first one's TIMEOUT: the caller is gone, the case says
    so, and nothing more is played."""
    from ivr.service import Core

    assert isinstance(core, Core)
    records: list[object] = []

    async def handler(channel: object) -> None:
        records.append(await core.engine.run(channel))  # type: ignore[arg-type]

    timeout = QueueOutcome.unanswered("TIMEOUT")
    async with serving(handler) as server:
        full = await run_call("127.0.0.1", server.port, PatientCaller("1"), queue=timeout,
                              extension="19001234")
        queues = [i for i, c in enumerate(full.commands, 1) if c.startswith("EXEC Queue")]
        assert [full.commands[i - 1] for i in queues] == [
            "EXEC Queue safety,c,,,300", "EXEC Queue hotline,c,,,120"]
        t = await run_call("127.0.0.1", server.port, HangUpCaller(queues[1], PatientCaller("1")),
                           queue=timeout, extension="19001234")
    assert t.closed_by_server
    after = t.commands[queues[1]:]
    assert after == ["GET VARIABLE QUEUESTATUS", "GET VARIABLE MEMBERINTERFACE",
                     "GET VARIABLE ANSWEREDTIME"], t.text()  # no callback offer to nobody
    record = records[-1]
    assert record.outcome.value == "abandoned"  # type: ignore[attr-defined]
    cases = await core.store.list_cases(limit=10)
    latest = max(cases, key=lambda c: c["id"])
    assert latest["queue"] == "hotline"
    assert latest["transfer_status"] != "timeout", latest
