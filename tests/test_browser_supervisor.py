"""The supervisor page in a real browser (Debian's chromium, driven by Playwright): the
live queue panel, the reports for today and for 7 days, a CSV link that downloads the
table shown, no CSP violation. Screenshot in ``tests/artifacts/supervisor-reports.png``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from test_browser_pop import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, STEP_MS, _log_in
from web_helpers import CALLER, NOW, NoEngine, open_seeded_store

from ivr.calls import CallRecord, CaseDraft, Outcome, PathStep
from ivr.channels.channel import TransferResult, TransferStatus
from ivr.clock import FixedClock
from ivr.config.settings import Settings
from ivr.flows.compile.driver import compile_flows
from ivr.prompts.catalog import PromptCatalog
from ivr.screenpop.directory import UserDirectory
from ivr.screenpop.dispatcher import Dispatcher
from ivr.screenpop.presence import Presence
from ivr.store.lookups import known_lookups
from ivr.web.app import create_app
from ivr.web.auth import web_users

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason=f"{CHROMIUM} missing (apt-get install chromium)"),
]


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[str, dict[str, str]]]:
    store = await open_seeded_store(f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}")
    for n, intent in enumerate(("billing", "billing", "outage_report")):
        case = await store.open_case(CaseDraft(
            call_id=f"b-{n}", caller=CALLER, dialled="1900545454", language="vi",
            intent=intent, queue="agents"))
        await store.finish_transfer(case, TransferResult(TransferStatus.COMPLETED,
                                                         raw_status="CONTINUE"))
    start = NOW - timedelta(hours=1)
    path = tuple(PathStep("hotline", x, start) for x in
                 ("greeting", "main_menu", "billing", "anything_else", "survey"))
    await store.save_call(CallRecord(
        call_id="s-1", flow="hotline", flow_version="v1", caller=CALLER, dialled="1900545454",
        language="vi", started_at=start, ended_at=start + timedelta(seconds=50),
        outcome=Outcome.SELF_SERVED, path=path, channel="fastagi"))
    await store.record_survey(call_id="s-1", caller=CALLER, score=4)
    flows, diags = compile_flows((ROOT / "config" / "flows.yaml").read_bytes(),
                                 "config/flows.yaml", lookups=known_lookups(),
                                 catalog=PromptCatalog.load(ROOT / "config" / "prompts.yaml"))
    assert flows is not None, diags
    settings = replace(Settings(), data_dir=tmp_path / "var", host="127.0.0.1", web_port=0)
    users, passwords = web_users(settings)
    dispatcher = Dispatcher(Presence(UserDirectory(users)), store, FixedClock(NOW))
    app = create_app(settings=settings, store=store, engine=NoEngine(), catalog=None,
                     dispatcher=dispatcher, clock=FixedClock(NOW),
                     audio_dir=tmp_path / "no-audio", flowset=lambda: flows)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", passwords
    finally:
        await runner.cleanup()
        await store.close()


async def test_supervisor_sees_live_queue_and_reports_for_a_period(
    site: tuple[str, dict[str, str]]
) -> None:
    async_playwright = pytest.importorskip("playwright.async_api").async_playwright
    base, passwords = site
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            ctx = await browser.new_context(viewport={"width": 1280, "height": 900},
                                            accept_downloads=True)
            page = await ctx.new_page()
            page.set_default_timeout(STEP_MS)
            violations: list[str] = []
            page.on("console", lambda m: violations.append(m.text)
                    if "Content Security Policy" in m.text or "Trusted" in m.text else None)
            await _log_in(page, base, "supervisor", passwords["supervisor"])
            await page.goto(f"{base}/supervisor")
            await page.wait_for_selector("#live tr td")
            await page.wait_for_selector("#transfers tr td:has-text('Billing')")
            row = await page.inner_text("#transfers tr:first-child")
            assert row.split("\t")[:3] == ["Billing", "2", "2"]
            assert "4" in await page.inner_text("#satisfaction-tiles")
            assert "Calls · today" in await page.inner_text("#report-title")
            await page.screenshot(path=str(ARTIFACTS / "supervisor-reports.png"), full_page=True,
                                  animations="disabled")

            await page.select_option("#range", "7d")
            await page.wait_for_selector("#report-title:has-text('7d')")
            href = await page.get_attribute("a.csv[data-report=transfers]", "href")
            assert href == "/api/reports/transfers?range=7d&format=csv&table=by_reason"
            async with page.expect_download() as info:
                await page.click("a.csv[data-report=transfers]")
            download = await info.value
            text = Path(await download.path()).read_text(encoding="utf-8")
            assert text.splitlines()[0].startswith("reason,transfers,completed")
            assert "billing,2,2" in text

            assert not await page.is_visible("#from")  # only for a custom period
            await page.select_option("#range", "custom")
            assert await page.is_visible("#from")
            await page.fill("#from", "2026-11-01")
            await page.fill("#to", "2026-11-02")
            await page.click("#period button[type=submit]")
            await page.wait_for_selector("#report-title:has-text('2026-11-01 to 2026-11-02')")
            assert "Nothing yet" in await page.inner_text("#transfers")
            assert not violations, violations
        finally:
            await browser.close()


