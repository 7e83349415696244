"""A real browser (Debian's chromium, driven by Playwright): a caller on the safety line
describes the hazard over FastAGI (the fake Asterisk writes the recording as Asterisk
would), the case pops on the agent's card with the recording, and Chromium loads it as
playable audio of the recorded length; the supervisor's case list plays it too. Saves
a screenshot to ``tests/artifacts/``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from agi_fixtures import serving
from aiohttp import web
from test_browser_pop import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, STEP_MS, _log_in
from web_helpers import NOW, ROOT, open_seeded_store

from ivr.calls import CallRecord
from ivr.clock import FixedClock
from ivr.config.settings import Settings
from ivr.engine.engine import Engine
from ivr.flows.source import FlowSource
from ivr.prompts.catalog import PromptCatalog
from ivr.screenpop.directory import UserDirectory, builtin_interface
from ivr.screenpop.dispatcher import Dispatcher
from ivr.screenpop.events import PopEvent, PopState
from ivr.screenpop.presence import Presence
from ivr.store import Store
from ivr.store.lookups import build_lookups
from ivr.testing.callers import PatientCaller, Speech
from ivr.testing.fake_asterisk import run_call
from ivr.web.app import create_app
from ivr.web.auth import web_users

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason=f"{CHROMIUM} missing (apt-get install chromium)"),
]


@dataclass
class Site:
    base: str
    passwords: dict[str, str]
    store: Store
    engine: Engine
    dispatcher: Dispatcher
    interface: str
    """agent1's queue-member interface: where the pop goes."""


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    store = await open_seeded_store(f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}")
    settings = replace(Settings(), data_dir=tmp_path / "var", host="127.0.0.1", web_port=0)
    catalog = PromptCatalog.load(ROOT / "config" / "prompts.yaml")
    lookups = build_lookups(store)
    flows = FlowSource.load(ROOT / "config" / "flows.yaml", lookups=lookups.names(),
                            catalog=catalog)
    engine = Engine(flows, lookups, catalog, store, FixedClock(NOW),
                    unsaved_path=tmp_path / "unsaved.jsonl",
                    recordings_dir=str(settings.recordings_path))
    users, passwords = web_users(settings)
    agent1 = next(u for u in users if u.name == "agent1")
    dispatcher = Dispatcher(Presence(UserDirectory(users)), store, FixedClock(NOW))
    app = create_app(settings=settings, store=store, engine=engine, catalog=catalog,
                     dispatcher=dispatcher, clock=FixedClock(NOW),
                     audio_dir=tmp_path / "no-audio", flow_names=lambda: list(flows.current.flows))
    runner = web.AppRunner(app)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = runner.addresses[0][1]
    interface = agent1.interfaces[0] if agent1.interfaces else builtin_interface("agent1")
    try:
        yield Site(f"http://127.0.0.1:{port}", passwords, store, engine, dispatcher, interface)
    finally:
        await runner.cleanup()
        await store.close()


async def _safety_call_with_a_description(engine: Engine) -> CallRecord:
    records: list[CallRecord] = []

    async def handler(channel: Any) -> None:
        records.append(await engine.run(channel))

    async with serving(handler) as server:
        await run_call("127.0.0.1", server.port, PatientCaller("1", speech=[Speech(3.0, "#")]),
                       dnid="1900545454")
        await server.wait_idle()
    return records[0]


#: Resolves with the audio element's duration once Chromium has read its header.
DURATION = """(sel) => new Promise((resolve, reject) => {
  const a = document.querySelector(sel);
  if (!a) return reject(new Error("no audio element " + sel));
  if (a.readyState >= 1) return resolve(a.duration);
  a.addEventListener("loadedmetadata", () => resolve(a.duration));
  a.addEventListener("error", () => reject(new Error("audio error " + (a.error && a.error.code))));
  a.load();
})"""


async def test_the_agent_card_and_the_supervisor_play_the_callers_recording(site: Site) -> None:
    async_playwright = pytest.importorskip("playwright.async_api").async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            agent = await (await browser.new_context(
                viewport={"width": 1280, "height": 900})).new_page()
            agent.set_default_timeout(STEP_MS)
            violations: list[str] = []
            agent.on("console", lambda m: violations.append(m.text)
                     if "Content Security Policy" in m.text or "Trusted" in m.text else None)
            await _log_in(agent, site.base, "agent1", site.passwords["agent1"])
            await agent.wait_for_url(f"{site.base}/agent")
            await agent.wait_for_selector("#conn.ok")
            await agent.click("#avail-on")
            await agent.wait_for_selector("#avail-on.on")

            record = await _safety_call_with_a_description(site.engine)
            assert record.case_id is not None and record.transfer_queue == "safety"
            # Asterisk's queue rings agent1's phone: the pop the AMI feed would make.
            await site.dispatcher.handle(PopEvent(PopState.RINGING, record.case_id,
                                                  site.interface))
            await agent.wait_for_selector("#card:not([hidden])")
            await agent.wait_for_selector("#recordings-block:not([hidden]) #recordings audio")
            seconds = await agent.evaluate(DURATION, "#recordings audio")
            assert seconds == pytest.approx(2.8, abs=0.05)  # 3 s spoken, less the # tone
            assert "3 s" in await agent.inner_text("#recordings")
            await agent.screenshot(path=str(ARTIFACTS / "agent-card-recording.png"),
                                   full_page=True, animations="disabled")

            boss = await (await browser.new_context()).new_page()
            boss.set_default_timeout(STEP_MS)
            await _log_in(boss, site.base, "supervisor", site.passwords["supervisor"])
            await boss.goto(f"{site.base}/supervisor")
            await boss.wait_for_selector("#cases audio")
            assert await boss.evaluate(DURATION, "#cases audio") == pytest.approx(2.8, abs=0.05)
            assert violations == []
        finally:
            await browser.close()
