"""Shared by the publishing tests: a copy of the shipped config to edit, the demo edit
(a main-menu option and the new prompt it plays), logging in over plain HTTP."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
NEW_OPTION = '            "4": service_requests\n'
NEW_NODE = """
      # Added by the publishing tests: a storm bulletin on key 5.
      storm_news:
        play: storm_news
        next: hangup
"""
NEW_PROMPT = """  storm_news:
    vi: "Tin bão: lịch cắt điện khẩn cấp được cập nhật mỗi giờ."
    en: "Storm bulletin: emergency outage schedules are updated every hour."
"""
TOKEN = "ci-token-0123456789"
_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def copy_config(to: Path) -> Path:
    """flows.yaml, prompts.yaml and scenarios.yaml copied into ``to`` (never edit the
    repository's own files)."""
    to.mkdir(parents=True, exist_ok=True)
    for name in ("flows.yaml", "prompts.yaml", "scenarios.yaml"):
        shutil.copy(CONFIG / name, to / name)
    return to


def with_storm_option(flows: str) -> str:
    """The demo flows with key 5 on the main menu playing the new prompt."""
    assert NEW_OPTION in flows
    out = flows.replace(NEW_OPTION, NEW_OPTION + '            "5": storm_news\n', 1)
    anchor = "      switch_language:\n"
    return out.replace(anchor, NEW_NODE.lstrip("\n") + "\n" + anchor, 1)


def with_storm_prompt(prompts: str) -> str:
    return prompts.rstrip("\n") + "\n" + NEW_PROMPT


async def login(session: aiohttp.ClientSession, base: str, name: str, password: str) -> str:
    """Log in through the real form; returns the CSRF token for later writes."""
    async with session.get(f"{base}/login") as resp:
        token = _CSRF.search(await resp.text())
    assert token
    async with session.post(f"{base}/login", data={"name": name, "password": password,
                                                   "csrf_token": token.group(1)},
                            allow_redirects=False) as resp:
        assert resp.status == 302, await resp.text()
    async with session.get(f"{base}/api/me") as resp:
        me: dict[str, Any] = await resp.json()
    return str(me["csrf"])
