"""The web app over HTTP: health, login/logout, CSRF, roles, the case API, audio files."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient
from web_helpers import NOW, PASSWORD, USERS, csrf_of, login, open_case
from yarl import URL

from ivr.clock import FixedClock
from ivr.screenpop.directory import UserDirectory
from ivr.screenpop.dispatcher import Dispatcher
from ivr.screenpop.presence import Presence
from ivr.web import views
from ivr.web.auth import hash_password
from ivr.web.keys import CODEC
from ivr.web.sessions import Session, password_stamp

pytest_plugins = ("web_fixtures",)

Client = TestClient[Any, Any]


async def test_healthz_needs_no_login(aiohttp_client: Any, make_app: Any) -> None:
    client = await aiohttp_client(make_app())
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}


async def test_pages_refuse_anonymous_users(aiohttp_client: Any, make_app: Any) -> None:
    client = await aiohttp_client(make_app())
    for path in ("/", "/agent", "/softphone", "/supervisor", "/audio/ivr/vi/welcome.wav"):
        resp = await client.get(path, allow_redirects=False)
        assert resp.status == 302, path
        assert resp.headers["Location"].startswith("/login"), path
    for path in ("/api/cases/C-2026-000001", "/api/cases?caller=0901234567", "/api/calls",
                 "/api/me", "/ws/agent", "/ws/softphone"):
        resp = await client.get(path)
        assert resp.status == 401, path


async def test_login_sets_a_safe_cookie_and_logout_ends_the_session(
    aiohttp_client: Any, make_app: Any
) -> None:
    client: Client = await aiohttp_client(make_app())
    token = await csrf_of(client)
    resp = await client.post("/login", data={"name": "agent1", "password": PASSWORD,
                                             "csrf_token": token}, allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == "/agent"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = await client.get("/agent")
    assert page.status == 200
    html = await page.text()
    assert "Agent console" in html and "agent1" in html
    token = await csrf_of(client, "/agent")
    resp = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/login"
    assert (await client.get("/api/me")).status == 401


async def test_wrong_password_and_unknown_user_are_refused_alike(
    aiohttp_client: Any, make_app: Any
) -> None:
    client: Client = await aiohttp_client(make_app())
    for name, password in (("agent1", "nope"), ("ghost", PASSWORD)):
        token = await csrf_of(client)
        resp = await client.post("/login", data={"name": name, "password": password,
                                                 "csrf_token": token})
        assert resp.status == 401
        assert "Wrong user name or password." in await resp.text()
    assert (await client.get("/api/me")).status == 401


async def test_login_is_rate_limited(aiohttp_client: Any, make_app: Any) -> None:
    client: Client = await aiohttp_client(make_app())
    statuses = []
    for _ in range(6):
        token = await csrf_of(client)
        resp = await client.post("/login", data={"name": "agent2", "password": "guess",
                                                 "csrf_token": token})
        statuses.append(resp.status)
    assert statuses == [401] * 5 + [429]
    token = await csrf_of(client)
    resp = await client.post("/login", data={"name": "agent2", "password": PASSWORD,
                                             "csrf_token": token})
    assert resp.status == 429  # even the right password waits out the window


async def test_state_changes_need_the_csrf_token(
    aiohttp_client: Any, make_app: Any, web_store: Any
) -> None:
    client: Client = await aiohttp_client(make_app())
    resp = await client.post("/login", data={"name": "agent1", "password": PASSWORD},
                             allow_redirects=False)
    assert resp.status == 303  # the login form too (no login CSRF): back to a fresh form
    assert (await client.get("/api/me")).status == 401
    token = await login(client, "agent1")
    case_id = await open_case(web_store)
    url = f"/api/cases/{case_id}"
    resp = await client.post(url, json={"notes": "x"})
    assert resp.status == 403
    resp = await client.post(url, json={"notes": "x"}, headers={"X-CSRF-Token": "forged"})
    assert resp.status == 403
    resp = await client.post(url, json={"notes": "x"}, headers={"X-CSRF-Token": token})
    assert resp.status == 200
    resp = await client.post("/logout", allow_redirects=False)
    assert resp.status == 403
    assert (await client.get("/api/me")).status == 200


async def test_agents_cannot_open_supervisor_pages(aiohttp_client: Any, make_app: Any) -> None:
    client: Client = await aiohttp_client(make_app())
    await login(client, "agent1")
    assert (await client.get("/supervisor", allow_redirects=False)).status == 403
    assert (await client.get("/api/calls")).status == 403
    assert (await client.get("/api/agents")).status == 403


async def test_supervisor_sees_calls_agents_and_every_case(
    aiohttp_client: Any, make_app: Any, web_store: Any
) -> None:
    safety_case = await open_case(web_store, queue="safety", intent="electrical_safety")
    client: Client = await aiohttp_client(make_app())
    await login(client, "boss")
    page = await client.get("/supervisor")
    assert page.status == 200 and "Recent calls" in await page.text()
    assert (await client.get("/api/calls")).status == 200
    agents = await (await client.get("/api/agents")).json()
    assert [a["name"] for a in agents["agents"]] == ["agent1", "agent2", "agent3"]
    assert (await client.get(f"/api/cases/{safety_case}")).status == 200


async def test_case_api_limits_agents_to_their_queues(
    aiohttp_client: Any, make_app: Any, web_store: Any
) -> None:
    billing = await open_case(web_store, queue="agents", intent="billing")
    safety = await open_case(web_store, queue="safety", intent="electrical_safety")
    client: Client = await aiohttp_client(make_app())
    await login(client, "agent2")  # serves "agents" only
    resp = await client.get(f"/api/cases/{billing}")
    assert resp.status == 200
    case = await resp.json()
    assert case["account"] == "PE01000123456"
    assert case["facts"]["account"]["name"] == "Nguyễn Văn An"
    assert (await client.get(f"/api/cases/{safety}")).status == 403
    listed = await (await client.get("/api/cases?caller=0901234567")).json()
    assert [c["id"] for c in listed["cases"]] == [billing]
    assert (await client.get("/api/cases/C-9999-999999")).status == 404
    assert (await client.get("/api/cases?caller=abc")).status == 400


async def test_an_agent_cannot_read_a_case_another_agent_holds(
    aiohttp_client: Any, make_app: Any, web_store: Any
) -> None:
    case_id = await open_case(web_store)
    await web_store.add_case_event(case_id, "connected", agent="agent1", detail="Local/1001@agents")
    client: Client = await aiohttp_client(make_app())
    await login(client, "agent2")
    assert (await client.get(f"/api/cases/{case_id}")).status == 403
    listed = await (await client.get("/api/cases?caller=0901234567")).json()
    assert listed["cases"] == []


async def test_notes_and_disposition_are_saved_to_the_case(
    aiohttp_client: Any, make_app: Any, web_store: Any
) -> None:
    case_id = await open_case(web_store)
    client: Client = await aiohttp_client(make_app())
    token = await login(client, "agent1")
    headers = {"X-CSRF-Token": token}
    resp = await client.post(f"/api/cases/{case_id}", headers=headers,
                             json={"notes": "Khách hỏi hóa đơn tháng 11",
                                   "disposition": "resolved"})
    assert resp.status == 200, await resp.text()
    saved = await web_store.get_case(case_id)
    assert saved["notes"] == "Khách hỏi hóa đơn tháng 11"
    assert saved["disposition"] == "resolved"
    assert saved["agent"] == "agent1"
    assert saved["events"][-1]["event"] == "notes_saved"
    bad = await client.post(f"/api/cases/{case_id}", headers=headers,
                            json={"disposition": "<script>"})
    assert bad.status == 400
    assert "disposition must be one of" in (await bad.json())["error"]
    assert (await client.post(f"/api/cases/{case_id}", headers=headers, data="x")).status == 400


async def test_audio_is_served_from_the_prompt_build_and_cannot_escape_it(
    aiohttp_client: Any, make_app: Any, tmp_path: Any
) -> None:
    app = make_app()
    wav = tmp_path / "audio" / "ivr" / "vi" / "welcome.wav"
    wav.parent.mkdir(parents=True)
    wav.write_bytes(b"RIFF....WAVE")
    (tmp_path / "secret.wav").write_bytes(b"secret")
    client: Client = await aiohttp_client(app)
    await login(client, "agent1")
    resp = await client.get("/audio/ivr/vi/welcome.wav")
    assert resp.status == 200 and await resp.read() == b"RIFF....WAVE"
    assert resp.headers["Content-Type"] == "audio/wav"
    for path in ("/audio/../secret.wav", "/audio/%2e%2e/secret.wav", "/audio/ivr/vi/nope.wav",
                 "/audio/ivr/vi/welcome.txt", "/audio//etc/passwd"):
        assert (await client.get(path)).status == 404, path


async def test_pages_carry_security_headers_and_render_vietnamese(
    aiohttp_client: Any, make_app: Any
) -> None:
    client: Client = await aiohttp_client(make_app())
    await login(client, "agent1")
    resp = await client.get("/softphone")
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert "require-trusted-types-for 'script'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Content-Type"].startswith("text/html; charset=utf-8")
    html = await resp.text()
    assert "Nguyễn Văn An" in html  # demo callers listed by name


async def test_websockets_from_another_site_are_refused(
    aiohttp_client: Any, make_app: Any
) -> None:
    client: Client = await aiohttp_client(make_app())
    await login(client, "agent1")
    resp = await client.get("/ws/agent", headers={
        "Origin": "http://evil.example", "Connection": "Upgrade", "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert resp.status == 403
    ws = await client.ws_connect("/ws/agent", origin=str(client.make_url("")).rstrip("/"))
    assert (await ws.receive_json(timeout=2))["type"] == "hello"
    await ws.close()


async def test_login_next_only_goes_to_local_pages(aiohttp_client: Any, make_app: Any) -> None:
    client: Client = await aiohttp_client(make_app())
    resp = await client.get("/supervisor?tab=cases", allow_redirects=False)
    location = URL(resp.headers["Location"])
    assert location.path == "/login" and location.query["next"] == "/supervisor?tab=cases"
    # Browsers treat "/\\evil" as "//evil" and drop tabs/newlines: each is another site.
    for target in ("/\\evil.example", "/\\/evil.example", "/\t/evil.example", "//evil.example",
                   "https://evil.example/", "/agent\n", "javascript:alert(1)"):
        token = await csrf_of(client)
        resp = await client.post("/login", data={"name": "agent1", "password": PASSWORD,
                                                 "csrf_token": token, "next": target},
                                 allow_redirects=False)
        assert resp.status == 302, target
        assert resp.headers["Location"] == "/agent", target
        await client.post("/logout", data={"csrf_token": await csrf_of(client, "/agent")})
    token = await csrf_of(client)
    resp = await client.post("/login", data={"name": "agent1", "password": PASSWORD,
                                             "csrf_token": token, "next": "/softphone?x=1"},
                             allow_redirects=False)
    assert resp.headers["Location"] == "/softphone?x=1"


async def test_parallel_guesses_cannot_outrun_the_login_limit(
    aiohttp_client: Any, make_app: Any
) -> None:
    client: Client = await aiohttp_client(make_app())
    token = await csrf_of(client)

    async def guess(i: int) -> int:
        resp = await client.post("/login", data={"name": "agent2", "password": f"guess{i}",
                                                 "csrf_token": token})
        return resp.status

    statuses = await asyncio.gather(*(guess(i) for i in range(12)))
    assert sorted(statuses) == [401] * 5 + [429] * 7


async def test_one_password_on_many_names_is_rate_limited_too(
    aiohttp_client: Any, make_app: Any
) -> None:
    client: Client = await aiohttp_client(make_app())
    token = await csrf_of(client)
    statuses = []
    for i in range(21):
        resp = await client.post("/login", data={"name": f"user{i}", "password": "Password1",
                                                 "csrf_token": token})
        statuses.append(resp.status)
    assert statuses == [401] * 20 + [429]


async def test_logout_revokes_the_cookie_and_closes_the_sessions_websockets(
    aiohttp_client: Any, make_app: Any
) -> None:
    client: Client = await aiohttp_client(make_app())
    token = await login(client, "agent1")
    stolen = client.session.cookie_jar.filter_cookies(client.make_url("/"))["ivr_session"].value
    ws = await client.ws_connect("/ws/agent")
    assert (await ws.receive_json(timeout=2))["type"] == "hello"
    resp = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert resp.status == 302
    closed = await ws.receive(timeout=2)
    assert closed.type == WSMsgType.CLOSE and closed.data == 4401
    # Someone who copied the cookie before the logout gets nothing with it.
    client.session.cookie_jar.update_cookies({"ivr_session": stolen})
    assert (await client.get("/api/me")).status == 401
    assert (await client.get("/agent", allow_redirects=False)).status == 302
    # Logging in again works as usual.
    await login(client, "agent1")
    assert (await client.get("/api/me")).status == 200


class _BrokenStore:
    """The real store, except that reading a case blows up (a database gone bad)."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def get_case(self, case_id: str) -> Any:
        raise RuntimeError("secret detail: postgresql://ivr:hunter2@db/ivr 0901234567")


