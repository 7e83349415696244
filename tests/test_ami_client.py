"""The AMI client against the fake AMI server over loopback TCP.

Every wait is on something happening (a login, an action arriving, an event), never a
sleep; backoff is tiny so reconnects are quick."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ivr.ami.client import (
    AmiClient,
    AmiConnectionLost,
    AmiNotConnected,
    AmiTimeout,
    Subscription,
)
from ivr.ami.protocol import Event, ResponseStatus
from ivr.config.settings import Settings
from ivr.screenpop.events import PopEvent, PopState, pop_from_ami
from ivr.testing.fake_ami import FakeAmiServer, recorded_events, with_case_id

WAIT = 5.0


def make_client(server: FakeAmiServer, **options: Any) -> AmiClient:
    options.setdefault("backoff_min", 0.01)
    options.setdefault("backoff_max", 0.05)
    options.setdefault("action_timeout", 2.0)
    return AmiClient("127.0.0.1", server.port, server.username, server.secret, **options)


@pytest.fixture
async def server() -> AsyncIterator[FakeAmiServer]:
    async with FakeAmiServer(login_failure_delay=0.02) as fake:
        yield fake


@pytest.fixture
async def client(server: FakeAmiServer) -> AsyncIterator[AmiClient]:
    ami = make_client(server)
    await ami.start()
    await ami.wait_connected(WAIT)
    yield ami
    await ami.close()


async def next_event(sub: Subscription, name: str | None = None) -> Event:
    async with asyncio.timeout(WAIT):
        while True:
            event = await sub.get()
            if name is None or event.name == name:
                return event


async def test_login_with_least_event_classes(server: FakeAmiServer, client: AmiClient) -> None:
    assert client.connected and server.logins == 1
    login = server.actions[0]
    assert login.name == "Login" and not login.logged_in
    assert login.headers.get("Username") == server.username
    assert login.headers.get("Events") == "call,agent"
    assert login.action_id and login.action_id.startswith("ivr-")
    assert client.banner is not None and client.banner.version == "11.0.0"
    assert all(a.logged_in for a in server.actions[1:])  # nothing but Login before login


async def test_event_mask_is_honoured(server: FakeAmiServer) -> None:
    ami = make_client(server, events=("agent",))
    await ami.start()
    await ami.wait_connected(WAIT)
    try:
        sub = ami.subscribe()
        assert server.emit("Hangup", {"Uniqueid": "1.1"}, privilege="call,all") == 0
        assert server.emit("AgentCalled", {"Queue": "hotline"}, privilege="agent,all") == 1
        event = await next_event(sub)
        assert event.name == "AgentCalled" and event["Queue"] == "hotline"
    finally:
        await ami.close()


async def test_login_failure_is_reported_and_retried_with_backoff(
    server: FakeAmiServer, caplog: pytest.LogCaptureFixture
) -> None:
    delays: list[float] = []

    async def recording_sleep(delay: float) -> None:
        delays.append(delay)
        await asyncio.sleep(0)

    ami = AmiClient(
        "127.0.0.1", server.port, server.username, "wrong-secret",
        backoff_min=0.01, backoff_max=0.08, sleep=recording_sleep, rng=random.Random(1),
    )
    with caplog.at_level(logging.ERROR, logger="ivr.ami.client"):
        await ami.start()
        await server.wait_login_failures(4, timeout=WAIT)
        assert not ami.connected
        with pytest.raises(AmiNotConnected, match="Authentication failed"):
            await ami.action("Ping", timeout=0.01)
        assert ami.stats.login_failures >= 3
        assert "refused: Authentication failed" in ami.stats.last_error
        assert "'ivr'" in ami.stats.last_error
        assert any("Authentication failed" in r.getMessage() for r in caplog.records)
        # backoff grows (with jitter) from the minimum and stays under the maximum
        assert len(delays) >= 3
        assert all(0.01 <= d <= 0.08 for d in delays)
        assert delays[0] <= 0.02
        # each refusal came on its own connection, after Asterisk closed the last one
        assert server.connections_total >= 4
        # the secret is fixed: the next attempt logs in
        server.secret = "wrong-secret"
        await ami.wait_connected(WAIT)
        assert server.logins == 1
    await ami.close()


async def test_concurrent_actions_are_matched_by_action_id(client: AmiClient) -> None:
    calls = []
    for _ in range(10):
        calls += [
            client.action("Ping"),
            client.action("Command", Command="core show version"),
            client.action("NoSuchAction"),
            client.action("UserEvent", UserEvent="IvrPing", CaseId="C-1"),
        ]
    replies = await asyncio.gather(*calls)
    ids = [r.action_id for r in replies]
    assert len(set(ids)) == len(ids)
    for i in range(0, len(replies), 4):
        ping, command, unknown, user = replies[i : i + 4]
        assert ping.get("Ping") == "Pong"
        assert command.output[0].startswith("Asterisk GIT-22")
        assert unknown.status is ResponseStatus.ERROR and not unknown.ok
        assert "Invalid/unknown command: NoSuchAction" in unknown.message
        assert user.message == "Event Sent"


async def test_list_action_collects_its_events(
    server: FakeAmiServer, client: AmiClient
) -> None:
    sub = client.subscribe()
    reply = await client.action("QueueStatus")
    assert reply.ok and reply.is_event_list
    assert [e.name for e in reply.events] == ["QueueParams", "QueueMember", "QueueStatusComplete"]
    assert reply.events[1]["Location"] == "Local/1001@agents"
    assert all(e.action_id == reply.action_id for e in reply.events)
    # list members are the action's answer, not stream events
    server.emit("QueueMemberStatus", {"Queue": "hotline"}, privilege="agent,all")
    assert (await next_event(sub)).name == "QueueMemberStatus"


async def test_failed_async_originate_succeeds_first_then_fails(client: AmiClient) -> None:
    sub = client.subscribe()
    reply = await client.action(
        "Originate", Channel="Local/9999@nowhere", Application="Wait", Data="1", Async="true"
    )
    assert reply.ok and reply.message == "Originate successfully queued"
    outcome = await next_event(sub, "OriginateResponse")
    assert outcome.action_id == reply.action_id
    assert outcome["Response"] == "Failure" and outcome["Uniqueid"] == "<unknown>"


async def test_originate_success_carries_chan_variable_of_the_new_channel(
    client: AmiClient,
) -> None:
    sub = client.subscribe()
    reply = await client.action(
        "Originate", Channel="Local/s@uevent", Application="Wait", Data="1",
        Variable=["IVR_CASE_ID=C-ORIG-1", "OTHER=x"], Async="true",
    )
    outcome = await next_event(sub, "OriginateResponse")
    assert outcome.action_id == reply.action_id and outcome["Reason"] == "4"
    assert outcome.chan_vars == {"IVR_CASE_ID": "C-ORIG-1"}


async def test_keepalive_pings_only_after_login(server: FakeAmiServer) -> None:
    ami = make_client(server, ping_interval=0.01)
    await ami.start()
    try:
        await server.wait_action("Ping", count=3, timeout=WAIT)
        pings = [a for a in server.actions if a.name == "Ping"]
        assert all(p.logged_in for p in pings)
        assert server.actions[0].name == "Login"
    finally:
        await ami.close()


async def test_unanswered_ping_drops_and_reconnects(server: FakeAmiServer) -> None:
    server.answer_pings = False
    ami = make_client(server, ping_interval=0.01, action_timeout=0.1)
    await ami.start()
    try:
        await server.wait_logins(2, timeout=WAIT)
        server.answer_pings = True
        await ami.wait_connected(WAIT)
        assert (await ami.action("Ping")).get("Ping") == "Pong"
    finally:
        await ami.close()


async def test_dropped_connection_is_reestablished_and_events_resume(
    server: FakeAmiServer, client: AmiClient
) -> None:
    sub = client.subscribe()
    server.emit("AgentConnect", {"Queue": "hotline", "Seq": "1"}, privilege="agent,all")
    assert (await next_event(sub))["Seq"] == "1"
    assert server.drop_connections() == 1  # Asterisk restarts
    await server.wait_logins(2, timeout=WAIT)
    await client.wait_connected(WAIT)
    server.emit("AgentConnect", {"Queue": "hotline", "Seq": "2"}, privilege="agent,all")
    assert (await next_event(sub, "AgentConnect"))["Seq"] == "2"
    assert client.stats.connection_drops == 1 and client.stats.logins == 2
    assert (await client.action("Ping")).ok


async def test_pending_action_fails_at_once_when_the_connection_drops(
    server: FakeAmiServer, client: AmiClient
) -> None:
    server.answer_pings = False
    pending = asyncio.ensure_future(client.action("Ping", timeout=WAIT))
    await server.wait_action("Ping", timeout=WAIT)
    server.drop_connections()
    with pytest.raises(AmiConnectionLost):
        await pending


async def test_action_timeout(server: FakeAmiServer, client: AmiClient) -> None:
    server.answer_pings = False
    with pytest.raises(AmiTimeout, match="Ping got no answer"):
        await client.action("Ping", timeout=0.05)
    server.answer_pings = True
    assert (await client.action("Ping")).ok  # the connection is still in step


async def test_event_flood_is_bounded_and_keeps_the_newest(
    server: FakeAmiServer, client: AmiClient
) -> None:
    sub = client.subscribe(maxsize=5)
    for i in range(50):
        server.emit("AgentCalled", {"Seq": str(i)}, privilege="agent,all")
    await client.action("Ping")  # the server wrote the events first: all are read now
    assert len(sub) == 5 and sub.dropped == 45
    assert [(await sub.get())["Seq"] for _ in range(5)] == ["45", "46", "47", "48", "49"]
    sub.close()
    assert client.stats.dropped_events == 45


async def test_close_logs_off_and_ends_event_iterators(server: FakeAmiServer) -> None:
    ami = make_client(server)
    await ami.start()
    await ami.wait_connected(WAIT)
    received: list[str] = []

    async def consume() -> None:
        async for event in ami.events():
            received.append(event.name)

    consumer = asyncio.ensure_future(consume())
    await asyncio.sleep(0)  # let the consumer subscribe
    server.emit("AgentCalled", {}, privilege="agent,all")
    await ami.action("Ping")
    await ami.close()
    async with asyncio.timeout(WAIT):
        await consumer  # ends when the client closes
    assert received == ["AgentCalled"]
    logoff = await server.wait_action("Logoff")
    assert logoff.logged_in
    await server.wait_connections(0)  # Goodbye, then the socket closed
    assert server.logins == 1 and not ami.connected and ami.stats.connection_drops == 0


async def test_unreachable_asterisk_keeps_retrying(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    attempts: list[float] = []
    tried = asyncio.Event()

    async def counting_sleep(delay: float) -> None:
        attempts.append(delay)
        if len(attempts) >= 3:
            tried.set()
        await asyncio.sleep(0)

    ami = AmiClient("127.0.0.1", port, "ivr", "x", backoff_min=0.01, sleep=counting_sleep)
    await ami.start()
    async with asyncio.timeout(WAIT):
        await tried.wait()
    assert "ConnectionRefusedError" in ami.stats.last_error or "Errno" in ami.stats.last_error
    await ami.close()


def test_backoff_is_jittered_exponential_and_capped() -> None:
    ami = AmiClient("127.0.0.1", 1, "u", "s", backoff_min=0.5, backoff_max=30.0,
                    rng=random.Random(7))
    for attempt in range(12):
        delay = ami._backoff(attempt)
        assert 0.5 <= delay <= min(30.0, 0.5 * 2**attempt)
    with pytest.raises(ValueError):
        AmiClient("h", 1, "u", "s", backoff_min=0)


def test_from_settings() -> None:
    settings = Settings(ami_host="10.0.0.5", ami_port=5039, ami_username="ivr", ami_secret="s3")
    ami = AmiClient.from_settings(settings, ping_interval=5.0)
    assert (ami.host, ami.port, ami.username, ami.ping_interval) == ("10.0.0.5", 5039, "ivr", 5.0)
    assert "s3" not in repr(vars(ami).get("username"))


async def test_recorded_queue_events_replayed_become_pops_across_a_restart(
    server: FakeAmiServer, client: AmiClient, transcripts_dir: Path
) -> None:
    path = transcripts_dir / "ami-during-queue-to-agent-continue.txt"
    blocks = recorded_events(path, ["AgentCalled", "AgentConnect", "AgentComplete"])
    sub = client.subscribe()

    async def replay(case_id: str) -> list[PopEvent]:
        for lines in blocks:
            assert server.emit_raw(with_case_id(lines, case_id)) == 1
        pops = []
        while len(pops) < len(blocks):
            pop = pop_from_ami(await next_event(sub))
            if pop is not None:
                pops.append(pop)
        return pops

    first = await replay("C-2026-0100")
    assert [p.state for p in first] == [PopState.RINGING, PopState.CONNECTED,
                                        PopState.COMPLETED]
    assert {p.case_id for p in first} == {"C-2026-0100"}
    server.drop_connections()
    await server.wait_logins(2)
    second = await replay("C-2026-0101")
    assert {p.case_id for p in second} == {"C-2026-0101"}
    assert second[1] == PopEvent(PopState.CONNECTED, "C-2026-0101", "Local/1001@agents")
