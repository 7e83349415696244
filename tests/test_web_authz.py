"""Who may act on a case: an agent cannot answer, end, read or annotate a call offered to
another agent, nor a case outside their queues, whatever case id they send."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient
from web_helpers import login, open_case

from ivr.channels.channel import TransferRequest, TransferStatus
from ivr.web.keys import QUEUE

pytest_plugins = ("web_fixtures",)

Client = TestClient[Any, Any]


async def test_an_agent_cannot_take_over_a_call_offered_to_another(
    aiohttp_client: Any, make_app: Any, web_store: Any
) -> None:
    app = make_app()
    owner: Client = await aiohttp_client(app)
    intruder: Client = await aiohttp_client(app)
    outsider: Client = await aiohttp_client(app)
    await login(owner, "agent2")
    token = await login(intruder, "agent1")
    outsider_token = await login(outsider, "agent3")  # serves "safety" only
    mine = await owner.ws_connect("/ws/agent")
    theirs = await intruder.ws_connect("/ws/agent")
    assert (await mine.receive_json(timeout=2))["type"] == "hello"
    assert (await theirs.receive_json(timeout=2))["type"] == "hello"
    await mine.send_json({"type": "availability", "available": True})
    await mine.receive_json(timeout=2)

    case_id = await open_case(web_store)
    call = asyncio.create_task(app[QUEUE].transfer(TransferRequest("agents", case_id)))
    assert (await mine.receive_json(timeout=2))["state"] == "ringing"

    for kind in ("answer", "end"):
        await theirs.send_json({"type": kind, "case_id": case_id})
        reply = await theirs.receive_json(timeout=2)
        assert (reply["type"], reply["ok"]) == (kind, False)
    url = f"/api/cases/{case_id}"
    assert (await intruder.get(url)).status == 403
    resp = await intruder.post(url, json={"notes": "mine now"}, headers={"X-CSRF-Token": token})
    assert resp.status == 403
    resp = await outsider.post(url, json={"notes": "x"},
                               headers={"X-CSRF-Token": outsider_token})
    assert resp.status == 403
    assert (await web_store.get_case(case_id))["notes"] in (None, "")

    await mine.send_json({"type": "answer", "case_id": case_id})  # the real agent still can
    assert (await mine.receive_json(timeout=2))["ok"] is True
    assert (await mine.receive_json(timeout=2))["state"] == "connected"
    await mine.send_json({"type": "end", "case_id": case_id})
    assert (await mine.receive_json(timeout=2))["ok"] is True
    assert (await call).status is TransferStatus.COMPLETED
    await mine.close()
    await theirs.close()


async def test_an_agent_rung_for_a_case_of_another_queue_can_work_on_it(
    aiohttp_client: Any, make_app: Any, web_store: Any
) -> None:
    # Asterisk's queues.conf, not the web config, decides whom a call rings: agent2
    # (configured for "agents" and "hotline") rung for a "safety" case must be able to
    # read it and save notes; agent3, who serves "safety" but was not rung, must not.
    case_id = await open_case(web_store, queue="safety", intent="electrical_safety")
    await web_store.add_case_event(case_id, "ringing", agent="agent2", detail="Local/1002")
    rung: Client = await aiohttp_client(make_app())
    token = await login(rung, "agent2")
    assert (await rung.get(f"/api/cases/{case_id}")).status == 200
    resp = await rung.post(f"/api/cases/{case_id}", json={"notes": "dây điện rơi"},
                           headers={"X-CSRF-Token": token})
    assert resp.status == 200
    other: Client = await aiohttp_client(make_app())
    await login(other, "agent3")
    assert (await other.get(f"/api/cases/{case_id}")).status == 403
