"""The agent's desk over the real app, websockets and SQLite store: availability that
survives a reload, after-call work that holds the next call back until a disposition
or "ready" (and is timed), case search, the agent's day."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text
from web_helpers import ACCOUNT, CALLER, NOW, USERS, NoEngine, login, open_case

from ivr.channels.channel import TransferRequest, TransferStatus
from ivr.config.settings import Settings
from ivr.screenpop.builtin_queue import BuiltinQueue
from ivr.screenpop.directory import UserDirectory
from ivr.screenpop.dispatcher import Dispatcher
from ivr.screenpop.presence import Presence
from ivr.store import Store
from ivr.store.seed import seed
from ivr.web.app import create_app

Client = TestClient[Any, Any]
#: Hang guards only (a busy machine may be slow): no duration is asserted.
WAIT = 10.0


class StepClock:
    """A pinned clock the test moves on by hand, so after-call work has a known length."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> StepClock:
    return StepClock(NOW)


@pytest.fixture
async def store(tmp_path: Path, clock: StepClock) -> AsyncIterator[Store]:
    s = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}", clock=clock)
    await s.migrate()
    await seed(s, n_accounts=30, seed=1)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def parts(store: Store, clock: StepClock, tmp_path: Path) -> tuple[Any, Dispatcher, BuiltinQueue]:
    dispatcher = Dispatcher(Presence(UserDirectory(USERS)), store, clock)
    queue = BuiltinQueue(dispatcher, ring_seconds=30.0)
    (tmp_path / "audio").mkdir()
    app = create_app(settings=Settings(data_dir=tmp_path / "var", users=USERS), store=store,
                     engine=NoEngine(), catalog=None, dispatcher=dispatcher, clock=clock,
                     audio_dir=tmp_path / "audio", builtin_queue=queue,
                     environ={"IVR_SECRET_KEY": "test-secret-key-0123456789"})
    return app, dispatcher, queue


async def _console(client: Client) -> Any:
    ws = await client.ws_connect("/ws/agent")
    hello = await ws.receive_json(timeout=WAIT)
    assert hello["type"] == "hello"
    return ws, hello


async def _next(ws: Any, kind: str, **match: Any) -> dict[str, Any]:
    """The next message of this type (and fields): others in between are skipped."""
    while True:
        msg = await ws.receive_json(timeout=WAIT)
        if msg.get("type") == kind and all(msg.get(k) == v for k, v in match.items()):
            return dict(msg)


async def test_availability_survives_a_reload(aiohttp_client: Any, parts: Any,
                                              store: Store) -> None:
    app, dispatcher, _queue = parts
    client: Client = await aiohttp_client(app)
    await login(client, "agent1")
    ws, hello = await _console(client)
    assert hello["available"] is False and hello["state"] == "away"  # a new agent is away
    await ws.send_json({"type": "availability", "available": True})
    assert (await _next(ws, "availability"))["available"] is True
    await ws.close()
    await asyncio.sleep(0)
    assert dispatcher.presence.online() == {}  # no console open: offered nothing
    ws, hello = await _console(client)  # the page reloaded
    assert hello["available"] is True and hello["state"] == "available"
    assert dispatcher.presence.is_available("agent1")
    await ws.send_json({"type": "availability", "available": False})
    assert (await _next(ws, "availability"))["available"] is False
    await ws.close()
    _ws, hello = await _console(client)
    assert hello["available"] is False


