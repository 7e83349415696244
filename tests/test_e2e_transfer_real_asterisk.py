"""Transfers as a real Asterisk 22 runs them, end to end over loopback TCP.

``ivr serve`` (FastAGI, AMI client, web app) takes demo calls from the fake Asterisk;
the fake Asterisk's Queue reports each run to the fake AMI server, which sends the
queue events a real one sends, with the caller's and the agent leg's own channel
variables; the agent's console listens on its websocket. Three things that passed
against the earlier fake were wrong on a real Asterisk:

1. ``IVR_CASE_ID`` after ``__IVR_CASE_ID`` dropped the inheritance: the agent's channel
   had no case id (``DestChanVariable: IVR_CASE_ID=``);
2. a caller who hung up while the agent's phone rang (``200 result=-1``,
   ``ANSWEREDTIME=0``) was recorded as a completed transfer ("talk 0s");
3. a caller who hung up as the server wrote ``EXEC Queue`` (``HANGUP`` ahead of Queue's
   ``200 result=0``, ``QUEUESTATUS=CONTINUE``, an agent connected for ~45 ms) too.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ivr.config.settings import Settings, WebUser
from ivr.service import Service, open_core
from ivr.testing.callers import Caller, HangUpCaller, PatientCaller
from ivr.testing.fake_ami import FakeAmiServer
from ivr.testing.fake_asterisk import AGENT_ANSWERS, CallTranscript, QueueOutcome, run_call
from ivr.web.auth import hash_password

ROOT = Path(__file__).resolve().parent.parent
ENVIRON = {"IVR_NOW": "2026-12-01T10:00:00+07:00"}
PASSWORD = "correct horse battery"
CALLER = "0901234567"
HOTLINE = "1900545454"
AGENT_LEG = "Local/1001@agents"
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
CASE_SET = re.compile(r"SET VARIABLE __IVR_CASE_ID (\S+)$")
_calls = itertools.count(1)


@dataclass
class Stack:
    service: Service
    ami: FakeAmiServer
    web: str

    async def call(self, caller: Caller, queue: QueueOutcome = AGENT_ANSWERS,
                   *, ami: bool = True) -> tuple[CallTranscript, str, dict[str, Any]]:
        """One demo call that presses 0; returns its wire, case id and call record."""
        uniqueid = f"1796000000.{next(_calls)}"
        transcript = await run_call(
            "127.0.0.1", self.service.agi_port, caller, callerid=CALLER, extension=HOTLINE,
            uniqueid=uniqueid, queue=queue, on_queue=self.ami.emit_queue_run if ami else None)
        assert transcript.closed_by_server
        case_id = next(m.group(1) for c in transcript.commands if (m := CASE_SET.match(c)))
        await self.service.agi.wait_idle()  # the socket closes first, the record after
        calls = await self.service.core.store.list_calls(limit=1000)
        (record,) = [c for c in calls if c["call_id"] == uniqueid]
        return transcript, case_id, record

    async def case(self, case_id: str) -> dict[str, Any]:
        case = await self.service.core.store.get_case(case_id)
        assert case is not None
        return case


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with FakeAmiServer(login_failure_delay=0.01) as ami:
        agent = WebUser("agent1", "agent", hash_password(PASSWORD, rounds=4),
                        ("hotline", "safety"), (AGENT_LEG,))
        settings = Settings(
            data_dir=tmp_path, agi_port=0, web_port=0,
            flows_path=ROOT / "config" / "flows.yaml",
            prompts_path=ROOT / "config" / "prompts.yaml",
            ami_port=ami.port, ami_username=ami.username, ami_secret=ami.secret,
            users=(agent,),
        )
        core = await open_core(settings, ENVIRON)
        service = Service(core, ENVIRON, build_prompts=False)
        await service.start()
        try:
            await ami.wait_logins(1)
            yield Stack(service, ami, f"http://127.0.0.1:{service.web_port}")
        finally:
            await service.stop(grace=2.0)


@pytest.fixture
async def console(stack: Stack) -> AsyncIterator[Any]:
    """The agent's console websocket, logged in through the form like a browser."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(f"{stack.web}/login") as resp:
            token = CSRF.search(await resp.text())
        assert token
        async with session.post(f"{stack.web}/login", allow_redirects=False, data={
                "name": "agent1", "password": PASSWORD, "csrf_token": token.group(1)}) as resp:
            assert resp.status == 302
        ws = await session.ws_connect(f"{stack.web}/ws/agent")
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        yield ws
        await ws.close()


