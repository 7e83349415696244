"""The callback worklist end to end over TCP: the callbacks the IVR promised (urgent
first, then oldest), "call now" sending AMI Originate with the least-privilege user to
a fake AMI server that answers as Asterisk 22 does, a customer who does not answer
tried again, the outcome stored on the callback and the case."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from web_helpers import NOW, PASSWORD, USERS, NoEngine, login, open_seeded_store

from ivr.ami.client import AmiClient
from ivr.ami.protocol import Action
from ivr.clock import FixedClock
from ivr.config.settings import Settings, SettingsError, WebUser
from ivr.screenpop.callbacks import CallbackSettings
from ivr.screenpop.directory import UserDirectory
from ivr.screenpop.dispatcher import Dispatcher
from ivr.screenpop.presence import Presence
from ivr.store import Store
from ivr.testing.fake_ami import FakeAmiServer, FakeAmiUser
from ivr.web.app import create_app
from ivr.web.auth import hash_password
from ivr.web.keys import DIALER

Client = TestClient[Any, Any]
WAIT = 10.0  # hang guard only
#: The manager.conf user docs/asterisk.md documents for Originate.
CB_USER, CB_SECRET = "ivr-callbacks", "cb-secret-for-tests"
LEAST_PRIVILEGE = FakeAmiUser(CB_SECRET, read=frozenset({"call"}),
                              write=frozenset({"originate"}))
PHONE, URGENT_PHONE, LATER_PHONE = "0901234567", "0907654321", "0908888888"
#: An agent who works the callbacks queue (the test users' agent1 does not).
CB_AGENT = WebUser("agent4", "agent", hash_password(PASSWORD, rounds=4), ("callbacks",),
                   ("Local/1004@agents",))
USERS_CB = (*USERS, CB_AGENT)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_seeded_store(f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}")
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def fake_ami() -> AsyncIterator[FakeAmiServer]:
    fake = FakeAmiServer(login_failure_delay=0.01)
    fake.users[CB_USER] = LEAST_PRIVILEGE
    async with fake:
        yield fake


@pytest.fixture
async def ami(fake_ami: FakeAmiServer) -> AsyncIterator[AmiClient]:
    client = AmiClient("127.0.0.1", fake_ami.port, CB_USER, CB_SECRET, events=("call",),
                       backoff_min=0.01, backoff_max=0.05)
    await client.start()
    await client.wait_connected(WAIT)
    try:
        yield client
    finally:
        await client.close()


async def _promise(store: Store, phone: str, reason: str, minutes_ago: int) -> int:
    """A callback as the IVR's request_callback lookup stores it, made some minutes ago."""
    earlier = Store(store.engine, FixedClock(NOW - timedelta(minutes=minutes_ago)))
    ref = await earlier.request_callback(call_id=f"call-{phone}", caller=phone,
                                         dialled="1900545454", language="vi", phone=phone,
                                         reason=reason)
    return int(ref) - 3_000_000


def _app(store: Store, tmp_path: Path, ami: AmiClient | None, **callbacks: Any) -> Any:
    dispatcher = Dispatcher(Presence(UserDirectory(USERS_CB)), store, FixedClock(NOW))
    (tmp_path / "audio").mkdir(exist_ok=True)
    settings = Settings(data_dir=tmp_path / "var", users=USERS_CB,
                        extra={"callbacks": {"caller_id": "1900545454", **callbacks}})
    return create_app(settings=settings, store=store, engine=NoEngine(), catalog=None,
                      dispatcher=dispatcher, clock=FixedClock(NOW), audio_dir=tmp_path / "audio",
                      environ={"IVR_SECRET_KEY": "test-secret-key-0123456789"},
                      callback_ami=ami)