async def test_errors_show_no_traceback_and_private_data_is_not_cached(
    aiohttp_client: Any, make_app: Any, web_store: Any
) -> None:
    asyncio.get_running_loop().set_debug(True)  # aiohttp prints tracebacks in debug mode
    client: Client = await aiohttp_client(make_app(store=_BrokenStore(web_store)))
    await login(client, "agent1")
    resp = await client.get("/api/cases/C-2026-000001")
    assert resp.status == 500
    body = await resp.text()
    assert "Traceback" not in body and "hunter2" not in body and "0901234567" not in body
    assert (await resp.json())["error"]
    assert resp.headers["Content-Security-Policy"]
    for path in ("/agent", "/api/me"):
        resp = await client.get(path)
        assert resp.headers["Cache-Control"] == "no-store", path
    resp = await client.get("/static/app.css")
    assert resp.headers.get("Cache-Control") != "no-store"


async def test_behind_a_tls_proxy_the_cookie_is_secure_and_hsts_is_sent(
    aiohttp_client: Any, make_app: Any, web_settings: Any
) -> None:
    settings = replace(web_settings, extra={"web": {"secure_cookies": True}})
    client: Client = await aiohttp_client(make_app(settings=settings))
    resp = await client.get("/login")
    assert "Secure" in resp.headers["Set-Cookie"]
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
    plain: Client = await aiohttp_client(make_app())
    resp = await plain.get("/login")
    assert "Secure" not in resp.headers["Set-Cookie"]
    assert "Strict-Transport-Security" not in resp.headers


