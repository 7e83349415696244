"""Queue announcements in the built-in queue, as Asterisk's queues.conf says them: the
sentence of app_queue.c's say_position (next / there are N calls waiting, the estimated
hold time in minutes, thank you), the periodic message, the average hold time, the
``web:`` options, and the hotline's own prompts for every Asterisk queue sound."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from test_web_builtin_queue import online
from web_helpers import open_case

from ivr import channel_vars
from ivr.channels.channel import CallerHungUp, Prompt, TransferRequest, TransferStatus
from ivr.config.settings import Settings, SettingsError
from ivr.prompts.catalog import PromptCatalog
from ivr.screenpop.announcements import (
    QUEUE_SOUNDS,
    Announcing,
    HoldTimes,
    Say,
    position_announcement,
    render,
)
from ivr.screenpop.builtin_queue import BuiltinQueue
from ivr.screenpop.dispatcher import Dispatcher

pytest_plugins = ("web_fixtures",)
ROOT = Path(__file__).resolve().parent.parent
CATALOG = PromptCatalog.load(ROOT / "config" / "prompts.yaml")


def spoken(items: Sequence[Say], language: str) -> str:
    return " ".join(p.text for p in render(items, CATALOG, language))


def test_the_sentence_is_app_queues_say_position() -> None:
    assert position_announcement(1, 5) == (Say("queue_youarenext"), Say("queue_thankyou"))
    assert spoken(position_announcement(1, 5), "en") == (
        "You are next in line. Thank you for your patience.")  # no wait when next
    assert spoken(position_announcement(3, 2), "en") == (
        "There are three calls waiting, yours included. The estimated waiting time is "
        "about two minutes. Thank you for your patience.")
    assert spoken(position_announcement(2, 1), "en").endswith("about one minute. Thank you "
                                                              "for your patience.")
    assert spoken(position_announcement(4, 0), "en") == (
        "There are four calls waiting, yours included. Thank you for your patience.")
    assert spoken(position_announcement(3, 2, holdtime=False), "vi") == (
        "Hiện có ba cuộc gọi đang chờ, tính cả cuộc gọi của quý khách. Cảm ơn quý khách "
        "đã kiên nhẫn chờ máy.")


def test_hold_time_is_the_exponential_average_and_the_estimate_what_is_left() -> None:
    times = HoldTimes()
    assert times.estimate("agents", 0) == 0  # nothing answered yet: nothing said
    times.answered("agents", 240)
    times.answered("agents", 80)  # (3 * 240 + 80) / 4
    assert times.seconds["agents"] == 200
    assert [times.estimate("agents", w) for w in (0, 60, 150, 171, 400)] == [3, 2, 1, 0, 0]


def test_every_asterisk_queue_sound_has_the_hotlines_prompt_in_both_languages() -> None:
    assert set(QUEUE_SOUNDS) == {
        "queue-youarenext", "queue-thereare", "queue-callswaiting", "queue-holdtime",
        "queue-minute", "queue-minutes", "queue-thankyou", "queue-periodic-announce"}
    for prompt_id in QUEUE_SOUNDS.values():
        for language in ("vi", "en"):
            assert CATALOG.prompt(prompt_id, language).text


class Ear:
    """The waiting caller's ear: every announcement played, as texts."""

    def __init__(self, until: int) -> None:
        self.heard: list[str] = []
        self.until = until
        self.enough = asyncio.Event()

    async def play(self, prompts: Sequence[Prompt]) -> None:
        self.heard.append(" ".join(p.text for p in prompts))
        if len(self.heard) >= self.until:
            self.enough.set()


