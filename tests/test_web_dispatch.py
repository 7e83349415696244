"""Screen pops: pop events in, the case on the right agent's websocket out."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient
from web_helpers import ACCOUNT, CALLER, NOW, USERS, Inbox, login, open_case

from ivr.clock import FixedClock
from ivr.screenpop.directory import UserDirectory
from ivr.screenpop.dispatcher import Dispatcher
from ivr.screenpop.events import PopEvent, PopState
from ivr.screenpop.presence import Presence

pytest_plugins = ("web_fixtures",)

Client = TestClient[Any, Any]
#: A hang guard, not a speed limit (a busy machine may take longer without anything
#: being wrong): the one-second pop contract is measured by bench/timing_budgets.py.
POP_WAIT = 10.0


def ringing(case_id: str, interface: str) -> PopEvent:
    return PopEvent(PopState.RINGING, case_id, interface)


def connected(case_id: str, interface: str) -> PopEvent:
    return PopEvent(PopState.CONNECTED, case_id, interface)


def caller_gone(case_id: str, interface: str = "") -> PopEvent:
    return PopEvent(PopState.CALLER_GONE, case_id, interface, "caller")


async def console(aiohttp_client: Any, app: Any, agent: str) -> Any:
    client: Client = await aiohttp_client(app)
    await login(client, agent)
    ws = await client.ws_connect("/ws/agent")
    hello = await ws.receive_json(timeout=2)
    assert hello["type"] == "hello" and hello["agent"] == agent
    return ws


async def test_a_pop_reaches_only_the_agent_whose_phone_rings(
    aiohttp_client: Any, make_app: Any, web_store: Any, web_dispatcher: Dispatcher
) -> None:
    app = make_app()
    ws1 = await console(aiohttp_client, app, "agent1")
    ws2 = await console(aiohttp_client, app, "agent2")
    first = await open_case(web_store)
    second = await open_case(web_store, caller="0902345678", account="PE01000654321")

    assert await web_dispatcher.handle(ringing(first, "Local/1001@agents"))
    pop = await ws1.receive_json(timeout=POP_WAIT)
    assert pop["type"] == "pop" and pop["state"] == "ringing"
    case = pop["case"]
    assert case["id"] == first and case["caller"] == CALLER and case["account"] == ACCOUNT
    assert case["facts"]["balance"]["amount_due"] == 1234500
    assert [i["result"] for i in case["inputs"]] == ["no_input", "no_match", "ok"]

    # agent2's next message is its own pop: it never saw agent1's.
    assert await web_dispatcher.handle(connected(second, "LOCAL/1002@agents"))
    other = await ws2.receive_json(timeout=POP_WAIT)
    assert (other["state"], other["case"]["id"]) == ("connected", second)

    stored = await web_store.get_case(first)
    assert stored["status"] == "ringing"
    assert [(e["event"], e["agent"]) for e in stored["events"]][-1] == ("ringing", "agent1")
    assert (await web_store.get_case(second))["agent"] == "agent2"
    await ws1.close()
    await ws2.close()


async def test_caller_gone_just_as_the_agent_answers(
    aiohttp_client: Any, make_app: Any, web_store: Any, web_dispatcher: Dispatcher
) -> None:
    """Asterisk sends AgentConnect ~13 ms after the caller left, then AgentComplete with
    Reason: caller: the card must say the caller is gone, and so must the case."""
    ws = await console(aiohttp_client, make_app(), "agent1")
    case_id = await open_case(web_store)
    await web_dispatcher.handle(connected(case_id, "Local/1001@agents"))
    assert (await ws.receive_json(timeout=POP_WAIT))["state"] == "connected"
    await web_dispatcher.handle(caller_gone(case_id, "Local/1001@agents"))
    pop = await ws.receive_json(timeout=POP_WAIT)
    assert pop["state"] == "caller_gone"
    assert pop["case"]["status"] == "abandoned"
    events = [e["event"] for e in (await web_store.get_case(case_id))["events"]]
    assert events[-2:] == ["connected", "caller_gone"]
    await ws.close()


async def test_a_finished_conversation_is_completed_not_caller_gone(
    aiohttp_client: Any, make_app: Any, web_store: Any, web_dispatcher: Dispatcher
) -> None:
    ws = await console(aiohttp_client, make_app(), "agent1")
    case_id = await open_case(web_store)
    await web_dispatcher.handle(PopEvent(PopState.COMPLETED, case_id, "Local/1001@agents",
                                         "caller"))
    pop = await ws.receive_json(timeout=POP_WAIT)
    assert pop["state"] == "completed" and pop["case"]["status"] == "completed"
    await ws.close()


async def test_an_abandoning_caller_reaches_the_agent_who_was_ringing(
    aiohttp_client: Any, make_app: Any, web_store: Any, web_dispatcher: Dispatcher
) -> None:
    ws = await console(aiohttp_client, make_app(), "agent2")
    case_id = await open_case(web_store)
    await web_dispatcher.handle(ringing(case_id, "Local/1002@agents"))
    assert (await ws.receive_json(timeout=POP_WAIT))["state"] == "ringing"
    assert await web_dispatcher.handle(caller_gone(case_id))  # QueueCallerAbandon: no member
    pop = await ws.receive_json(timeout=POP_WAIT)
    assert pop["state"] == "caller_gone" and pop["case"]["id"] == case_id
    await ws.close()


async def test_the_card_lists_the_callers_earlier_cases(
    aiohttp_client: Any, make_app: Any, web_store: Any, web_dispatcher: Dispatcher
) -> None:
    older = await open_case(web_store, intent="outage")
    await web_store.update_case(older, notes="Mất điện từ 8 giờ", disposition="resolved")
    await open_case(web_store, caller="0902345678", account="PE01000654321")  # not this caller
    current = await open_case(web_store, intent="billing")
    ws = await console(aiohttp_client, make_app(), "agent1")
    await web_dispatcher.handle(ringing(current, "Local/1001@agents"))
    pop = await ws.receive_json(timeout=POP_WAIT)
    earlier = pop["case"]["earlier"]
    assert [e["id"] for e in earlier] == [older]
    assert earlier[0]["notes"] == "Mất điện từ 8 giờ"
    await ws.close()


async def test_events_nobody_can_take_are_ignored(
    web_store: Any, web_dispatcher: Dispatcher
) -> None:
    case_id = await open_case(web_store)
    assert not await web_dispatcher.handle(ringing(case_id, "PJSIP/9999"))  # not a web user
    assert not await web_dispatcher.handle(ringing("C-2026-999999", "Local/1001@agents"))
    assert not await web_dispatcher.handle(ringing("", "Local/1001@agents"))
    assert not await web_dispatcher.handle(caller_gone(case_id))  # offered to nobody yet
    assert not await web_dispatcher.handle(caller_gone("C-2026-999999"))
    events = [e["event"] for e in (await web_store.get_case(case_id))["events"]]
    assert events == ["opened"]


async def test_a_reloaded_console_gets_back_the_call_it_is_on(
    aiohttp_client: Any, make_app: Any, web_store: Any
) -> None:
    from ivr.channels.channel import TransferRequest, TransferStatus
    from ivr.web.keys import QUEUE

    app = make_app()
    client: Client = await aiohttp_client(app)
    await login(client, "agent2")
    ws = await client.ws_connect("/ws/agent")
    await ws.receive_json(timeout=2)
    await ws.send_json({"type": "availability", "available": True})
    await ws.receive_json(timeout=2)
    case_id = await open_case(web_store)
    call = asyncio.create_task(app[QUEUE].transfer(TransferRequest("agents", case_id)))
    assert (await ws.receive_json(timeout=POP_WAIT))["state"] == "ringing"
    await ws.send_json({"type": "answer", "case_id": case_id})
    assert (await ws.receive_json(timeout=2))["ok"] is True
    assert (await ws.receive_json(timeout=POP_WAIT))["state"] == "connected"
    await ws.close()  # the agent reloads the page mid-call

    again = await client.ws_connect("/ws/agent")
    assert (await again.receive_json(timeout=2))["type"] == "hello"
    pop = await again.receive_json(timeout=2)
    assert (pop["state"], pop["case"]["id"]) == ("connected", case_id)
    await again.send_json({"type": "end", "case_id": case_id})
    assert (await again.receive_json(timeout=2))["ok"] is True
    assert (await call).status is TransferStatus.COMPLETED
    await again.close()


async def test_an_unknown_interface_is_logged_with_its_number_masked(
    web_store: Any, web_dispatcher: Dispatcher, caplog: Any
) -> None:
    case_id = await open_case(web_store)
    caplog.set_level("INFO", logger="ivr.screenpop.dispatcher")
    assert not await web_dispatcher.handle(ringing(case_id, "Local/0912345678@from-external"))
    assert "0912345678" not in caplog.text
    assert "******5678" in caplog.text


class CountingStore:
    """The real store, counting how often a case is read."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.reads: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def get_case(self, case_id: str) -> Any:
        self.reads.append(case_id)
        return await self._store.get_case(case_id)


