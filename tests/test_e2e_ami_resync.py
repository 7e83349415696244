"""After an AMI reconnect the cards match what Asterisk's queues hold, and no pop shows twice.

Over loopback TCP: the fake AMI server (which answers QueueStatus/QueueSummary from the
queue events it sent, and loses its calls when stopped), the real AMI client, the feed,
the dispatcher and the store. Each test gets a card ringing or connected, then breaks
the AMI link mid-call: an Asterisk restart (stop, start on the same port) or a network
break (the calls go on), with or without events missed meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from web_helpers import Inbox, open_case

from ivr.ami.client import AmiClient
from ivr.screenpop.ami_feed import run_ami_feed
from ivr.screenpop.dispatcher import Dispatcher
from ivr.screenpop.resync import RESYNC_REASON
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

pytest_plugins = ("web_fixtures",)

CV = ("IVR_CASE_ID",)
QUEUE = "hotline"
INTERFACE = "Local/1001@agents"  # agent1's, as in the recording's queues.conf


@dataclass
class Call:
    """One caller's queue events, with its own channel and case id."""

    caller: Snapshot
    member: Member

    @classmethod
    def make(cls, case_id: str, n: int) -> Call:
        caller = Snapshot(f"Local/s@hotline-{n:08x};2", f"1795848894.{n}", f"1795848894.{n}",
                          "0901234567", "Test Caller", "hotline", "s", "3",
                          variables={"IVR_CASE_ID": case_id})
        agent = Snapshot(f"Local/1001@agents-{n + 1:08x};1", f"1795848895.{n}",
                         caller.uniqueid, "0901234567", "Test Caller", "agents", "s", "1",
                         variables={"IVR_CASE_ID": case_id})  # inherited: __IVR_CASE_ID
        return cls(caller, Member(INTERFACE, "Agent 1001", agent))

    def join(self) -> list[str]:
        return caller_join(self.caller, QUEUE, CV)

    def called(self) -> list[str]:
        return agent_called(self.caller, self.member, QUEUE, CV)

    def answered(self) -> list[list[str]]:
        return [caller_leave(self.caller, QUEUE, CV),
                agent_connect(self.caller, self.member, QUEUE, CV)]

    def complete(self) -> list[str]:
        return agent_complete(self.caller, self.member, QUEUE, CV, 42, "agent")


@dataclass
class Rig:
    ami: FakeAmiServer
    client: AmiClient
    dispatcher: Dispatcher
    store: Any
    inbox: Inbox

    async def resynced(self, count: int) -> None:
        """Wait for the ``count``-th re-sync's last question (the feed asks two)."""
        await self.ami.wait_action("QueueSummary", count)

    async def ringing(self, n: int) -> Call:
        call = Call.make(await open_case(self.store, intent=f"billing{n}"), n)
        self.ami.emit_raw(call.join())
        self.ami.emit_raw(call.called())
        pop = await self.inbox.next()
        assert (pop["state"], pop["case"]["id"]) == ("ringing", case_of(call))
        return call

    async def events_of(self, call: Call) -> list[tuple[str, str]]:
        case = await self.store.get_case(case_of(call))
        assert case is not None
        return [(e["event"], e["detail"]) for e in case["events"]
                if e["event"] in {"ringing", "connected", "completed", "caller_gone", "missed"}]


def case_of(call: Call) -> str:
    return call.caller.variables["IVR_CASE_ID"]


@pytest.fixture
async def rig(web_store: Any, web_dispatcher: Dispatcher) -> AsyncIterator[Rig]:
    async with FakeAmiServer(login_failure_delay=0.01) as ami:
        client = AmiClient("127.0.0.1", ami.port, ami.username, ami.secret,
                           backoff_min=0.01, backoff_max=0.05)
        inbox = Inbox()
        web_dispatcher.presence.attach("agent1", inbox.send)
        feed = asyncio.create_task(run_ami_feed(client, web_dispatcher))
        await asyncio.sleep(0)  # the feed subscribes before the client logs in
        await client.start()
        try:
            rig = Rig(ami, client, web_dispatcher, web_store, inbox)
            await rig.resynced(1)  # the first login re-syncs too (nothing to settle)
            yield rig
        finally:
            feed.cancel()
            with pytest.raises(asyncio.CancelledError):
                await feed
            await client.close()


async def test_asterisk_restarts_mid_ring_the_card_says_the_caller_is_gone(rig: Rig) -> None:
    call = await rig.ringing(50)
    await rig.ami.stop()  # Asterisk goes down with its calls; no event says so
    await rig.ami.start()  # back on the same port
    await rig.ami.wait_logins(2)
    gone = await rig.inbox.next()
    assert (gone["state"], gone["case"]["id"]) == ("caller_gone", case_of(call))
    assert gone["case"]["status"] == "abandoned"
    await rig.resynced(2)
    assert rig.dispatcher.open_cards() == ()
    assert rig.dispatcher.queues.figures[0].callers == 0

    # Nothing else came for that case: the next message is the next call's ringing.
    later = await rig.ringing(60)
    assert await rig.events_of(call) == [("ringing", INTERFACE),
                                         ("caller_gone", f"{INTERFACE} ({RESYNC_REASON})")]
    assert [c.case_id for c in rig.dispatcher.open_cards()] == [case_of(later)]


async def test_a_network_break_mid_ring_keeps_the_card_and_never_pops_twice(rig: Rig) -> None:
    call = await rig.ringing(70)
    rig.ami.drop_connections()  # the calls go on; the ring too
    await rig.ami.wait_logins(2)
    await rig.resynced(2)
    # Asterisk (or a second AMI feed) says the same ring again: shown once.
    rig.ami.emit_raw(call.called())
    for block in call.answered():
        rig.ami.emit_raw(block)
    connected = await rig.inbox.next()  # not a second ringing
    assert (connected["state"], connected["case"]["id"]) == ("connected", case_of(call))
    assert rig.dispatcher.queues.waiting[0].uniqueid == call.caller.uniqueid
    rig.ami.emit_raw(call.complete())
    assert (await rig.inbox.next())["state"] == "completed"
    assert await rig.events_of(call) == [("ringing", INTERFACE), ("connected", INTERFACE),
                                         ("completed", f"{INTERFACE} (agent)")]


async def test_an_answer_missed_while_away_shows_connected_then_a_restart_ends_it(
    rig: Rig,
) -> None:
    call = await rig.ringing(80)
    rig.ami.drop_connections()
    await rig.ami.wait_connections(0)
    for block in call.answered():  # sent while nobody is connected: nobody hears it
        assert rig.ami.emit_raw(block) == 0
    await rig.ami.wait_logins(2)
    connected = await rig.inbox.next()
    assert (connected["state"], connected["case"]["id"]) == ("connected", case_of(call))
    assert connected["case"]["status"] != "abandoned"

    await rig.ami.stop()  # the agent is talking when Asterisk goes down
    await rig.ami.start()
    await rig.ami.wait_logins(3)
    ended = await rig.inbox.next()
    assert (ended["state"], ended["case"]["id"]) == ("completed", case_of(call))
    await rig.resynced(3)
    # The AgentComplete of a call already ended is not shown again.
    rig.ami.emit_raw(call.complete())
    later = await rig.ringing(90)
    assert await rig.events_of(call) == [
        ("ringing", INTERFACE), ("connected", f"{INTERFACE} ({RESYNC_REASON})"),
        ("completed", f"{INTERFACE} ({RESYNC_REASON})"),
    ]
    assert case_of(later) != case_of(call)
