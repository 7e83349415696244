"""The fake AMI server answers QueueStatus and QueueSummary as Asterisk 22 writes them.

Field order and the list framing are app_queue.c's ``manager_queues_status`` /
``manager_queues_summary`` and manager.c's ``astman_send_listack`` /
``astman_send_list_complete_start`` (Response, ActionID, EventList, Message; the list
events carry no Privilege and end with the ActionID; the Complete event has
``EventList: Complete`` and ``ListItems``). The state reported is what the queue events
sent so far say; a restart (stop, start on the same port) empties the queues.
"""

from __future__ import annotations

import asyncio

from ivr.testing.fake_ami import FakeAmiServer
from ivr.testing.fake_ami_queue import (
    Member,
    Snapshot,
    agent_called,
    agent_complete,
    agent_connect,
    caller_join,
    caller_leave,
)

NOW = 1795849013.0
CV = ("IVR_CASE_ID",)
CALLER = Snapshot("Local/s@hotline-0000000a;2", "1795848894.21", "1795848894.20",
                  "0901234567", "Test Caller", "hotline", "s", "3",
                  variables={"IVR_CASE_ID": "C-2026-0042"})
AGENT = Member("Local/1001@agents", "Agent 1001", Snapshot(
    "Local/1001@agents-0000000b;1", "1795848895.22", "1795848894.20", "0901234567",
    "Test Caller", "agents", "s", "1", state=0))


async def read_message(reader: asyncio.StreamReader) -> list[str]:
    async with asyncio.timeout(5):
        block = await reader.readuntil(b"\r\n\r\n")
    return block.decode().split("\r\n")[:-2]


async def logged_in(fake: FakeAmiServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
    await reader.readline()
    writer.write(b"Action: Login\r\nUsername: ivr\r\nSecret: ivr-secret\r\nEvents: off\r\n\r\n")
    assert (await read_message(reader))[0] == "Response: Success"
    assert (await read_message(reader))[0] == "Event: FullyBooted"
    return reader, writer


async def ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
              action: str, complete: str, extra: str = "") -> list[list[str]]:
    writer.write(f"Action: {action}\r\nActionID: q\r\n{extra}\r\n".encode())
    messages = [await read_message(reader)]
    while messages[-1][0] != f"Event: {complete}":
        messages.append(await read_message(reader))
    return messages


def member(in_call: int, status: int, calls: int = 0, last: int = 0) -> list[str]:
    return [
        "Event: QueueMember", "Queue: hotline", "Name: Agent 1001",
        "Location: Local/1001@agents", "StateInterface: Local/1001@agents",
        "Membership: static", "Penalty: 0", f"CallsTaken: {calls}", f"LastCall: {last}",
        "LastPause: 0", f"LoginTime: {int(NOW) - 30}", f"InCall: {in_call}",
        f"Status: {status}", "Paused: 0", "PausedReason: ", "Wrapuptime: 0", "ActionID: q",
    ]


def params(calls: int, completed: int = 0) -> list[str]:
    return [
        "Event: QueueParams", "Queue: hotline", "Max: 0", "Strategy: ringall",
        f"Calls: {calls}", "Holdtime: 0", "TalkTime: 0", f"Completed: {completed}",
        "Abandoned: 0", "ServiceLevel: 0", "ServicelevelPerf: 0.0", "ServicelevelPerf2: 0.0",
        "Weight: 0", "ActionID: q",
    ]


HEAD = ["Response: Success", "ActionID: q", "EventList: start",
        "Message: Queue status will follow"]


