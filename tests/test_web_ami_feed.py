"""AMI queue events from a fake Asterisk (recorded event blocks, our case id) become pops;
after Asterisk drops the connection, the client reconnects and pops resume."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from web_helpers import Inbox, open_case

from ivr.ami.client import AmiClient
from ivr.screenpop.ami_feed import run_ami_feed
from ivr.screenpop.dispatcher import Dispatcher
from ivr.testing.fake_ami import FakeAmiServer, recorded_events, with_case_id

pytest_plugins = ("web_fixtures",)

QUEUE_CALL = "ami-during-queue-to-agent-continue.txt"


@pytest.fixture
async def fake_ami() -> AsyncIterator[FakeAmiServer]:
    async with FakeAmiServer(login_failure_delay=0.01) as server:
        yield server


def _block(transcripts: Path, name: str, case_id: str) -> list[str]:
    (block,) = recorded_events(transcripts / QUEUE_CALL, [name])
    return with_case_id(block, case_id)


async def test_recorded_queue_events_pop_the_case_and_survive_a_reconnect(
    fake_ami: FakeAmiServer, web_store: Any, web_dispatcher: Dispatcher, transcripts_dir: Path
) -> None:
    client = AmiClient("127.0.0.1", fake_ami.port, fake_ami.username, fake_ami.secret,
                       backoff_min=0.01, backoff_max=0.05)
    await client.start()
    feed = asyncio.create_task(run_ami_feed(client, web_dispatcher))
    try:
        await client.wait_connected(timeout=5)
        await asyncio.sleep(0)  # one turn: the feed task subscribes before its first await
        inbox = Inbox()
        web_dispatcher.presence.attach("agent1", inbox.send)  # Local/1001@agents, as recorded
        case_id = await open_case(web_store)
        fake_ami.emit_raw(_block(transcripts_dir, "AgentCalled", case_id))
        fake_ami.emit_raw(_block(transcripts_dir, "AgentConnect", case_id))
        first, second = await inbox.next(), await inbox.next()
        assert (first["state"], second["state"]) == ("ringing", "connected")
        assert second["case"]["id"] == case_id and second["agent"] == "agent1"

        fake_ami.drop_connections()  # Asterisk restarts
        await fake_ami.wait_logins(2)
        await client.wait_connected(timeout=5)
        later = await open_case(web_store, intent="outage")
        fake_ami.emit_raw(_block(transcripts_dir, "AgentCalled", later))
        pop = await inbox.next()
        assert (pop["state"], pop["case"]["id"]) == ("ringing", later)
    finally:
        feed.cancel()
        with pytest.raises(asyncio.CancelledError):
            await feed
        await client.close()
