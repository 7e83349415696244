"""Shared test fixtures: paths to the shipped config and the recorded transcripts,
and the PostgreSQL URL (tests that need it skip with a reason when it is absent,
except in CI where IVR_REQUIRE_POSTGRES=1 makes absence a failure).

``--today 2027-01-01T09:00:00+07:00`` (or ``IVR_TEST_TODAY``) moves ivr's system clock
to that instant for the whole run (``clock_pin.py``); ``bash scripts/dev test-dates``
runs the date-sensitive tests (``-m dates``) that way on a few awkward days."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from pathlib import Path

import pytest
from clock_pin import TODAY_ENV, TodayError, move_system_clock, parse_today

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "config"
FLOWS_YAML = CONFIG_DIR / "flows.yaml"
PROMPTS_YAML = CONFIG_DIR / "prompts.yaml"


def _find_transcripts() -> Path:
    # A copy lives in the repo so tests never depend on a folder outside it.
    for candidate in (ROOT / "tests" / "transcripts",
                      ROOT.parent / "shared" / "asterisk-transcripts"):
        if candidate.is_dir():
            return candidate
    return ROOT / "tests" / "transcripts"


TRANSCRIPTS = _find_transcripts()
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


#: The instant ``--today`` pinned, for the report header.
_TODAY = pytest.StashKey[datetime]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--today", default=os.environ.get(TODAY_ENV, ""), metavar="ISO_DATETIME",
        help=f"move ivr's system clock to this instant, running on (env {TODAY_ENV})")


def pytest_configure(config: pytest.Config) -> None:
    raw = str(config.getoption("--today"))
    if not raw:
        return
    try:
        at = parse_today(raw)
    except TodayError as exc:
        raise pytest.UsageError(str(exc)) from None
    # For the whole session: fixtures that seed data run before any per-test patch would.
    config.add_cleanup(move_system_clock(at))
    config.stash[_TODAY] = at


def pytest_report_header(config: pytest.Config) -> str | None:
    at = config.stash.get(_TODAY, None)
    return f"today (ivr's system clock): {at}" if at is not None else None


@pytest.fixture
def transcripts_dir() -> Path:
    if not TRANSCRIPTS.is_dir():
        pytest.skip(f"recorded transcripts not found at {TRANSCRIPTS}")
    return TRANSCRIPTS


async def _postgres_reachable(url: str) -> str | None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with asyncio.timeout(5):
            async with engine.connect() as conn:
                await conn.execute(text("select 1"))
        return None
    except Exception as exc:  # any failure means: not reachable, say why
        return f"{type(exc).__name__}: {exc}"
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("IVR_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    problem = asyncio.run(_postgres_reachable(url))
    if problem:
        if os.environ.get("IVR_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required (IVR_REQUIRE_POSTGRES=1) but {url} failed: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {url}: {problem}")
    return url