async def _messages(ws: Any, until: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    while True:
        msg = await ws.receive_json(timeout=WAIT)
        if msg.get("type") == "callback":
            seen.append(msg)
            if msg["outcome"] == until:
                return seen


async def test_call_now_retries_a_customer_who_does_not_answer_and_saves_the_outcome(
        aiohttp_client: Any, store: Store, fake_ami: FakeAmiServer, ami: AmiClient,
        tmp_path: Path) -> None:
    first = await _promise(store, PHONE, "new_connection", minutes_ago=90)
    urgent = await _promise(store, URGENT_PHONE, "electrical_safety", minutes_ago=5)
    later = await _promise(store, LATER_PHONE, "meter_relocation", minutes_ago=30)
    app = _app(store, tmp_path, ami, retries=2, retry_interval=0)
    client: Client = await aiohttp_client(app)
    csrf = await login(client, "agent4")
    work = await (await client.get("/api/callbacks")).json()
    assert work["can_call"] is True
    assert [c["callback_id"] for c in work["callbacks"]] == [urgent, first, later]
    assert work["callbacks"][0]["urgent"] is True and not work["callbacks"][1]["urgent"]
    case_id = work["callbacks"][1]["case_id"]

    ws = await client.ws_connect("/ws/agent")
    fake_ami.dial_statuses[PHONE] = ["NOANSWER", "ANSWER"]
    resp = await client.post(f"/api/callbacks/{first}/call", headers={"X-CSRF-Token": csrf})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["ok"] is True
    assert await asyncio.wait_for(app[DIALER].wait(first), WAIT) == "answered"
    told = await _messages(ws, "answered")
    assert [m["outcome"] for m in told] == ["dialling", "no_answer", "waiting", "dialling",
                                            "answered"]

    # Two Originates as Asterisk wants them: the agent's interface first, then the
    # customer's number through the [ivr-callback] dialplan, async, with the case.
    originates = [a for a in fake_ami.actions if a.name == "Originate"]
    assert len(originates) == 2
    for sent in originates:
        h = sent.headers
        assert (h.get("Channel"), h.get("Context"), h.get("Exten"), h.get("Priority")) == (
            "Local/1004@agents", "ivr-callback", PHONE, "1")
        assert h.get("Async") == "true" and h.get("CallerID") == "1900545454"
        assert h.get("Timeout") == "30000"
        assert h.get_all("Variable") == [f"IVR_CASE_ID={case_id}",
                                         f"IVR_CALLBACK_ID={3_000_000 + first}"]
    logins = [a for a in fake_ami.actions if a.name == "Login"]
    assert [a.headers.get("Username") for a in logins] == [CB_USER]

    # The outcome is on the callback (off the worklist) and on the case.
    work = await (await client.get("/api/callbacks")).json()
    assert [c["callback_id"] for c in work["callbacks"]] == [urgent, later]
    case = await store.get_case(case_id)
    assert case is not None and case["status"] == "connected" and case["agent"] == "agent4"
    events = [(e["event"], e["detail"]) for e in case["events"]]
    assert events[-4:] == [("callback_dialling", "attempt 1"),
                           ("callback_no_answer", "DialStatus NOANSWER"),
                           ("callback_dialling", "attempt 2"),
                           ("callback_answered", "DialStatus ANSWER")]
    await ws.close()


async def test_a_busy_customer_is_given_up_after_the_retries(
        aiohttp_client: Any, store: Store, fake_ami: FakeAmiServer, ami: AmiClient,
        tmp_path: Path) -> None:
    callback = await _promise(store, PHONE, "contract_change", minutes_ago=10)
    app = _app(store, tmp_path, ami, retries=1, retry_interval=0)
    client: Client = await aiohttp_client(app)
    csrf = await login(client, "agent4")
    fake_ami.dial_statuses[PHONE] = ["BUSY", "NOANSWER"]
    await client.post(f"/api/callbacks/{callback}/call", headers={"X-CSRF-Token": csrf})
    assert await asyncio.wait_for(app[DIALER].wait(callback), WAIT) == "no_answer"
    work = await (await client.get("/api/callbacks")).json()
    assert work["callbacks"] == []  # given up: off the worklist, and said on the case
    found = await store.list_cases(queue="callbacks")
    assert [e["event"] for e in found[0]["events"]][-2:] == ["callback_no_answer",
                                                            "callback_given_up"]


async def test_the_agents_phone_not_answering_puts_the_callback_back(
        aiohttp_client: Any, store: Store, fake_ami: FakeAmiServer, ami: AmiClient,
        tmp_path: Path) -> None:
    callback = await _promise(store, PHONE, "contract_change", minutes_ago=10)
    app = _app(store, tmp_path, ami, retries=2, retry_interval=0)
    client: Client = await aiohttp_client(app)
    csrf = await login(client, "agent4")
    fake_ami.originate_reasons["Local/1004@agents"] = [5]  # the agent's line is busy
    await client.post(f"/api/callbacks/{callback}/call", headers={"X-CSRF-Token": csrf})
    assert await asyncio.wait_for(app[DIALER].wait(callback), WAIT) == "agent_busy"
    work = await (await client.get("/api/callbacks")).json()
    assert [(c["callback_id"], c["status"]) for c in work["callbacks"]] == [(callback, "open")]
    assert work["callbacks"][0]["attempts"][0]["outcome"] == "agent_busy"
    assert work["callbacks"][0]["attempts"][0]["reason"] == 5
    # one attempt only: the customer was never rung
    assert len([a for a in fake_ami.actions if a.name == "Originate"]) == 1


async def test_without_ami_call_now_says_it_needs_ami(aiohttp_client: Any, store: Store,
                                                       tmp_path: Path) -> None:
    callback = await _promise(store, PHONE, "contract_change", minutes_ago=10)
    client: Client = await aiohttp_client(_app(store, tmp_path, None))
    csrf = await login(client, "agent4")
    assert (await (await client.get("/api/callbacks")).json())["can_call"] is False
    resp = await client.post(f"/api/callbacks/{callback}/call", headers={"X-CSRF-Token": csrf})
    assert resp.status == 409
    assert "needs Asterisk's AMI" in (await resp.json())["error"]
    no_csrf = await client.post(f"/api/callbacks/{callback}/call")
    assert no_csrf.status == 403


async def test_an_agent_of_other_queues_neither_sees_nor_calls_the_callbacks(
        aiohttp_client: Any, store: Store, ami: AmiClient, tmp_path: Path) -> None:
    callback = await _promise(store, PHONE, "contract_change", minutes_ago=10)
    client: Client = await aiohttp_client(_app(store, tmp_path, ami))
    csrf = await login(client, "agent1")  # serves agents and safety, not callbacks
    assert (await (await client.get("/api/callbacks")).json())["callbacks"] == []
    resp = await client.post(f"/api/callbacks/{callback}/call", headers={"X-CSRF-Token": csrf})
    assert resp.status == 403
    boss: Client = await aiohttp_client(_app(store, tmp_path, ami))
    await login(boss, "boss")  # a supervisor sees every queue's
    found = (await (await boss.get("/api/callbacks")).json())["callbacks"]
    assert [c["callback_id"] for c in found] == [callback]


async def test_the_fake_asterisk_refuses_originate_without_write_originate(
        fake_ami: FakeAmiServer) -> None:
    fake_ami.users["reader"] = FakeAmiUser("r-secret", read=frozenset({"agent", "call"}),
                                           write=frozenset())
    client = AmiClient("127.0.0.1", fake_ami.port, "reader", "r-secret", backoff_min=0.01,
                       backoff_max=0.05)
    await client.start()
    try:
        await client.wait_connected(WAIT)
        answer = await client.send_action(Action.create("Originate", headers={
            "Channel": "Local/1001@agents", "Context": "ivr-callback", "Exten": PHONE,
            "Priority": 1, "Async": "true"}))
        assert not answer.ok and answer.message == "Permission denied"
    finally:
        await client.close()


def test_callback_settings_say_what_is_wrong_in_one_line() -> None:
    base = Settings(ami_username="ivr", ami_secret="s")
    assert CallbackSettings.from_settings(base).ami_username == "ivr"  # falls back
    with pytest.raises(SettingsError, match="unknown key 'retry'"):
        CallbackSettings.from_settings(replace(base, extra={"callbacks": {"retry": 2}}))
    with pytest.raises(SettingsError, match="retries must be a whole number"):
        CallbackSettings.from_settings(replace(base, extra={"callbacks": {"retries": "x"}}))
    got = CallbackSettings.from_settings(replace(base, extra={"callbacks": {
        "ami_username": CB_USER, "retry_interval": "90s"}}))
    assert (got.ami_username, got.retry_interval) == (CB_USER, 90.0)
