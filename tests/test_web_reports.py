"""The call report over HTTP: supervisors only, a window in hours, the store's numbers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from web_helpers import CALLER, NOW, login

from ivr.calls import CallRecord, Outcome, PathStep
from ivr.store import Store

pytest_plugins = ("web_fixtures",)

Client = TestClient[Any, Any]


async def save(store: Store, n: int, outcome: Outcome, *, hours_ago: float,
               last_node: str = "main_menu", synthetic: bool = False) -> None:
    start = NOW - timedelta(hours=hours_ago)
    await store.save_call(CallRecord(
        call_id=f"web-{n}", flow="hotline", flow_version="v1", caller=CALLER,
        dialled="1900545454", language="vi", started_at=start,
        ended_at=start + timedelta(seconds=30), outcome=outcome,
        path=(PathStep("hotline", "greeting", start), PathStep("hotline", last_node, start)),
        channel="fastagi", synthetic=synthetic))


async def test_call_report_is_for_supervisors_over_a_window_in_hours(
    aiohttp_client: Any, make_app: Any, web_store: Store
) -> None:
    await save(web_store, 1, Outcome.SELF_SERVED, hours_ago=1)
    await save(web_store, 2, Outcome.ABANDONED, hours_ago=2, last_node="enter_code")
    await save(web_store, 3, Outcome.TRANSFERRED, hours_ago=3)
    await save(web_store, 4, Outcome.SELF_SERVED, hours_ago=48)  # outside the default day

    anonymous: Client = await aiohttp_client(make_app())
    assert (await anonymous.get("/api/reports/calls")).status == 401

    agent: Client = await aiohttp_client(make_app())
    await login(agent, "agent1")
    assert (await agent.get("/api/reports/calls")).status == 403

    client: Client = await aiohttp_client(make_app())
    await login(client, "boss")
    page = await (await client.get("/supervisor")).text()
    assert 'id="report-tiles"' in page and "Where callers drop" in page
    resp = await client.get("/api/reports/calls?hours=24")
    assert resp.status == 200
    day = await resp.json()
    assert day["period"] == "last 24 hours" and day["total"] == 3
    assert day["outcomes"] == {"self_served": 1, "transferred": 1, "abandoned": 1, "failed": 0}
    assert day["containment_rate"] == 1 / 3
    assert day["drop_off"]["nodes"] == [{"flow": "hotline", "node": "enter_code", "calls": 1}]

    week = await (await client.get("/api/reports/calls?hours=168")).json()
    assert week["total"] == 4 and week["containment_rate"] == 0.5

    for bad in ("0", "721", "-1", "x", "1.5", ""):
        resp = await client.get(f"/api/reports/calls?hours={bad}")
        assert resp.status == 400, bad
        assert "hours must be" in (await resp.json())["error"]


async def test_load_test_calls_count_only_when_asked(
    aiohttp_client: Any, make_app: Any, web_store: Store
) -> None:
    await save(web_store, 1, Outcome.SELF_SERVED, hours_ago=1)
    for n in range(2, 6):  # ivr loadtest's calls: the caller hung up on each
        await save(web_store, n, Outcome.ABANDONED, hours_ago=1, synthetic=True)
    client: Client = await aiohttp_client(make_app())
    await login(client, "boss")

    real = await (await client.get("/api/reports/calls")).json()
    assert (real["total"], real["containment_rate"], real["synthetic"]) == (1, 1.0, "exclude")
    assert real["drop_off"]["nodes"] == []
    every = await (await client.get("/api/reports/calls?synthetic=include")).json()
    assert (every["total"], every["outcomes"]["abandoned"], every["synthetic"]) == (
        5, 4, "include")
    assert every["drop_off"]["nodes"] == [{"flow": "hotline", "node": "main_menu", "calls": 4}]

    calls = (await (await client.get("/api/calls")).json())["calls"]
    assert [(c["call_id"], c["synthetic"]) for c in calls] == [("web-1", False)]
    calls = (await (await client.get("/api/calls?synthetic=include")).json())["calls"]
    assert sorted(c["call_id"] for c in calls if c["synthetic"]) == [
        "web-2", "web-3", "web-4", "web-5"]

    for path in ("/api/reports/calls", "/api/calls", "/api/cases"):
        resp = await client.get(f"{path}?synthetic=yes")
        assert resp.status == 400
        assert (await resp.json())["error"] == "synthetic must be include or exclude"