async def test_a_caller_in_line_hears_position_wait_and_the_periodic_message(
    web_store: Any, web_dispatcher: Dispatcher
) -> None:
    queue = BuiltinQueue(web_dispatcher, catalog=CATALOG,
                         announcing=Announcing(frequency=0.2, periodic_frequency=0.3))
    queue.hold_times.answered("agents", 200.0)  # earlier calls waited 200 s on average
    boxes = online(web_dispatcher, "agent2")
    talking, ahead, mine = [await open_case(web_store) for _ in range(3)]
    call = asyncio.create_task(queue.transfer(TransferRequest("agents", talking)))
    assert (await boxes["agent2"].next())["case"]["id"] == talking
    queue.answer("agent2", talking)
    assert (await boxes["agent2"].next())["state"] == "connected"

    first = Ear(until=1)
    waiting = [asyncio.create_task(queue.transfer(
        TransferRequest("agents", ahead, timeout=30), play=first.play))]
    await first.enough.wait()
    me = Ear(until=3)
    waiting.append(asyncio.create_task(queue.transfer(
        TransferRequest("agents", mine, timeout=30,
                        variables={channel_vars.LANGUAGE: "en"}), play=me.play)))
    await me.enough.wait()
    assert first.heard[0] == ("Quý khách là người tiếp theo được phục vụ. Cảm ơn quý khách "
                              "đã kiên nhẫn chờ máy.")  # first in line, in Vietnamese
    # The average: 200 s, then the call answered at once: (3 * 200 + 0) / 4 = 150 s.
    assert queue.hold_times.seconds["agents"] == pytest.approx(150, abs=1)
    assert me.heard[0] == (
        "There are two calls waiting, yours included. The estimated waiting time is about "
        "three minutes. Thank you for your patience.")
    periodic = ("All our agents are busy. Please stay on the line; your call will be "
                "answered shortly.")
    assert periodic in me.heard
    assert all(h == periodic or h.startswith("There are two calls") for h in me.heard)

    # The agent comes free: the caller ahead is rung, and this one is next now.
    me.until, me.enough = len(me.heard) + 1, asyncio.Event()
    queue.end("agent2", talking)
    assert (await boxes["agent2"].next())["state"] == "completed"
    assert (await boxes["agent2"].next())["case"]["id"] == ahead
    while not any(h.startswith("You are next") for h in me.heard):
        me.until, me.enough = len(me.heard) + 1, asyncio.Event()
        await asyncio.wait_for(me.enough.wait(), 10)
    assert (await call).status is TransferStatus.COMPLETED
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)


async def test_nothing_is_announced_without_a_catalog_or_a_player(
    web_store: Any, web_dispatcher: Dispatcher
) -> None:
    quiet = BuiltinQueue(web_dispatcher, announcing=Announcing(frequency=0.01))
    online(web_dispatcher, "agent2")
    busy = await open_case(web_store)
    ring = asyncio.create_task(quiet.transfer(TransferRequest("agents", busy)))
    await asyncio.sleep(0.05)
    ear = Ear(until=1)
    result = await quiet.transfer(TransferRequest("agents", await open_case(web_store),
                                                  timeout=0.2), play=ear.play)
    assert result.status is TransferStatus.TIMEOUT and ear.heard == []
    ring.cancel()
    await asyncio.gather(ring, return_exceptions=True)


def test_announce_options_come_from_the_web_section(web_dispatcher: Dispatcher) -> None:
    queue = BuiltinQueue.from_settings(web_dispatcher, Settings(extra={"web": {
        "announce_frequency": "45s", "periodic_announce_frequency": 0}}), catalog=CATALOG)
    assert (queue.announcing.frequency, queue.announcing.periodic_frequency) == (45.0, 0.0)
    assert queue.catalog is CATALOG
    default = BuiltinQueue.from_settings(web_dispatcher, Settings())
    assert (default.announcing.frequency, default.announcing.periodic_frequency) == (30.0, 60.0)
    with pytest.raises(SettingsError, match=r"web\.announce_frequency must be more than 0 "
                                            r"seconds \(0 turns it off\)"):
        BuiltinQueue.from_settings(web_dispatcher, Settings(extra={"web": {
            "announce_frequency": -5}}))


async def test_the_softphone_caller_hears_the_announcements_in_their_language(
    web_store: Any, web_dispatcher: Dispatcher
) -> None:
    from web_helpers import CALLER, HCMC_HOTLINE, Inbox

    from ivr.channels.channel import CallInfo
    from ivr.channels.softphone import WebSoftphoneChannel

    queue = BuiltinQueue(web_dispatcher, catalog=CATALOG,
                         announcing=Announcing(frequency=0.05, periodic_frequency=0))
    boxes = online(web_dispatcher, "agent2")
    busy, mine = await open_case(web_store), await open_case(web_store)
    ringing = asyncio.create_task(queue.transfer(TransferRequest("agents", busy)))
    assert (await boxes["agent2"].next())["state"] == "ringing"  # the only agent is busy
    browser = Inbox()
    phone = WebSoftphoneChannel(CallInfo("web-1", CALLER, HCMC_HOTLINE, "hotline"),
                                browser.send, queue, lambda _p: None)
    call = asyncio.create_task(phone.transfer(TransferRequest(
        "agents", mine, timeout=30, variables={channel_vars.LANGUAGE: "en"})))
    assert (await browser.next())["type"] == "transfer"
    for _ in range(2):  # said as the caller starts waiting, and again after the frequency
        msg = await browser.next()
        assert msg["type"] == "play" and msg["escape"] == ""  # keys do not stop it
        assert [p["id"] for p in msg["prompts"]] == ["queue_youarenext", "queue_thankyou"]
        assert {p["language"] for p in msg["prompts"]} == {"en"}
        phone.played(msg["seq"])
    phone.caller_hung_up()
    with pytest.raises(CallerHungUp):
        await call
    ringing.cancel()
    await asyncio.gather(ringing, return_exceptions=True)
