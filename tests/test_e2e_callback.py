"""A callback from the worklist, end to end over TCP through the composed service: a demo
call on FastAGI asks for a callback (service request -> "press 2 for a callback"), the
agent sees it on the worklist, presses "call now", and the service originates through
the fake AMI server with the least-privilege ``callbacks:`` user from the service config
(the screen-pop user has no write class, so an Originate from it would be refused);
the customer answers on the second try and the outcome is saved."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import pytest

from ivr.config.settings import Settings, WebUser
from ivr.service import Service, open_core
from ivr.testing.callers import PatientCaller
from ivr.testing.fake_ami import FakeAmiServer, FakeAmiUser
from ivr.testing.fake_asterisk import run_call
from ivr.web.auth import hash_password

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"
CALLER = "0901234567"
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
PINNED = {"IVR_NOW": "2026-11-26T10:00:00+07:00"}  # a weekday morning
WAIT = 10.0  # hang guard only

pytestmark = pytest.mark.dates


async def test_a_promised_callback_is_called_back_with_the_least_privilege_ami_user(
        tmp_path: Path) -> None:
    async with FakeAmiServer(login_failure_delay=0.01) as ami:
        # manager.conf as docs/asterisk.md: the screen-pop user reads, writes nothing.
        ami.users[ami.username] = FakeAmiUser(ami.secret, read=frozenset({"call", "agent"}),
                                              write=frozenset())
        ami.users["ivr-callbacks"] = FakeAmiUser("cb-secret", read=frozenset({"call"}),
                                                 write=frozenset({"originate"}))
        ami.dial_statuses[CALLER] = ["NOANSWER", "ANSWER"]
        agent = WebUser("agent1", "agent", hash_password(PASSWORD, rounds=4),
                        ("hotline", "callbacks"), ("PJSIP/1001",))
        settings = Settings(
            data_dir=tmp_path, agi_port=0, web_port=0,
            flows_path=ROOT / "config" / "flows.yaml",
            prompts_path=ROOT / "config" / "prompts.yaml",
            ami_port=ami.port, ami_username=ami.username, ami_secret=ami.secret,
            users=(agent,),
            extra={"callbacks": {"ami_username": "ivr-callbacks", "ami_secret": "cb-secret",
                                 "caller_id": "1900545454", "retries": 1,
                                 "retry_interval": "0s"}},
        )
        core = await open_core(settings, PINNED)
        service = Service(core, {}, build_prompts=False)
        await service.start()
        try:
            await ami.wait_logins(2)  # the screen-pop feed and the callbacks user
            # service requests -> meter relocation -> "2": call me back
            await run_call("127.0.0.1", service.agi_port, PatientCaller("-422"),
                           callerid=CALLER, extension="1900545454", uniqueid="cb.1")
            web = f"http://127.0.0.1:{service.web_port}"
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(cookie_jar=jar) as session:
                async with session.get(f"{web}/login") as resp:
                    token = CSRF.search(await resp.text())
                assert token
                async with session.post(f"{web}/login", allow_redirects=False, data={
                        "name": "agent1", "password": PASSWORD,
                        "csrf_token": token.group(1)}) as resp:
                    assert resp.status == 302
                async with session.get(f"{web}/agent") as resp:
                    csrf = CSRF.search(await resp.text())
                assert csrf
                ws = await session.ws_connect(f"{web}/ws/agent")
                async with session.get(f"{web}/api/callbacks") as resp:
                    work = await resp.json()
                assert work["can_call"] is True
                (cb,) = work["callbacks"]
                assert (cb["phone"], cb["reason"]) == (CALLER, "meter_relocation")
                async with session.post(f"{web}/api/callbacks/{cb['callback_id']}/call",
                                        headers={"X-CSRF-Token": csrf.group(1)}) as resp:
                    assert resp.status == 200, await resp.text()
                outcomes = []
                while not outcomes or outcomes[-1] not in ("answered", "failed",
                                                           "no_answer", "busy"):
                    msg = await ws.receive_json(timeout=WAIT)
                    if msg.get("type") == "callback" and msg["outcome"] != "waiting" \
                            and msg["outcome"] != "dialling":
                        outcomes.append(msg["outcome"])
                    if msg.get("type") == "callback" and msg["outcome"] == "no_answer":
                        outcomes.clear()  # the first try; a retry follows
                assert outcomes == ["answered"]
                await ws.close()
            logins = [a.headers.get("Username") for a in ami.actions if a.name == "Login"]
            assert sorted(logins) == ["ivr", "ivr-callbacks"]
            originates = [a for a in ami.actions if a.name == "Originate"]
            assert [a.headers.get("Channel") for a in originates] == ["PJSIP/1001"] * 2
            case = await core.store.get_case(str(cb["case_id"]))
            assert case is not None and case["status"] == "connected"
            assert [e["event"] for e in case["events"]][-2:] == ["callback_dialling",
                                                                "callback_answered"]
        finally:
            await asyncio.wait_for(service.stop(grace=2.0), 30)
