"""A real browser on a phone-sized screen (Debian's chromium, driven by Playwright): a
customer with no login checks an outage by area and by code, switches to English, reads
a bill with the right phone digits, is refused with wrong ones, reports an outage and
gets its ticket, then keeps asking until the polite limit message. Screenshots go to
``tests/artifacts/``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from test_browser_pop import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, STEP_MS
from web_helpers import NOW, NoEngine, open_seeded_store

from ivr.clock import FixedClock
from ivr.config.settings import Settings
from ivr.screenpop.directory import UserDirectory
from ivr.screenpop.dispatcher import Dispatcher
from ivr.screenpop.presence import Presence
from ivr.store import Store
from ivr.store.demo import OUTAGE, UNPAID
from ivr.store.requests import report_id
from ivr.web.app import create_app
from ivr.web.auth import web_users
from ivr.web.selfservice import MAX_REQUESTS, TEXTS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason=f"{CHROMIUM} missing (apt-get install chromium)"),
]
#: A phone's screen (an iPhone 12-14 in CSS pixels).
PHONE = {"width": 390, "height": 844}


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[str, Store]]:
    store = await open_seeded_store(f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}")
    settings = replace(Settings(), data_dir=tmp_path / "var", host="127.0.0.1", web_port=0)
    users, _ = web_users(settings)
    dispatcher = Dispatcher(Presence(UserDirectory(users)), store, FixedClock(NOW))
    app = create_app(settings=settings, store=store, engine=NoEngine(), catalog=None,
                     dispatcher=dispatcher, clock=FixedClock(NOW),
                     audio_dir=tmp_path / "no-audio")
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}", store
    finally:
        await runner.cleanup()
        await store.close()


async def _ask(page: Any, form: str, **fields: str) -> str:
    """Fill and send one form; the text it shows once the answer is in."""
    for name, value in fields.items():
        if name == "kind":
            await page.select_option(f"{form} select[name=kind]", value)
        else:
            await page.fill(f"{form} [name={name}]", value)
    await page.click(f"{form} button[type=submit]")  # disabled until the answer is shown
    await page.wait_for_selector(f"{form} button[type=submit]:enabled")
    return str(await page.inner_text(f"{form} .ss-result"))


async def _fits(page: Any) -> None:
    widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{widths[0]} px wide on a {widths[1]} px screen"


async def test_self_service_on_a_phone(site: tuple[str, Store]) -> None:
    async_playwright = pytest.importorskip("playwright.async_api").async_playwright
    base, store = site
    ARTIFACTS.mkdir(exist_ok=True)
    vi, en = TEXTS["vi"], TEXTS["en"]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await (await browser.new_context(viewport=PHONE, is_mobile=True,
                                                    has_touch=True)).new_page()
            page.set_default_timeout(STEP_MS)
            violations: list[str] = []
            page.on("console", lambda m: violations.append(m.text)
                    if "Content Security Policy" in m.text or "Trusted" in m.text else None)

            await page.goto(f"{base}/login")
            await page.click("a[href='/self-service']")  # linked from the login page
            await page.wait_for_selector("h1")
            assert await page.inner_text("h1") == vi["heading"]
            shown = await _ask(page, "#ss-outage", code="võ thị sáu")  # by area
            assert shown.startswith("Đang mất điện tại Phường Võ Thị Sáu"), shown
            shown = await _ask(page, "#ss-outage", code=OUTAGE.code)  # by customer code
            assert shown.startswith("Đang mất điện tại "), shown
            assert "sự cố đường dây" in shown
            await _fits(page)
            await page.screenshot(path=str(ARTIFACTS / "selfservice-outage-vi.png"),
                                  full_page=True)

            await page.click("a.ss-lang")  # English one click away
            await page.wait_for_url(f"{base}/self-service?lang=en")
            right = UNPAID.phones[0][-4:]
            shown = await _ask(page, "#ss-bill", code=UNPAID.code, last_digits=right)
            assert shown.startswith(f"Bill for {UNPAID.name}."), shown
            assert "Total due" in shown and "Meter index" in shown
            await page.screenshot(path=str(ARTIFACTS / "selfservice-bill-en.png"),
                                  full_page=True)
            wrong = f"{(int(right) + 1) % 10000:04d}"
            shown = await _ask(page, "#ss-bill", code=UNPAID.code, last_digits=wrong)
            assert shown == en["refused"]
            assert await page.get_attribute("#ss-bill .ss-result", "class") == \
                "ss-result refused"
            await page.screenshot(path=str(ARTIFACTS / "selfservice-refused-en.png"),
                                  full_page=True)

            shown = await _ask(page, "#ss-report", kind="outage", code=OUTAGE.code,
                               phone=OUTAGE.phones[0])
            message = await page.inner_text("#ss-report .ss-result p")
            ticket = message.rsplit(" ", 1)[-1].rstrip(".")
            assert message == en["ticket"].format(ticket=ticket)
            assert "Power back by" in shown  # the report joined the known outage
            assert report_id(ticket) is not None
            assert (await store.stats())["outage_reports"] == 1
            await page.locator("#ss-report").scroll_into_view_if_needed()
            await page.screenshot(path=str(ARTIFACTS / "selfservice-ticket-en.png"))

            # 6 of the minute's requests are used (a refused check counts two): ask on
            # until the limit answers, which must happen within the rest of the budget.
            for _ in range(MAX_REQUESTS):
                shown = await _ask(page, "#ss-outage", code=OUTAGE.code)
                if shown == en["limited"]:
                    break
            assert shown == en["limited"]
            await page.locator("#ss-outage").scroll_into_view_if_needed()
            await page.screenshot(path=str(ARTIFACTS / "selfservice-limited-en.png"))
            await _fits(page)
            assert violations == []
        finally:
            await browser.close()