async def test_a_console_closes_when_its_session_expires(
    aiohttp_client: Any, make_app: Any
) -> None:
    app = make_app()
    client: Client = await aiohttp_client(app)
    # Cookie expiry is whole epoch seconds; int(time.time()) + 1 left anywhere from 1 s
    # to a few ms to connect. 2-3 s is room to connect on a busy machine, and the wait
    # for the close is a hang guard.
    ending = Session("agent1", "token-0123456789", math.ceil(time.time()) + 2,
                     stamp=password_stamp(USERS[0].password_hash))
    client.session.cookie_jar.update_cookies({"ivr_session": app[CODEC].encode(ending)})
    ws = await client.ws_connect("/ws/agent")
    assert (await ws.receive_json(timeout=2))["type"] == "hello"
    closed = await ws.receive(timeout=10)
    assert closed.type == WSMsgType.CLOSE and closed.data == 4401


async def test_unknown_names_cost_the_same_bcrypt_check_as_real_ones(
    aiohttp_client: Any, make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Users hashed below cost 12 (demo users: 8; these: 4) were refused much faster than
    # unknown names checked against a fixed cost-12 dummy: timing told which names exist.
    # The same bcrypt cost is the same work; the timings themselves are compared by
    # bench/timing_budgets.py (a ratio of timings here would flake on a busy machine).
    real_check = views.check_password
    checked: list[str] = []

    def spy(password: str, password_hash: str) -> bool:
        checked.append(password_hash)
        return real_check(password, password_hash)

    monkeypatch.setattr(views, "check_password", spy)
    client: Client = await aiohttp_client(make_app())
    for name in ("agent1", "nobody"):
        token = await csrf_of(client)
        resp = await client.post("/login", data={"name": name, "password": "wrong",
                                                 "csrf_token": token})
        assert resp.status == 401
    # "$2b$04$...": the cost is the third field
    assert [h.split("$")[2] for h in checked] == ["04", "04"], checked


async def test_stale_forms_lead_somewhere_useful(aiohttp_client: Any, make_app: Any) -> None:
    client: Client = await aiohttp_client(make_app())
    stale = await csrf_of(client)
    token = await login(client, "agent1")  # logging in (say, in another tab) renews it
    await client.post("/logout", data={"csrf_token": token})
    resp = await client.post("/login", data={"name": "agent1", "password": PASSWORD,
                                             "csrf_token": stale, "next": "/softphone"},
                             allow_redirects=False)
    assert resp.status == 303
    location = URL(resp.headers["Location"])
    assert location.path == "/login" and location.query["next"] == "/softphone"
    page = await client.get(location)
    assert "The form had expired; please log in again." in await page.text()
    assert (await client.get("/api/me")).status == 401  # and nobody got logged in
    resp = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/login"


async def test_an_agent_on_the_supervisor_page_gets_a_way_back(
    aiohttp_client: Any, make_app: Any
) -> None:
    client: Client = await aiohttp_client(make_app())
    await login(client, "agent1")
    resp = await client.get("/supervisor")
    assert resp.status == 403
    html = await resp.text()
    assert "This page is for supervisors." in html and 'href="/agent"' in html


async def test_behind_a_trusted_proxy_the_login_limit_counts_each_client(
    aiohttp_client: Any, make_app: Any, web_settings: Any
) -> None:
    settings = replace(web_settings, extra={"web": {"trusted_proxy": True}})
    client: Client = await aiohttp_client(make_app(settings=settings))
    token = await csrf_of(client)

    async def attempt(forwarded: str, password: str = "guess") -> int:
        resp = await client.post("/login", headers={"X-Forwarded-For": forwarded},
                                 data={"name": "agent2", "password": password,
                                       "csrf_token": token}, allow_redirects=False)
        return resp.status

    # The client may invent the first entries; the proxy appends the real address last.
    assert [await attempt(f"10.9.9.{i}, 203.0.113.7") for i in range(6)] == [401] * 5 + [429]
    assert await attempt("198.51.100.4", PASSWORD) == 302  # a colleague is not locked out


async def test_a_login_link_opened_while_logged_in_goes_on_to_its_page(
    aiohttp_client: Any, make_app: Any
) -> None:
    client: Client = await aiohttp_client(make_app())
    await login(client, "agent1")
    resp = await client.get("/login?next=/softphone", allow_redirects=False)
    assert resp.headers["Location"] == "/softphone"
    resp = await client.get("/login?next=//evil.example", allow_redirects=False)
    assert resp.headers["Location"] == "/agent"


async def test_a_new_password_in_the_config_ends_sessions_made_with_the_old_one(
    aiohttp_client: Any, make_app: Any, web_store: Any
) -> None:
    client: Client = await aiohttp_client(make_app())
    await login(client, "agent1")
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))["ivr_session"].value
    # The same service restarted with agent1's password changed (agent2's kept).
    users = tuple(replace(u, password_hash=hash_password("a new secret", rounds=4))
                  if u.name == "agent1" else u for u in USERS)
    restarted = make_app(dispatcher=Dispatcher(Presence(UserDirectory(users)), web_store,
                                                FixedClock(NOW)))
    again: Client = await aiohttp_client(restarted)
    again.session.cookie_jar.update_cookies({"ivr_session": cookie})
    assert (await again.get("/api/me")).status == 401
    other: Client = await aiohttp_client(restarted)
    await login(other, "agent2")  # untouched users log in and stay in as before
    assert (await other.get("/api/me")).status == 200
