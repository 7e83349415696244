"""The fake AMI server answers the recorded actions with the recorded bytes.

The actions the harness sent to a real Asterisk 22 (``>>`` lines) are replayed to the
fake over TCP and its replies compared with what Asterisk said (``<<`` lines), except
for values that differ per session (timestamps, session ids, socket addresses)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from ivr.testing.fake_ami import FakeAmiServer, recorded_events, transcript_messages
from ivr.testing.fake_ami_queue import (
    Member,
    Snapshot,
    agent_called,
    agent_complete,
    agent_connect,
    caller_join,
    caller_leave,
)
from ivr.testing.fake_queue import QueueEnd, QueueRun

VOLATILE = (
    "Timestamp:", "SessionID:", "LocalAddress:", "RemoteAddress:", "EventTV:", "SessionTV:",
)


def normalise(lines: list[str]) -> list[str]:
    return [
        line.split(":")[0] + ": *" if line.startswith(VOLATILE) else line for line in lines
    ]


def recorded(path: Path) -> tuple[dict[str, bytes], list[list[str]]]:
    sent = {}
    for lines in transcript_messages(path, ">>"):
        action_id = next(line.split(": ", 1)[1] for line in lines if line.startswith("ActionID"))
        sent[action_id] = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return sent, transcript_messages(path, "<<")


def answers_to(received: list[list[str]], action_id: str) -> list[list[str]]:
    return [m for m in received if f"ActionID: {action_id}" in m]


async def read_message(reader: asyncio.StreamReader) -> list[str]:
    async with asyncio.timeout(5):
        block = await reader.readuntil(b"\r\n\r\n")
    return block.decode().split("\r\n")[:-2]


async def test_session_replayed_against_the_fake(transcripts_dir: Path) -> None:
    sent, received = recorded(transcripts_dir / "ami-session-basics.txt")
    async with FakeAmiServer(username="ivrtest", secret="ivrtest-secret") as fake:
        reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
        assert await reader.readline() == b"Asterisk Call Manager/11.0.0\r\n"

        writer.write(sent["h1"])  # Login (no Events: header, so every class)
        login = [await read_message(reader) for _ in range(3)]
        assert [normalise(m) for m in login] == [normalise(m) for m in received[1:4]]

        writer.write(sent["h2"])  # Ping
        assert normalise(await read_message(reader)) == normalise(answers_to(received, "h2")[0])

        writer.write(sent["h4"])  # async Originate that fails
        assert [await read_message(reader) for _ in range(2)] == answers_to(received, "h4")

        writer.write(sent["h6"])  # UserEvent action: the event echoes the ActionID
        assert [await read_message(reader) for _ in range(2)] == answers_to(received, "h6")

        writer.write(sent["h12"])  # unknown action: Error, then RequestBadFormat
        unknown = [await read_message(reader) for _ in range(2)]
        expected = answers_to(received, "h12")
        bad_format = next(m for m in received if m[0] == "Event: RequestBadFormat")
        assert normalise(unknown[0]) == normalise(expected[0])
        assert normalise(unknown[1]) == normalise(
            bad_format
        )

        writer.write(sent["h13"])  # Logoff: Goodbye, then Asterisk closes
        assert await read_message(reader) == answers_to(received, "h13")[0]
        async with asyncio.timeout(5):
            assert await reader.read() == b""
        writer.close()
        await fake.wait_connections(0)
    assert [a.name for a in fake.actions] == [
        "Login", "Ping", "Originate", "UserEvent", "NoSuchAction", "Logoff",
    ]


async def test_login_failure_is_delayed_then_closed(transcripts_dir: Path) -> None:
    path = transcripts_dir / "ami-login-failure.txt"
    sent, received = recorded(path)
    delays: list[float] = []

    async def virtual_sleep(delay: float) -> None:
        delays.append(delay)

    async with FakeAmiServer(username="ivrtest", secret="ivrtest-secret",
                             sleep=virtual_sleep) as fake:
        reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
        await reader.readline()
        writer.write(sent["h1"])
        async with asyncio.timeout(5):
            rest = await reader.read()  # everything up to EOF
        writer.close()
    assert rest == ("\r\n".join(received[1]) + "\r\n\r\n").encode()
    assert delays == [1.0]  # Asterisk's ~1 s, on virtual time here
    assert fake.login_failures == 1 and fake.logins == 0


async def test_actions_before_login_are_denied_and_unauthenticated_get_no_events() -> None:
    async with FakeAmiServer() as fake:
        reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
        await reader.readline()
        writer.write(b"Action: Ping\r\nActionID: 1\r\n\r\n")
        assert await read_message(reader) == [
            "Response: Error", "ActionID: 1", "Message: Permission denied",
        ]
        assert fake.emit("AgentCalled", {"Queue": "hotline"}, privilege="agent,all") == 0
        writer.close()


async def test_queue_status_is_an_event_list() -> None:
    async with FakeAmiServer() as fake:
        reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
        await reader.readline()
        writer.write(b"Action: Login\r\nUsername: ivr\r\nSecret: ivr-secret\r\nEvents: off\r\n\r\n")
        assert (await read_message(reader))[0] == "Response: Success"
        assert (await read_message(reader))[0] == "Event: FullyBooted"  # whatever the mask
        writer.write(b"Action: QueueStatus\r\nActionID: q\r\n\r\n")
        names = [(await read_message(reader))[0] for _ in range(4)]
        assert names == [
            "Response: Success", "Event: QueueParams", "Event: QueueMember",
            "Event: QueueStatusComplete",
        ]
        writer.close()


# ---- queue call sequences, built as the recording shows them ------------------------

QUEUE_CALL = "ami-during-queue-to-agent-continue.txt"
CV = ("IVR_CASE_ID",)
RECORDED_CALLER = Snapshot(
    "Local/s@hotline-0000000a;2", "1795848894.21", "1795848894.20", "0901234567",
    "Test Caller", "hotline", "s", "3", variables={"IVR_CASE_ID": "C-2026-0042"})
RECORDED_AGENT = Snapshot(
    "Local/1001@agents-0000000b;1", "1795848895.22", "1795848894.20", "0901234567",
    "Test Caller", "agents", "s", "1", state=0)  # set without "__": nothing inherited


def test_queue_event_blocks_are_the_recorded_ones(transcripts_dir: Path) -> None:
    recorded = {m[0].removeprefix("Event: "): m for m in recorded_events(
        transcripts_dir / QUEUE_CALL,
        ["QueueCallerJoin", "AgentCalled", "QueueCallerLeave", "AgentConnect",
         "AgentComplete"])}
    ringing = Member("Local/1001@agents", "Agent 1001", RECORDED_AGENT)
    up = Member("Local/1001@agents", "Agent 1001", replace(RECORDED_AGENT, state=6))
    assert caller_join(RECORDED_CALLER, "hotline", CV) == recorded["QueueCallerJoin"]
    assert agent_called(RECORDED_CALLER, ringing, "hotline", CV) == recorded["AgentCalled"]
    assert caller_leave(RECORDED_CALLER, "hotline", CV) == recorded["QueueCallerLeave"]
    assert agent_connect(RECORDED_CALLER, up, "hotline", CV) == recorded["AgentConnect"]
    assert agent_complete(RECORDED_CALLER, up, "hotline", CV, 3, "agent") == \
        recorded["AgentComplete"]


def a_run(end: QueueEnd, **changes: object) -> QueueRun:
    run = QueueRun(
        queue="hotline", caller_channel="Local/s@hotline-00000001;2", caller_uniqueid="9.1",
        callerid="0901234567", calleridname="Test Caller", context="hotline", exten="s",
        priority="3", caller_vars={"IVR_CASE_ID": "C-1", "QUEUE_PRIO": "5"},
        member="Local/1001@agents", agent_vars={"IVR_CASE_ID": "C-1"}, end=end,
        talk_seconds=7)
    return replace(run, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(("run", "names", "reason"), [
    (a_run(QueueEnd.ANSWERED), ["QueueCallerJoin", "AgentCalled", "QueueCallerLeave",
                                "AgentConnect", "AgentComplete"], "agent"),
    (a_run(QueueEnd.CALLER_ENDED), ["QueueCallerJoin", "AgentCalled", "QueueCallerLeave",
                                    "AgentConnect", "AgentComplete"], "caller"),
    (a_run(QueueEnd.PHANTOM, talk_seconds=0), ["QueueCallerJoin", "AgentCalled",
                                               "QueueCallerLeave", "AgentConnect",
                                               "AgentComplete"], "caller"),
    (a_run(QueueEnd.ABANDONED), ["QueueCallerJoin", "AgentCalled", "QueueCallerAbandon"], ""),
    (a_run(QueueEnd.ABANDONED, agent_rang=False), ["QueueCallerJoin", "QueueCallerAbandon"], ""),
    (a_run(QueueEnd.UNANSWERED, agent_rang=False), ["QueueCallerJoin", "QueueCallerLeave"], ""),
    (a_run(QueueEnd.UNANSWERED, agent_rang=False, joined=False), [], ""),
], ids=["answered", "caller-ended", "phantom", "abandoned-ringing", "abandoned-waiting",
        "timeout", "joinempty"])
async def test_emit_queue_run_sends_the_sequence_of_its_end(
    run: QueueRun, names: list[str], reason: str
) -> None:
    async with FakeAmiServer() as fake:
        reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
        await reader.readline()
        writer.write(b"Action: Login\r\nUsername: ivr\r\nSecret: ivr-secret\r\n"
                     b"Events: agent\r\n\r\n")
        assert (await read_message(reader))[0] == "Response: Success"
        await read_message(reader)  # FullyBooted
        blocks = fake.emit_queue_run(run)
        got = [await read_message(reader) for _ in blocks]
        writer.close()
    assert [b[0].removeprefix("Event: ") for b in got] == names
    assert got == blocks
    for block in got:
        assert "ChanVariable: IVR_CASE_ID=C-1" in block
        if any(line.startswith("DestChannel: ") for line in block):
            # the agent leg reports its own, inherited, value
            assert "DestChanVariable: IVR_CASE_ID=C-1" in block
            assert "DestChannel: Local/1001@agents-0000002e;1" in block
    complete = [b for b in got if b[0] == "Event: AgentComplete"]
    if complete:
        assert complete[0][-3:] == ["HoldTime: 0", f"TalkTime: {run.talk_seconds}",
                                    f"Reason: {reason}"]