async def test_the_case_is_read_once_per_pop(web_store: Any) -> None:
    store = CountingStore(web_store)
    dispatcher = Dispatcher(Presence(UserDirectory(USERS)), store, FixedClock(NOW))
    inbox = Inbox()
    dispatcher.presence.attach("agent1", inbox.send)
    case_id = await open_case(web_store)
    for pop in (ringing(case_id, "Local/1001@agents"), connected(case_id, "Local/1001@agents"),
                caller_gone(case_id, "Local/1001@agents")):
        assert await dispatcher.handle(pop)
        assert (await inbox.next())["state"] == pop.state.value
        assert store.reads == [case_id], pop  # the card's read, after the event is recorded
        store.reads.clear()
    # A second end of the same card is not shown (nor read, nor recorded).
    assert await dispatcher.handle(caller_gone(case_id))
    assert store.reads == [case_id]  # only to find whom it was for
    store.reads.clear()
    # QueueCallerAbandon names no member: the case is read to find who was ringing too.
    other = await open_case(web_store)
    assert await dispatcher.handle(ringing(other, "Local/1001@agents"))
    assert (await inbox.next())["state"] == "ringing"
    store.reads.clear()
    assert await dispatcher.handle(caller_gone(other))
    assert (await inbox.next())["case"]["status"] == "abandoned"
    assert store.reads == [other, other]
