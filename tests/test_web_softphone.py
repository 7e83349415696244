"""The browser softphone: the channel's primitives, and a whole call through the real
engine on the demo hotline that presses 0 and pops the case on an agent's console."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from web_helpers import CALLER, HCMC_HOTLINE, Inbox, live_engine, login

from ivr.channels.channel import CallerHungUp, CallInfo, DigitSpec, EndedBy, Prompt
from ivr.channels.softphone import WebSoftphoneChannel, audio_url_for
from ivr.screenpop.builtin_queue import BuiltinQueue
from ivr.screenpop.dispatcher import Dispatcher
from ivr.web.keys import CALLS

pytest_plugins = ("web_fixtures",)

Client = TestClient[Any, Any]
INFO = CallInfo(call_id="web-1", caller=CALLER, dialled=HCMC_HOTLINE, flow="hotline")
MENU = [Prompt("main_menu", "vi", "Bấm phím 1 để nghe thông tin mất điện", "ivr/vi/main_menu"),
        Prompt("w_1", "vi", "một", "ivr/vi/w_1")]


def channel(tmp_path: Path, dispatcher: Dispatcher, inbox: Inbox) -> WebSoftphoneChannel:
    (tmp_path / "ivr" / "vi").mkdir(parents=True, exist_ok=True)
    (tmp_path / "ivr" / "vi" / "main_menu.wav").write_bytes(b"RIFF")
    return WebSoftphoneChannel(INFO, inbox.send, BuiltinQueue(dispatcher),
                               audio_url_for(tmp_path))


async def test_play_sends_prompts_with_audio_urls_and_waits_for_played(
    tmp_path: Path, web_dispatcher: Dispatcher
) -> None:
    inbox = Inbox()
    ch = channel(tmp_path, web_dispatcher, inbox)
    playing = asyncio.create_task(ch.play(MENU, escape="12"))
    msg = await inbox.next()
    assert msg["type"] == "play" and msg["escape"] == "12"
    assert [(p["id"], p["url"]) for p in msg["prompts"]] == [
        ("main_menu", "/audio/ivr/vi/main_menu.wav"), ("w_1", None)]  # w_1 not built
    assert msg["prompts"][0]["text"] == "Bấm phím 1 để nghe thông tin mất điện"
    ch.key_pressed("9")  # not an escape key: ignored, as Asterisk's STREAM FILE does
    assert await inbox.next() == {"type": "ignored", "key": "9", "seq": msg["seq"]}
    ch.played(msg["seq"])
    assert await playing is None


async def test_a_key_barges_in_and_ask_gathers_the_rest(
    tmp_path: Path, web_dispatcher: Dispatcher
) -> None:
    inbox = Inbox()
    ch = channel(tmp_path, web_dispatcher, inbox)
    asking = asyncio.create_task(ch.ask(MENU, DigitSpec(max_digits=3, terminator="#")))
    msg = await inbox.next()
    for key in "42#":
        ch.key_pressed(key)
    entry = await asking
    assert (entry.digits, entry.ended_by) == ("42", EndedBy.TERMINATOR)
    assert await inbox.next() == {"type": "stop", "seq": msg["seq"]}


async def test_the_browser_going_away_is_a_caller_hang_up(
    tmp_path: Path, web_dispatcher: Dispatcher
) -> None:
    inbox = Inbox()
    ch = channel(tmp_path, web_dispatcher, inbox)
    waiting = asyncio.create_task(ch.wait_digit(30))
    ch.caller_hung_up()
    with pytest.raises(CallerHungUp):
        await waiting
    with pytest.raises(CallerHungUp):
        await ch.play(MENU)
    await ch.hangup()  # idempotent, never raises


async def test_a_softphone_call_pressing_0_pops_the_case_on_the_agent_console(
    aiohttp_client: Any, make_app: Any, web_store: Any, web_dispatcher: Dispatcher,
    tmp_path: Path
) -> None:
    live = live_engine(web_store, tmp_path)
    queue = BuiltinQueue(web_dispatcher)
    app = make_app(engine=live.engine, catalog=live.catalog, flow_names=live.flow_names,
                   builtin_queue=queue)
    agent: Client = await aiohttp_client(app)
    await login(agent, "agent2")
    console = await agent.ws_connect("/ws/agent")
    assert (await console.receive_json(timeout=2))["type"] == "hello"
    await console.send_json({"type": "availability", "available": True})
    assert (await console.receive_json(timeout=2))["available"] is True

    caller: Client = await aiohttp_client(app)
    await login(caller, "agent1")
    phone = await caller.ws_connect("/ws/softphone")
    await phone.send_json({"type": "start", "flow": "hotline", "caller": CALLER,
                           "dialled": HCMC_HOTLINE})
    assert (await phone.receive_json(timeout=5))["type"] == "started"
    heard = []
    while True:  # listen to the greeting; press 0 at the first question
        msg = await phone.receive_json(timeout=5)
        if msg["type"] == "play":
            heard += [p["text"] for p in msg["prompts"]]
            if "0" in msg["escape"]:
                await phone.send_json({"type": "key", "key": "0"})
            else:
                await phone.send_json({"type": "played", "seq": msg["seq"]})
        elif msg["type"] == "transfer":
            case_id = msg["case_id"]
            break
    assert heard, "the caller heard nothing before the transfer"

    pop = await console.receive_json(timeout=2)
    assert pop["type"] == "pop" and pop["state"] == "ringing"
    case = pop["case"]
    assert case["id"] == case_id and case["caller"] == CALLER
    # 0 at the greeting: no account keyed yet, so the card names the caller's registered one
    assert case["account"] is None
    assert [a["code"] for a in case["registered_accounts"]] == ["PE01000123456"]
    assert case["registered_accounts"][0]["name"] == "Nguyễn Văn An"
    await console.send_json({"type": "answer", "case_id": case_id})
    assert (await console.receive_json(timeout=2)) == {"type": "answer", "case_id": case_id,
                                                       "ok": True}
    assert (await console.receive_json(timeout=2))["state"] == "connected"
    await phone.close()  # the caller hangs up mid-conversation
    done = await console.receive_json(timeout=2)
    assert done["state"] == "completed"
    await asyncio.gather(*app[CALLS])  # the call finishes on its own after the hang-up
    calls = await web_store.list_calls(limit=5)
    assert calls and calls[0]["case_id"] == case_id
    assert calls[0]["outcome"] == "transferred"


async def test_a_bad_start_message_gets_a_clear_error(
    aiohttp_client: Any, make_app: Any, web_store: Any, tmp_path: Path
) -> None:
    live = live_engine(web_store, tmp_path)
    client: Client = await aiohttp_client(make_app(engine=live.engine,
                                                   flow_names=live.flow_names))
    await login(client, "agent1")
    for start, error in (({"type": "start", "flow": "nope"}, "unknown flow 'nope'"),
                         ({"type": "start", "caller": "09x"}, "caller number must be digits"),
                         ({"type": "key", "key": "1"}, "the first message must be 'start'")):
        ws = await client.ws_connect("/ws/softphone")
        await ws.send_json(start)
        msg = await ws.receive_json(timeout=2)
        assert msg["type"] == "error" and msg["message"].startswith(error)
        await ws.close()


async def test_one_login_cannot_start_calls_without_end(
    aiohttp_client: Any, make_app: Any, web_store: Any, tmp_path: Path
) -> None:
    from ivr.web.sockets import MAX_SOFTPHONE_CALLS_PER_USER

    live = live_engine(web_store, tmp_path)
    app = make_app(engine=live.engine, catalog=live.catalog, flow_names=live.flow_names)
    client: Client = await aiohttp_client(app)
    await login(client, "agent1")
    start = {"type": "start", "flow": "hotline", "caller": CALLER, "dialled": HCMC_HOTLINE}
    phones = []
    for _ in range(MAX_SOFTPHONE_CALLS_PER_USER):
        phone = await client.ws_connect("/ws/softphone")
        await phone.send_json(start)
        assert (await phone.receive_json(timeout=5))["type"] == "started"
        phones.append(phone)
    extra = await client.ws_connect("/ws/softphone")
    await extra.send_json(start)
    msg = await extra.receive_json(timeout=5)
    assert msg["type"] == "error" and "hang one up first" in msg["message"]
    other: Client = await aiohttp_client(app)  # someone else still can
    await login(other, "agent2")
    theirs = await other.ws_connect("/ws/softphone")
    await theirs.send_json(start)
    assert (await theirs.receive_json(timeout=5))["type"] == "started"
    for ws in (*phones, theirs):
        await ws.close()
    await asyncio.gather(*app[CALLS])
