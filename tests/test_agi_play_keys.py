"""Flow-wide keys during informational prompts, over loopback TCP with the fake Asterisk:
``0`` during the demo's balance reading reaches an agent, ``*`` plays it again, and a
play node marked ``interruptible: false`` streams with no escape digits at all."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from agi_fixtures import serving

from ivr.calls import CallRecord
from ivr.config.settings import load_settings
from ivr.testing.callers import Caller
from ivr.testing.fake_asterisk import CallTranscript, run_call

ROOT = Path(__file__).resolve().parent.parent
#: Their clock comes from IVR_NOW: ``scripts/dev test-dates`` runs them on other days.
pytestmark = pytest.mark.dates
NOW = "2026-12-01T10:00:00+07:00"


class KeyDuringPrompt(Caller):
    """Patient at every wait (its ``keys``), and presses ``key`` while a prompt whose
    file contains ``during`` plays, ``times`` times, if that prompt takes the key."""

    def __init__(self, keys: str, during: str, key: str, times: int = 1) -> None:
        super().__init__(keys)
        self.during, self.key, self.times = during, key, times
        self.offered: list[str] = []
        """The escape digits of every prompt matching ``during``."""

    def during_prompt(self, file: str, escape: str) -> str | None:
        if self.during not in file:
            return None
        self.offered.append(escape)
        if self.times > 0 and self.key in escape:
            self.times -= 1
            return self.key
        return None


async def _open_core(tmp_path: Path, flows: Path) -> object:
    from ivr.service import open_core

    environ = {**os.environ, "IVR_NOW": NOW}
    settings = load_settings(environ, {
        "data_dir": tmp_path, "flows_path": flows,
        "prompts_path": ROOT / "config" / "prompts.yaml"})
    return await open_core(settings, environ)


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[object]:
    core = await _open_core(tmp_path, ROOT / "config" / "flows.yaml")
    try:
        yield core
    finally:
        await core.close()  # type: ignore[attr-defined]


async def _call(core: object, caller: Caller) -> tuple[CallTranscript, CallRecord]:
    records: list[CallRecord] = []

    async def handler(channel: object) -> None:
        records.append(await core.engine.run(channel))  # type: ignore[attr-defined]

    async with serving(handler) as server:
        transcript = await run_call("127.0.0.1", server.port, caller, dnid="1900545454")
        await server.wait_idle()  # the socket closes first, the record is saved after
    assert transcript.closed_by_server
    return transcript, records[0]


#: Welcome times out, 2 = billing, 1 = yes, the account ending 3456 (0901234567's one).
TO_BILLING = "-21"


async def test_0_during_the_balance_reading_reaches_an_agent(demo: object) -> None:
    caller = KeyDuringPrompt(TO_BILLING, during="amount_due_is", key="0")
    transcript, record = await _call(demo, caller)
    assert caller.offered and "0" in caller.offered[0] and "*" in caller.offered[0]
    streamed = [f.rsplit("/", 1)[-1] for f in transcript.streamed]
    # The reading stopped at the amount: the due date and "anything else" never played.
    assert "amount_due_is" in streamed and "due_date_is" not in streamed
    assert "anything_else" not in streamed
    assert record.transfer_queue == "hotline"  # the agents queue's Asterisk name
    assert record.outcome.value == "transferred"
    assert [(s.node, s.result) for s in record.inputs][-1] == ("say_balance", "key:0")
    commands = transcript.commands
    queue_at = next(i for i, c in enumerate(commands) if c.startswith("EXEC Queue hotline"))
    # Queue's own announcements (position, hold time) speak the caller's language.
    assert "SET VARIABLE CHANNEL(language) vi" in commands[:queue_at]


async def test_star_during_the_balance_reading_plays_it_again(demo: object) -> None:
    caller = KeyDuringPrompt(TO_BILLING, during="due_date_is", key="*")
    transcript, record = await _call(demo, caller)
    streamed = [f.rsplit("/", 1)[-1] for f in transcript.streamed]
    # The first reading stops at the due date, the second plays whole, then the flow goes on.
    assert streamed.count("bill_for_period_ending") == 2
    assert streamed.count("due_date_is") == 2
    assert streamed.index("anything_else") > len(streamed) - 1 - streamed[::-1].index(
        "due_date_is")
    assert ("say_balance", "key:*") in [(s.node, s.result) for s in record.inputs]
    assert record.transfer_queue is None


NOTICE_FLOWS = """\
version: 1
defaults:
  language: vi
  keys_everywhere: {"0": agent, "*": repeat}
flows:
  hotline:
    start: notice
    nodes:
      notice:
        play: outage_in_area        # the legal notice of this test flow
        interruptible: false
        next: reading
      reading:
        play: amount_due_is
        next: bye
      bye:
        hangup: goodbye
"""


async def test_a_prompt_marked_not_interruptible_ignores_keys(tmp_path: Path) -> None:
    flows = tmp_path / "flows.yaml"
    flows.write_text(NOTICE_FLOWS, encoding="utf-8")
    core = await _open_core(tmp_path, flows)
    try:
        caller = KeyDuringPrompt("", during="outage_in_area", key="0")
        transcript, record = await _call(core, caller)
    finally:
        await core.close()  # type: ignore[attr-defined]
    notice = [c for c in transcript.commands if "outage_in_area" in c]
    reading = [c for c in transcript.commands if "amount_due_is" in c]
    assert notice and all(c.endswith('""') for c in notice)  # no escape digits at all
    assert reading and all(c.endswith('"0*"') or c.endswith("0*") for c in reading)
    assert caller.times == 1  # the 0 was never taken
    assert record.outcome.value == "self_served" and record.transfer_queue is None
    assert [s.node for s in record.path] == ["notice", "reading", "bye"]