async def test_after_call_work_holds_the_next_call_until_a_disposition(
        aiohttp_client: Any, parts: Any, store: Store, clock: StepClock) -> None:
    app, _dispatcher, queue = parts
    client: Client = await aiohttp_client(app)
    csrf = await login(client, "agent1")
    ws, _hello = await _console(client)
    await ws.send_json({"type": "availability", "available": True})
    await _next(ws, "availability")

    first = await open_case(store)
    call = asyncio.create_task(queue.transfer(TransferRequest("agents", first, timeout=60)))
    assert (await _next(ws, "pop"))["state"] == "ringing"
    await ws.send_json({"type": "answer", "case_id": first})
    assert (await _next(ws, "pop"))["state"] == "connected"
    await ws.send_json({"type": "end", "case_id": first})
    ended = await _next(ws, "pop")
    assert ended["state"] == "completed"
    assert ended["desk"] == {"type": "desk", "state": "wrap_up", "available": False,
                             "case_id": first}
    assert (await call).status is TransferStatus.COMPLETED

    # The page reloads mid wrap-up: the ended call's card comes back, still wrapping up.
    await ws.close()
    ws, hello = await _console(client)
    assert (hello["state"], hello["case_id"]) == ("wrap_up", first)
    back = await _next(ws, "pop")
    assert (back["state"], back["case"]["id"]) == ("completed", first)

    # A second caller waits: the agent is wrapping up the first.
    second = await open_case(store, caller="0902345678", account="PE01000654321")
    call = asyncio.create_task(queue.transfer(TransferRequest("agents", second, timeout=60)))
    for _ in range(5):
        await asyncio.sleep(0.02)
    assert queue.current("agent1") is None and not call.done()

    clock.at = NOW + timedelta(seconds=42)
    resp = await client.post(f"/api/cases/{first}", json={"disposition": "information_given",
                                                          "notes": "bill explained"},
                             headers={"X-CSRF-Token": csrf})
    assert resp.status == 200, await resp.text()
    saved = await resp.json()
    assert saved["desk"]["state"] == "available" and saved["desk"]["wrap_up_seconds"] == 42
    # ... and only now is the waiting caller offered to the agent
    ringing = await _next(ws, "pop", state="ringing")
    assert ringing["case"]["id"] == second
    await ws.send_json({"type": "answer", "case_id": second})
    await _next(ws, "pop", state="connected")
    await ws.send_json({"type": "end", "case_id": second})
    await _next(ws, "pop", state="completed")
    await call
    clock.at = NOW + timedelta(seconds=50)
    await ws.send_json({"type": "ready"})  # no disposition: "ready" ends it too
    assert (await _next(ws, "desk"))["state"] == "available"

    day = await (await client.get("/api/desk/today")).json()
    assert [(c["id"], c["wrap_up_seconds"]) for c in day["cases"]] == [
        (second, 8.0), (first, 42.0)]
    stored = await store.get_case(first)
    assert stored is not None and stored["disposition"] == "information_given"
    assert stored["events"][-1]["event"] == "wrap_up_done"
    assert stored["events"][-1]["detail"] == "after-call work 42s (disposition)"


async def test_search_by_phone_number_or_customer_code(aiohttp_client: Any, parts: Any,
                                                       store: Store) -> None:
    app, _dispatcher, _queue = parts
    client: Client = await aiohttp_client(app)
    await login(client, "agent1")
    case_id = await open_case(store)
    for q in (CALLER, "+84" + CALLER[1:], "090 123 4567"):
        found = await (await client.get("/api/desk/search", params={"q": q})).json()
        assert found["by"] == "phone number"
        assert [c["id"] for c in found["cases"]] == [case_id], q
    found = await (await client.get("/api/desk/search", params={"q": ACCOUNT.lower()})).json()
    assert found["by"] == "customer code" and [c["id"] for c in found["cases"]] == [case_id]
    bad = await client.get("/api/desk/search", params={"q": "<script>"})
    assert bad.status == 400
    assert "phone number" in (await bad.json())["error"]


async def test_a_broken_desk_table_never_keeps_the_console_shut(
        aiohttp_client: Any, parts: Any, store: Store) -> None:
    app, dispatcher, _queue = parts
    async with store.engine.begin() as conn:  # the table gone: every desk query fails
        await conn.execute(text("DROP TABLE agent_states"))
    client: Client = await aiohttp_client(app)
    await login(client, "agent1")
    ws, hello = await _console(client)
    assert hello["available"] is False  # unknown: away, and the console is open
    await ws.send_json({"type": "availability", "available": True})
    assert (await _next(ws, "availability"))["available"] is True
    assert dispatcher.presence.is_available("agent1")  # calls still reach the agent
