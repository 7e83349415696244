"""Helpers for the web tests: users (bcrypt at its lowest cost so logins stay fast), a
seeded store, cases like the engine opens, logging in through the real form."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from ivr.calls import CaseDraft, InputStep, PathStep
from ivr.clock import DEFAULT_TZ, FixedClock
from ivr.config.settings import WebUser
from ivr.store import Store
from ivr.store.seed import seed
from ivr.web.auth import hash_password

if TYPE_CHECKING:
    from ivr.engine.engine import Engine
    from ivr.flows.source import FlowSource
    from ivr.prompts.catalog import PromptCatalog

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=DEFAULT_TZ)
PASSWORD = "correct horse battery"
#: The demo account the tests' callers own (``ivr.store.demo.UNPAID``).
CALLER = "0901234567"
ACCOUNT = "PE01000123456"


def _user(name: str, role: str, queues: tuple[str, ...] = (),
          interfaces: tuple[str, ...] = ()) -> WebUser:
    return WebUser(name, role, hash_password(PASSWORD, rounds=4), queues, interfaces)


USERS = (
    _user("agent1", "agent", ("agents", "safety"), ("Local/1001@agents",)),
    _user("agent2", "agent", ("agents", "hotline"), ("Local/1002@agents",)),
    _user("agent3", "agent", ("safety",), ("Local/1003@agents",)),
    _user("boss", "supervisor"),
)


async def open_seeded_store(url: str, *, schema: str | None = None) -> Store:
    store = await Store.open(url, clock=FixedClock(NOW), schema=schema)
    await store.migrate()
    await seed(store, n_accounts=30, seed=1)
    return store


async def open_case(store: Store, *, queue: str = "agents", caller: str = CALLER,
                    account: str | None = ACCOUNT, intent: str = "billing") -> str:
    """A case like the engine's transfer opens: path, a failed input, a balance fact."""
    at = NOW - timedelta(seconds=40)
    draft = CaseDraft(
        call_id=f"test-{caller}-{intent}",
        caller=caller,
        dialled="1900545454",
        language="vi",
        intent=intent,
        queue=queue,
        account=account,
        facts={"account": {"code": account, "name": "Nguyễn Văn An", "area": "Quận 1"},
               "balance": {"amount_due": 1234500, "due_date": "2026-12-05", "paid": False}},
        path=(PathStep("hotline", "greeting", at), PathStep("hotline", "main_menu", at),
              PathStep("hotline", "billing", at)),
        inputs=(InputStep("hotline", "main_menu", "", "no_input", at),
                InputStep("hotline", "main_menu", "7", "no_match", at),
                InputStep("hotline", "main_menu", "2", "ok", at)),
        seconds_in_ivr=40.0,
    )
    return await store.open_case(draft)


@dataclass
class Inbox:
    """A console stand-in for dispatcher-level tests: collects what the agent is sent."""

    messages: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    async def send(self, message: dict[str, Any]) -> None:
        await self.messages.put(message)

    async def next(self, timeout: float = 2.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.messages.get(), timeout)


class NoEngine:
    """Stands in where a test never places a softphone call; fails loudly if it does."""

    async def run(self, channel: Any, *, kind: str = "fastagi") -> Any:
        raise AssertionError("this test places no softphone call")


AppFactory = Callable[..., web.Application]


_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


async def csrf_of(client: TestClient[Any, Any], path: str = "/login") -> str:
    resp = await client.get(path, allow_redirects=False)
    found = _CSRF.search(await resp.text())
    assert found, f"no CSRF token on {path}"
    return found.group(1)


async def login(client: TestClient[Any, Any], name: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token for later writes."""
    token = await csrf_of(client)
    resp = await client.post("/login", data={"name": name, "password": password,
                                             "csrf_token": token}, allow_redirects=False)
    assert resp.status == 302, await resp.text()
    return await csrf_of(client, "/softphone")


ROOT = Path(__file__).resolve().parent.parent
HCMC_HOTLINE = "1900545454"


@dataclass
class Live:
    """The real engine on the shipped demo hotline, over a given store."""

    engine: Engine
    flows: FlowSource
    catalog: PromptCatalog

    def flow_names(self) -> list[str]:
        return list(self.flows.current.flows)


def live_engine(store: Store, tmp_path: Path) -> Live:
    from ivr.engine.engine import Engine
    from ivr.flows.source import FlowSource
    from ivr.prompts.catalog import PromptCatalog
    from ivr.store.lookups import build_lookups

    catalog = PromptCatalog.load(ROOT / "config" / "prompts.yaml")
    lookups = build_lookups(store)
    flows = FlowSource.load(ROOT / "config" / "flows.yaml", lookups=lookups.names(),
                            catalog=catalog)
    engine = Engine(flows, lookups, catalog, store, FixedClock(NOW),
                    unsaved_path=tmp_path / "unsaved.jsonl")
    return Live(engine, flows, catalog)