async def pops_until(ws: Any, state: str) -> list[dict[str, Any]]:
    """The pops the console receives up to and including the first in ``state``."""
    pops: list[dict[str, Any]] = []
    while not pops or pops[-1]["state"] != state:
        message: dict[str, Any] = await ws.receive_json(timeout=5)
        if message.get("type") == "pop":
            pops.append(message)
    return pops


async def queue_position(stack: Stack) -> int:
    """The 1-based number of the demo call's EXEC Queue (a first call, without AMI)."""
    full, _, _ = await stack.call(PatientCaller("-0"), ami=False)
    return next(i for i, c in enumerate(full.commands, 1) if c.startswith("EXEC Queue"))


def after_queue(transcript: CallTranscript) -> list[str]:
    """What Asterisk said from the EXEC Queue on."""
    at = next(i for i, (d, text) in enumerate(transcript.lines)
              if d == ">>" and text.startswith("EXEC Queue"))
    return [text for d, text in transcript.lines[at + 1:] if d == "<<"]


def events(case: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["event"], e["detail"]) for e in case["events"]]


async def test_the_case_id_and_the_calls_facts_reach_the_agents_channel(
    stack: Stack, console: Any
) -> None:
    transcript, case_id, record = await stack.call(PatientCaller("-0"))
    member_events = [b for b in stack.ami.emitted if any(x.startswith("DestChannel:") for x in b)]
    assert [b[0] for b in member_events] == [
        "Event: AgentCalled", "Event: AgentConnect", "Event: AgentComplete"]
    for block in member_events:  # what a CRM or dialplan on the agent's side reads
        assert f"DestChanVariable: IVR_CASE_ID={case_id}" in block, block
    (run,) = transcript.queue_runs
    assert {k: run.agent_vars.get(k) for k in ("IVR_CASE_ID", "IVR_INTENT", "IVR_LANGUAGE")} \
        == {"IVR_CASE_ID": case_id, "IVR_INTENT": "general", "IVR_LANGUAGE": "vi"}
    sets = [c for c in transcript.commands if c.startswith("SET VARIABLE ")]
    assert sets[:3] == [f"SET VARIABLE __IVR_CASE_ID {case_id}",
                        "SET VARIABLE __IVR_INTENT general", "SET VARIABLE __IVR_LANGUAGE vi"]
    # never the plain name after the inherited one: it would drop the inheritance
    assert not any(c.startswith(("SET VARIABLE IVR_", "SET VARIABLE _IVR_")) for c in sets)
    pops = await pops_until(console, "completed")
    assert [p["state"] for p in pops] == ["ringing", "connected", "completed"]
    assert {p["case"]["id"] for p in pops} == {case_id}
    assert record["outcome"] == "transferred"


async def test_a_caller_who_hangs_up_while_the_agent_rings_is_abandoned(
    stack: Stack, console: Any
) -> None:
    queue_at = await queue_position(stack)
    transcript, case_id, record = await stack.call(HangUpCaller(queue_at, PatientCaller("-0")))
    assert after_queue(transcript)[:2] == ["200 result=-1", "HANGUP"]
    assert "200 result=1 (0)" in after_queue(transcript)  # ANSWEREDTIME, set to 0
    pops = await pops_until(console, "caller_gone")
    assert [p["state"] for p in pops] == ["ringing", "caller_gone"]
    assert record["outcome"] == "abandoned"
    case = await stack.case(case_id)
    assert (case["transfer_status"], case["status"]) == ("abandoned", "abandoned")
    assert not any(name == "transfer_completed" for name, _ in events(case)), events(case)
    assert ("transfer_abandoned", "ABANDON") in events(case)


