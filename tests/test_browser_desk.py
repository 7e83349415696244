"""A real browser (Debian's chromium, driven by Playwright) through an agent's shift:
a call rings (the Web Audio ring started, the tab title changed), the agent answers,
saves a disposition (after-call work ends), takes a second call, presses Ready after
it, then calls back a customer from the worklist through AMI Originate to a fake AMI
server that answers as Asterisk 22 does. Screenshots go to the test's tmp dir."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from web_helpers import CALLER, HCMC_HOTLINE, NOW, PASSWORD, USERS, live_engine, open_seeded_store

from ivr.ami.client import AmiClient
from ivr.clock import FixedClock
from ivr.config.settings import Settings, WebUser
from ivr.screenpop.card import CardWords
from ivr.screenpop.directory import UserDirectory
from ivr.screenpop.dispatcher import Dispatcher
from ivr.screenpop.presence import Presence
from ivr.store import Store
from ivr.testing.fake_ami import FakeAmiServer, FakeAmiUser
from ivr.web.app import create_app
from ivr.web.auth import hash_password

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
#: A hang guard for one UI step on a loaded machine, not a speed limit.
STEP_MS = 15_000
CALLBACK_PHONE = "0907654321"
#: The agent on shift: the hotline queue and the callbacks the IVR files.
AGENT = WebUser("agent5", "agent", hash_password(PASSWORD, rounds=4),
                ("hotline", "callbacks"), ("Local/1005@agents",))
SHIFT_USERS = (*USERS, AGENT)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason=f"{CHROMIUM} missing (apt-get install chromium)"),
]


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[str, Store, FakeAmiServer]]:
    """The real app (engine, store, catalog) with the test users and the agent on
    shift (queue member Local/1005@agents) and a fake AMI for callbacks, on 127.0.0.1."""
    store = await open_seeded_store(f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}")
    live = live_engine(store, tmp_path)
    fake = FakeAmiServer(login_failure_delay=0.01)
    fake.users["ivr-callbacks"] = FakeAmiUser("cb-secret", read=frozenset({"call"}),
                                              write=frozenset({"originate"}))
    await fake.start()
    ami = AmiClient("127.0.0.1", fake.port, "ivr-callbacks", "cb-secret", events=("call",),
                    backoff_min=0.01, backoff_max=0.05)
    await ami.start()
    settings = Settings(data_dir=tmp_path / "var", users=SHIFT_USERS,
                        extra={"callbacks": {"caller_id": HCMC_HOTLINE, "retry_interval": 0}})
    dispatcher = Dispatcher(Presence(UserDirectory(SHIFT_USERS)), store, FixedClock(NOW),
                            words=CardWords(lambda: live.flows.current, live.catalog))
    app = create_app(settings=settings, store=store, engine=live.engine, catalog=live.catalog,
                     dispatcher=dispatcher, clock=FixedClock(NOW),
                     audio_dir=tmp_path / "no-audio", flow_names=live.flow_names,
                     environ={"IVR_SECRET_KEY": "test-secret-key-0123456789"},
                     callback_ami=ami)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", store, fake
    finally:
        await runner.cleanup()
        await ami.close()
        await fake.stop()
        await store.close()


async def _log_in(page: Any, base: str, name: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")


async def _ring_agent(phone: Any) -> None:
    """The caller rings the hotline from the softphone and presses 0 for an agent."""
    await phone.wait_for_selector("#call:not([disabled])")
    await phone.fill("#caller", CALLER)
    await phone.fill("#dialled", HCMC_HOTLINE)
    await phone.click("#call")
    await phone.wait_for_selector("#log li.prompt")
    await phone.click('#keypad button[data-key="0"]')


async def test_an_agents_shift_ring_wrap_up_ready_and_a_callback(
    site: tuple[str, Store, FakeAmiServer], tmp_path: Path
) -> None:
    async_playwright = pytest.importorskip("playwright.async_api").async_playwright
    base, store, fake = site
    shots = tmp_path / "screenshots"
    shots.mkdir()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            agent = await (await browser.new_context(viewport={"width": 1280, "height": 1000})
                           ).new_page()
            agent.set_default_timeout(STEP_MS)
            violations: list[str] = []
            agent.on("console", lambda m: violations.append(m.text)
                     if "Content Security Policy" in m.text or "Trusted" in m.text else None)
            await _log_in(agent, base, AGENT.name)
            await agent.wait_for_url(f"{base}/agent")
            await agent.wait_for_selector("#conn.ok")
            await agent.click("#avail-on")  # a click: the page may make sound from now on
            await agent.wait_for_selector("#avail-on.on")
            # Availability is the server's: a reload keeps it.
            await agent.reload()
            await agent.wait_for_selector("#conn.ok")
            await agent.wait_for_selector("#avail-on.on")
            await agent.click("#empty")  # the reloaded page's first click unlocks audio

            phone = await (await browser.new_context()).new_page()
            phone.set_default_timeout(STEP_MS)
            await _log_in(phone, base, "boss")
            await phone.goto(f"{base}/softphone")

            # 1. The first call rings: sound and title.
            await _ring_agent(phone)
            await agent.wait_for_selector("#card[data-state=ringing]")
            await agent.wait_for_selector("#ring[data-playing=true]", state="attached")
            await agent.wait_for_function(
                "Number(document.getElementById('ring').dataset.sounded) > 0")
            assert await agent.get_attribute("#ring", "data-audio") == "running"
            assert (await agent.title()).startswith("(1) Incoming call")
            await agent.screenshot(path=str(shots / "1-ringing.png"), full_page=True,
                                   animations="disabled")
            await agent.click("#answer")
            await agent.wait_for_selector("#card[data-state=connected]")
            assert await agent.get_attribute("#ring", "data-playing") == "false"
            assert not (await agent.title()).startswith("(1)")
            await agent.click("#end")
            # After-call work: the card stays, the next call waits.
            await agent.wait_for_selector("#card[data-state=completed]")
            await agent.wait_for_selector("#wrapup:not([hidden])")
            await agent.wait_for_selector("#desk-state:not([hidden])")
            await agent.screenshot(path=str(shots / "2-after-call-work.png"), full_page=True,
                                   animations="disabled")
            await agent.fill("#notes", "Khách hỏi về hóa đơn.")
            await agent.select_option("#disposition", "information_given")
            await agent.click("#notes-form button[type=submit]")
            await agent.wait_for_selector("#card", state="hidden")  # wrap-up over
            await agent.wait_for_selector("#avail-on.on")
            await agent.wait_for_selector("#today td:has-text('Information given')")

            # 2. The second call, with the ring muted: counted, not sounded; taken, ended,
            # then "Ready" without a disposition.
            await agent.click("#mute")
            await agent.wait_for_selector("#mute:has-text('Ring muted')")
            sounded = await agent.get_attribute("#ring", "data-sounded")
            rings = int(await agent.get_attribute("#ring", "data-count") or 0)
            await _ring_agent(phone)
            await agent.wait_for_selector("#card[data-state=ringing]")
            assert (await agent.title()).startswith("(1) Incoming call")
            assert int(await agent.get_attribute("#ring", "data-count") or 0) > rings
            assert await agent.get_attribute("#ring", "data-sounded") == sounded
            await agent.click("#answer")
            await agent.wait_for_selector("#card[data-state=connected]")
            await agent.click("#end")
            await agent.wait_for_selector("#wrapup:not([hidden])")
            await agent.click("#ready")
            await agent.wait_for_selector("#card", state="hidden")
            await agent.wait_for_selector("#avail-on.on")
            await agent.reload()  # the mute setting is kept in this browser
            await agent.wait_for_selector("#conn.ok")
            await agent.wait_for_selector("#mute:has-text('Ring muted')")
            await agent.wait_for_selector("#avail-on.on")

            # 3. A callback the IVR promised, called back from the worklist.
            await store.request_callback(call_id="call-cb", caller=CALLBACK_PHONE,
                                         dialled=HCMC_HOTLINE, language="vi",
                                         phone=CALLBACK_PHONE, reason="electrical_safety")
            await agent.click("#callbacks-refresh")
            row = agent.locator("#callbacks tr", has_text=CALLBACK_PHONE)
            await row.wait_for()
            assert "URGENT" in await row.inner_text()
            await agent.screenshot(path=str(shots / "3-worklist.png"), full_page=True,
                                   animations="disabled")
            await row.locator("button").click()
            await agent.wait_for_selector("#callback-msg[data-outcome=answered]")
            assert "Customer answered" in await agent.inner_text("#callback-msg")
            await agent.wait_for_selector("#callbacks td:has-text('No callbacks waiting')")
            sent = [a for a in fake.actions if a.name == "Originate"]
            assert [(a.headers.get("Channel"), a.headers.get("Exten")) for a in sent] == [
                ("Local/1005@agents", CALLBACK_PHONE)]
            await agent.screenshot(path=str(shots / "4-called-back.png"), full_page=True,
                                   animations="disabled")
            assert violations == []
        finally:
            await browser.close()
    assert sorted(p.name for p in shots.iterdir()) == [
        "1-ringing.png", "2-after-call-work.png", "3-worklist.png", "4-called-back.png"]