async def test_queue_status_follows_the_calls_and_a_restart_empties_it() -> None:
    clock = [NOW - 30]
    async with FakeAmiServer(now=lambda: clock[0]) as fake:
        clock[0] = NOW - 12
        fake.emit_raw(caller_join(CALLER, "hotline", CV))
        fake.emit_raw(agent_called(CALLER, AGENT, "hotline", CV))
        clock[0] = NOW
        reader, writer = await logged_in(fake)
        assert await ask(reader, writer, "QueueStatus", "QueueStatusComplete") == [
            HEAD, params(1), member(0, 6),
            ["Event: QueueEntry", "Queue: hotline", "Position: 1",
             "Channel: Local/s@hotline-0000000a;2", "Uniqueid: 1795848894.21",
             "CallerIDNum: 0901234567", "CallerIDName: Test Caller",
             "ConnectedLineNum: unknown", "ConnectedLineName: unknown", "Wait: 12",
             "Priority: 0", "ActionID: q"],
            ["Event: QueueStatusComplete", "ActionID: q", "EventList: Complete",
             "ListItems: 3"],
        ]
        assert await ask(reader, writer, "QueueSummary", "QueueSummaryComplete") == [
            ["Response: Success", "ActionID: q", "EventList: start",
             "Message: Queue summary will follow"],
            ["Event: QueueSummary", "Queue: hotline", "LoggedIn: 1", "Available: 0",
             "Callers: 1", "HoldTime: 0", "TalkTime: 0", "LongestHoldTime: 12",
             "ActionID: q"],
            ["Event: QueueSummaryComplete", "ActionID: q", "EventList: Complete",
             "ListItems: 1"],
        ]
        # Answered: the caller leaves the queue, the member is in a call.
        fake.emit_raw(caller_leave(CALLER, "hotline", CV))
        fake.emit_raw(agent_connect(CALLER, AGENT, "hotline", CV))
        assert await ask(reader, writer, "QueueStatus", "QueueStatusComplete") == [
            HEAD, params(0), member(1, 2),
            ["Event: QueueStatusComplete", "ActionID: q", "EventList: Complete",
             "ListItems: 2"],
        ]
        # A filter on another queue lists nothing.
        assert await ask(reader, writer, "QueueStatus", "QueueStatusComplete",
                         "Queue: safety\r\n") == [
            HEAD, ["Event: QueueStatusComplete", "ActionID: q", "EventList: Complete",
                   "ListItems: 0"],
        ]
        fake.emit_raw(agent_complete(CALLER, AGENT, "hotline", CV, 42, "agent"))
        assert (await ask(reader, writer, "QueueStatus", "QueueStatusComplete"))[1:3] == [
            params(0, completed=1), member(0, 1, calls=1, last=int(NOW)),
        ]

        # Mid-ring, Asterisk restarts: the same port again, the call and the ring gone.
        fake.emit_raw(caller_join(CALLER, "hotline", CV))
        fake.emit_raw(agent_called(CALLER, AGENT, "hotline", CV))
        port = fake.port
        await fake.stop()
        assert await reader.read() == b""  # our connection went with it
        writer.close()
        await fake.start()
        assert fake.port == port
        reader, writer = await logged_in(fake)
        status = await ask(reader, writer, "QueueStatus", "QueueStatusComplete")
        assert status[1:] == [
            params(0), [*member(0, 1)[:10], f"LoginTime: {int(NOW)}", *member(0, 1)[11:]],
            ["Event: QueueStatusComplete", "ActionID: q", "EventList: Complete",
             "ListItems: 2"],
        ]
        writer.close()


async def test_a_network_break_keeps_the_calls() -> None:
    async with FakeAmiServer(now=lambda: NOW) as fake:
        fake.emit_raw(caller_join(CALLER, "hotline", CV))
        assert fake.drop_connections() == 0
        reader, writer = await logged_in(fake)
        fake.drop_connections()
        assert await reader.read() == b""
        writer.close()
        reader, writer = await logged_in(fake)
        status = await ask(reader, writer, "QueueStatus", "QueueStatusComplete")
        assert [m[0] for m in status] == [
            "Response: Success", "Event: QueueParams", "Event: QueueMember",
            "Event: QueueEntry", "Event: QueueStatusComplete",
        ]
        writer.close()
