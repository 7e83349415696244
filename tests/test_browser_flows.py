"""The flow page in a real browser (Debian's chromium, driven by Playwright), on the
composed service: the supervisor opens the demo flow, adds a main-menu option that plays
a new prompt, sees the error at its line (and publish refused), adds the prompt, tries
the call, publishes; a softphone call hears the new option at once; the supervisor rolls
back. Screenshots of the flow page go to ``tests/artifacts/flows/`` (printed at the end)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from publish_support import copy_config, with_storm_option, with_storm_prompt

from ivr.config.settings import Settings
from ivr.service import Service, open_core

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
#: A hang guard for one UI step on a loaded machine, never a speed assertion.
STEP_MS = 30_000
PINNED = {"IVR_NOW": "2026-11-26T10:00:00+07:00", "IVR_SECRET_KEY": "k" * 32}

pytestmark = [
    pytest.mark.browser, pytest.mark.dates,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason=f"{CHROMIUM} missing (apt-get install chromium)"),
]


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[tuple[Service, Path]]:
    config = copy_config(tmp_path / "config")
    settings = Settings(data_dir=tmp_path / "var", agi_port=0, web_port=0,
                        flows_path=config / "flows.yaml", prompts_path=config / "prompts.yaml",
                        seed_demo=True)
    core = await open_core(settings, PINNED)
    svc = Service(core, PINNED, build_prompts=False)
    await svc.start()
    try:
        yield svc, config
    finally:
        await svc.stop(grace=2.0)


async def _log_in(page: Any, base: str, name: str, password: str) -> None:
    await page.goto(f"{base}/login")
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")


async def test_the_supervisor_edits_tries_publishes_and_rolls_back(
        site: tuple[Service, Path], tmp_path: Path) -> None:
    async_playwright = pytest.importorskip("playwright.async_api").async_playwright
    svc, config = site
    base = f"http://127.0.0.1:{svc.web_port}"
    password = svc.demo_credentials["supervisor"]
    first = svc.core.flows.current.version
    flows = with_storm_option((config / "flows.yaml").read_text(encoding="utf-8"))
    prompts = with_storm_prompt((config / "prompts.yaml").read_text(encoding="utf-8"))
    error_line = flows.splitlines().index("        play: storm_news") + 1
    # The pytest tmp dir is pruned after a few runs (and shared on a busy machine):
    # tests/artifacts/flows/ keeps the last run's, as the other browser tests do.
    shots = Path(__file__).resolve().parent / "artifacts" / "flows"
    shots.mkdir(parents=True, exist_ok=True)

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
            page = await ctx.new_page()
            page.set_default_timeout(STEP_MS)
            violations: list[str] = []
            page.on("console", lambda m: violations.append(m.text)
                    if "Content Security Policy" in m.text or "Trusted" in m.text else None)
            await _log_in(page, base, "supervisor", password)
            await page.wait_for_url(f"{base}/supervisor")
            await page.click("nav a[href='/supervisor/flows']")
            await page.wait_for_selector("#validation.ok")
            assert await page.inner_text("#live-version") == first
            assert await page.input_value("#text-flows") == \
                (config / "flows.yaml").read_text(encoding="utf-8")
            await page.screenshot(path=str(shots / "flows-open.png"), full_page=True)

            # The new option, without its prompt yet: the error shows at its line.
            await page.fill("#text-flows", flows)
            marked = page.locator("#editor-flows .gutter div.error")
            await marked.first.wait_for()
            assert await marked.all_inner_texts() == [str(error_line)]
            item = page.locator("#diagnostics li.error")
            assert await item.get_attribute("data-line") == str(error_line)
            assert "unknown prompt 'storm_news'" in await item.inner_text()
            await page.click("#publish")
            await page.wait_for_selector("#publish-result.bad")
            assert "the flows have errors" in await page.inner_text("#publish-result")
            await item.click()  # jumps to the line
            await page.screenshot(path=str(shots / "flows-error-at-line.png"), full_page=True)

            # The fix: the prompt in prompts.yaml.
            await page.click("#tab-prompts")
            await page.fill("#text-prompts", prompts)
            await page.wait_for_selector("#validation.ok")
            assert await page.locator(".gutter div.error").count() == 0

            # Try it: the simulated call on the text being edited hears the new prompt.
            await page.fill("#try-keys", "- 5")
            await page.click("#try")
            heard = page.locator("#transcript li[data-prompt=storm_news]")
            await heard.wait_for()
            assert "Tin bão" in await heard.inner_text()
            assert svc.core.flows.current.version == first  # trying published nothing
            await page.screenshot(path=str(shots / "flows-tried.png"), full_page=True)

            await page.fill("#note", "storm bulletin on key 5")
            await page.click("#publish")
            await page.wait_for_selector("#publish-result.ok")
            second = svc.core.flows.current.version
            assert second != first
            assert await page.inner_text("#live-version") == second
            assert (config / "prompts.yaml").read_text(encoding="utf-8") == prompts
            await page.screenshot(path=str(shots / "flows-published.png"), full_page=True)

            # A softphone call hears the new option at once.
            phone = await ctx.new_page()
            phone.set_default_timeout(STEP_MS)
            await phone.goto(f"{base}/softphone")
            await phone.select_option("#flow", "hotline")
            await phone.fill("#caller", "0901234567")
            await phone.fill("#dialled", "1900545454")
            await phone.click("#call")
            await phone.wait_for_selector("#log li.prompt .pid:text-is('main_menu')")
            await phone.click('#keypad button[data-key="5"]')
            await phone.wait_for_selector("#log li.prompt .pid:text-is('storm_news')")
            await phone.screenshot(path=str(shots / "softphone-storm-news.png"))
            await phone.close()

            # History: diff against the live version, then roll back to the first.
            row = page.locator(f"#history tr[data-version='{first}']")
            await row.locator("button:text-is('Diff')").click()
            await page.wait_for_selector("#diff span.add:has-text('storm_news')")
            await page.screenshot(path=str(shots / "flows-diff.png"), full_page=True)
            await row.locator("button:text-is('Roll back')").click()
            await page.wait_for_selector("#publish-result:has-text('Rolled back')")
            assert svc.core.flows.current.version == first
            await page.wait_for_function(
                f"document.getElementById('live-version').textContent === '{first}'")
            assert "storm_news" not in await page.input_value("#text-flows")
            await page.screenshot(path=str(shots / "flows-rolled-back.png"), full_page=True)
            assert violations == []
        finally:
            await browser.close()
    history = await svc.core.store.flow_versions()
    assert [(h["version"], h["published_by"]) for h in history] == [
        (first, "supervisor"), (second, "supervisor"), (first, "file")]
    print(f"\nflow page screenshots: {shots}")
