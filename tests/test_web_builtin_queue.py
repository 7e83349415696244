"""The built-in queue: round robin over available agents, answer/end, timeout, no agents,
a caller who hangs up while it rings. Agents' consoles are the real dispatcher's sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from web_helpers import Inbox, open_case

from ivr.channels.channel import CallerHungUp, TransferRequest, TransferStatus
from ivr.screenpop.builtin_queue import BuiltinQueue
from ivr.screenpop.dispatcher import Dispatcher

pytest_plugins = ("web_fixtures",)


def online(dispatcher: Dispatcher, *agents: str) -> dict[str, Inbox]:
    boxes = {}
    for agent in agents:
        boxes[agent] = Inbox()
        dispatcher.presence.attach(agent, boxes[agent].send)
        dispatcher.presence.set_available(agent, True)
    return boxes


async def test_offers_go_round_robin_and_answer_then_end_completes(
    web_store: Any, web_dispatcher: Dispatcher
) -> None:
    queue = BuiltinQueue(web_dispatcher, ring_seconds=5.0)
    boxes = online(web_dispatcher, "agent1", "agent2")
    takers = []
    for _ in range(3):
        case_id = await open_case(web_store)
        call = asyncio.create_task(queue.transfer(TransferRequest("agents", case_id)))
        # whoever rings answers, talks, and ends the call
        box_name, pop = await _first_pop(boxes)
        assert (pop["state"], pop["case"]["id"]) == ("ringing", case_id)
        assert queue.answer(box_name, case_id)
        assert (await boxes[box_name].next())["state"] == "connected"
        assert queue.end(box_name, case_id)
        assert (await boxes[box_name].next())["state"] == "completed"
        result = await call
        assert result.status is TransferStatus.COMPLETED
        takers.append(box_name)
        stored = await web_store.get_case(case_id)
        assert [e["event"] for e in stored["events"]][-3:] == ["ringing", "connected",
                                                                 "completed"]
    assert takers == ["agent1", "agent2", "agent1"]


async def _first_pop(boxes: dict[str, Inbox]) -> tuple[str, dict[str, Any]]:
    waits = {asyncio.ensure_future(box.next()): name for name, box in boxes.items()}
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    task = done.pop()
    return waits[task], task.result()


async def test_an_agent_who_does_not_answer_is_passed_over(
    web_store: Any, web_dispatcher: Dispatcher
) -> None:
    queue = BuiltinQueue(web_dispatcher, ring_seconds=0.05)
    boxes = online(web_dispatcher, "agent1", "agent2")
    case_id = await open_case(web_store)
    call = asyncio.create_task(queue.transfer(TransferRequest("agents", case_id, timeout=5)))
    assert (await boxes["agent1"].next())["state"] == "ringing"
    assert (await boxes["agent1"].next())["state"] == "missed"
    assert (await boxes["agent2"].next())["state"] == "ringing"
    assert queue.answer("agent2", case_id)
    assert not queue.answer("agent1", case_id)  # too late for agent1
    assert (await boxes["agent2"].next())["state"] == "connected"
    queue.end("agent2", case_id)
    result = await call
    assert result.status is TransferStatus.COMPLETED
    assert result.agent == "Local/1002@agents"


async def test_nobody_answering_times_out(web_store: Any, web_dispatcher: Dispatcher) -> None:
    queue = BuiltinQueue(web_dispatcher, ring_seconds=0.02)
    online(web_dispatcher, "agent2")
    case_id = await open_case(web_store)
    result = await queue.transfer(TransferRequest("agents", case_id, timeout=0.15))
    assert result.status is TransferStatus.TIMEOUT


async def test_no_available_agent_for_the_queue_is_no_agents(
    web_store: Any, web_dispatcher: Dispatcher
) -> None:
    queue = BuiltinQueue(web_dispatcher)
    boxes = online(web_dispatcher, "agent2", "agent3")  # agent2: agents; agent3: safety only
    web_dispatcher.presence.set_available("agent2", False)  # away
    case_id = await open_case(web_store)
    result = await queue.transfer(TransferRequest("agents", case_id, timeout=30))
    assert result.status is TransferStatus.NO_AGENTS
    assert boxes["agent3"].messages.empty() and boxes["agent2"].messages.empty()
    web_dispatcher.presence.set_available("agent2", True)
    safety = await open_case(web_store, queue="safety")
    call = asyncio.create_task(queue.transfer(TransferRequest("safety", safety, timeout=30)))
    assert (await boxes["agent3"].next())["case"]["id"] == safety
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call


async def test_the_caller_hanging_up_while_it_rings_shows_caller_gone(
    web_store: Any, web_dispatcher: Dispatcher
) -> None:
    queue = BuiltinQueue(web_dispatcher)
    boxes = online(web_dispatcher, "agent1")
    case_id = await open_case(web_store)
    hangup = asyncio.Event()
    call = asyncio.create_task(queue.transfer(TransferRequest("agents", case_id),
                                              hangup=hangup))
    assert (await boxes["agent1"].next())["state"] == "ringing"
    hangup.set()
    pop = await boxes["agent1"].next()
    assert pop["state"] == "caller_gone" and pop["case"]["status"] == "abandoned"
    with pytest.raises(CallerHungUp):
        await call
    assert queue.busy() == {}


async def test_auto_answer_connects_by_itself(web_store: Any, web_dispatcher: Dispatcher) -> None:
    queue = BuiltinQueue(web_dispatcher, auto_answer=0.01)
    boxes = online(web_dispatcher, "agent1")
    case_id = await open_case(web_store)
    call = asyncio.create_task(queue.transfer(TransferRequest("agents", case_id)))
    assert (await boxes["agent1"].next())["state"] == "ringing"
    assert (await boxes["agent1"].next())["state"] == "connected"
    assert queue.end("agent1", case_id)
    assert (await call).status is TransferStatus.COMPLETED


async def test_a_busy_agent_gets_the_next_caller_when_free(
    web_store: Any, web_dispatcher: Dispatcher
) -> None:
    queue = BuiltinQueue(web_dispatcher)
    boxes = online(web_dispatcher, "agent2")
    first, second = await open_case(web_store), await open_case(web_store)
    call1 = asyncio.create_task(queue.transfer(TransferRequest("agents", first)))
    assert (await boxes["agent2"].next())["case"]["id"] == first
    call2 = asyncio.create_task(queue.transfer(TransferRequest("agents", second, timeout=30)))
    queue.answer("agent2", first)
    assert (await boxes["agent2"].next())["state"] == "connected"
    queue.end("agent2", first)
    assert (await boxes["agent2"].next())["state"] == "completed"
    pop = await boxes["agent2"].next()
    assert (pop["state"], pop["case"]["id"]) == ("ringing", second)
    assert (await call1).status is TransferStatus.COMPLETED
    call2.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call2


async def test_a_higher_priority_caller_gets_the_next_free_agent(
    web_store: Any, web_dispatcher: Dispatcher
) -> None:
    queue = BuiltinQueue(web_dispatcher)
    boxes = online(web_dispatcher, "agent2")
    talking, normal, urgent = [await open_case(web_store) for _ in range(3)]
    call = asyncio.create_task(queue.transfer(TransferRequest("agents", talking)))
    assert (await boxes["agent2"].next())["case"]["id"] == talking
    queue.answer("agent2", talking)
    assert (await boxes["agent2"].next())["state"] == "connected"
    waiting = [asyncio.create_task(queue.transfer(TransferRequest("agents", normal, timeout=30)))]
    await asyncio.sleep(0)  # one turn: the normal caller is in line first
    waiting.append(asyncio.create_task(
        queue.transfer(TransferRequest("agents", urgent, priority=10, timeout=30))))
    await asyncio.sleep(0)
    queue.end("agent2", talking)
    assert (await boxes["agent2"].next())["state"] == "completed"
    pop = await boxes["agent2"].next()
    assert (pop["state"], pop["case"]["id"]) == ("ringing", urgent)
    assert (await call).status is TransferStatus.COMPLETED
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)


async def test_a_transfer_to_a_named_agent_rings_only_that_agent(
    web_store: Any, web_dispatcher: Dispatcher
) -> None:
    queue = BuiltinQueue(web_dispatcher)
    boxes = online(web_dispatcher, "agent1", "agent2")
    case_id = await open_case(web_store)
    call = asyncio.create_task(queue.transfer(
        TransferRequest("agents", case_id, agent="Local/1002@agents")))
    pop = await boxes["agent2"].next()
    assert (pop["state"], pop["case"]["id"]) == ("ringing", case_id)
    assert boxes["agent1"].messages.empty()
    queue.answer("agent2", case_id)
    queue.end("agent2", case_id)
    assert (await call).agent == "Local/1002@agents"
    unknown = await queue.transfer(TransferRequest("agents", case_id, agent="PJSIP/777"))
    assert unknown.status is TransferStatus.FAILED


def test_timings_come_from_the_config_files_web_section(web_dispatcher: Dispatcher) -> None:
    from ivr.config.settings import Settings, SettingsError

    queue = BuiltinQueue.from_settings(
        web_dispatcher, Settings(extra={"web": {"ring_seconds": "20s", "auto_answer": 3}}))
    assert (queue.ring_seconds, queue.auto_answer) == (20.0, 3.0)
    default = BuiltinQueue.from_settings(web_dispatcher, Settings())
    assert (default.ring_seconds, default.auto_answer) == (15.0, None)
    with pytest.raises(SettingsError, match=r"web\.auto_answer"):
        BuiltinQueue.from_settings(web_dispatcher, Settings(extra={"web": {"auto_answer": "x"}}))
