"""Fixtures for the web tests (loaded with ``pytest_plugins = ("web_fixtures",)``):
the real app on a real seeded SQLite store, with the real dispatcher and built-in queue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from web_helpers import NOW, USERS, AppFactory, NoEngine, open_seeded_store

from ivr.clock import FixedClock
from ivr.config.settings import Settings
from ivr.screenpop.builtin_queue import BuiltinQueue
from ivr.screenpop.directory import UserDirectory
from ivr.screenpop.dispatcher import Dispatcher
from ivr.screenpop.presence import Presence
from ivr.store import Store


@pytest.fixture
async def web_store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_seeded_store(f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}")
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
def web_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", users=USERS)


@pytest.fixture
def web_dispatcher(web_store: Store) -> Dispatcher:
    return Dispatcher(Presence(UserDirectory(USERS)), web_store, FixedClock(NOW))


@pytest.fixture
def make_app(web_settings: Settings, web_store: Store, web_dispatcher: Dispatcher,
             tmp_path: Path) -> AppFactory:
    settings, store, dispatcher = web_settings, web_store, web_dispatcher
    from ivr.web.app import create_app

    def make(**overrides: Any) -> web.Application:
        audio = tmp_path / "audio"
        audio.mkdir(exist_ok=True)
        kwargs: dict[str, Any] = {
            "settings": settings, "store": store, "engine": NoEngine(), "catalog": None,
            "dispatcher": dispatcher, "clock": FixedClock(NOW), "audio_dir": audio,
            "environ": {"IVR_SECRET_KEY": "test-secret-key-0123456789"},
            "builtin_queue": BuiltinQueue(dispatcher, ring_seconds=5.0),
        }
        kwargs.update(overrides)
        return create_app(**kwargs)

    return make