async def test_a_hang_up_racing_exec_queue_is_abandoned_and_the_card_says_so(
    stack: Stack, console: Any
) -> None:
    queue_at = await queue_position(stack)
    caller = HangUpCaller(queue_at - 1, PatientCaller("-0"), race=True)
    transcript, case_id, record = await stack.call(caller)
    # the wire: HANGUP ahead of Queue's reply, and Queue says CONTINUE all the same
    assert after_queue(transcript)[:2] == ["HANGUP", "200 result=0"]
    (run,) = transcript.queue_runs
    assert run.end.value == "phantom"
    pops = await pops_until(console, "caller_gone")
    assert [p["state"] for p in pops] == ["ringing", "connected", "caller_gone"]
    assert pops[-1]["case"]["status"] == "abandoned"
    assert record["outcome"] == "abandoned"
    case = await stack.case(case_id)
    assert (case["transfer_status"], case["status"]) == ("abandoned", "abandoned")
    assert not any(name == "transfer_completed" for name, _ in events(case)), events(case)
    # nothing is asked of, or played to, a caller who is gone
    assert transcript.commands[queue_at:] == [], transcript.text()


async def test_a_hang_up_already_received_keeps_exec_queue_off_the_wire(stack: Stack) -> None:
    queue_at = await queue_position(stack)
    transcript, case_id, record = await stack.call(HangUpCaller(queue_at - 1, PatientCaller("-0")))
    assert transcript.received[-2:] == ["200 result=1", "HANGUP"]  # in one read
    assert not transcript.has_command("EXEC Queue") and transcript.queue_runs == []
    assert record["outcome"] == "abandoned"
    assert (await stack.case(case_id))["transfer_status"] == "abandoned"


async def test_a_caller_who_ends_the_conversation_was_transferred(
    stack: Stack, console: Any
) -> None:
    """Queue's reply first, then HANGUP (here in one read): the caller talked 30 s and
    hung up, which is a completed transfer, not an abandon."""
    transcript, case_id, record = await stack.call(
        PatientCaller("-0"), QueueOutcome.answered(seconds=30, caller_ends=True))
    assert after_queue(transcript)[:2] == ["200 result=0", "HANGUP"]
    pops = await pops_until(console, "completed")
    assert [p["state"] for p in pops] == ["ringing", "connected", "completed"]
    assert record["outcome"] == "transferred"
    case = await stack.case(case_id)
    assert case["transfer_status"] == "completed"
    assert ("transfer_completed", "CONTINUE talk 30s") in events(case)


@pytest.mark.parametrize("race", [False, True], ids=["notice-at-once", "notice-races"])
async def test_hang_up_at_every_command_around_the_transfer(stack: Stack, race: bool) -> None:
    """Before Queue answered, the caller abandoned (case and call); after, they were
    transferred; whichever way the HANGUP line and the next command cross."""
    full, _, _ = await stack.call(PatientCaller("-0"), ami=False)
    first = next(i for i, c in enumerate(full.commands, 1) if CASE_SET.match(c))
    queue_at = next(i for i, c in enumerate(full.commands, 1) if c.startswith("EXEC Queue"))
    last = max(i for i, c in enumerate(full.commands, 1) if c.startswith("GET VARIABLE"))
    for k in range(first, last + 1):
        caller = HangUpCaller(k, PatientCaller("-0"), race=race)
        transcript, case_id, record = await stack.call(caller, ami=False)
        expected = "abandoned" if k <= queue_at else "transferred"
        assert record["outcome"] == expected, (k, transcript.text())
        case = await stack.case(case_id)
        assert case["transfer_status"] == ("abandoned" if k <= queue_at else "completed"), k
