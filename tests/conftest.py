"""Shared test fixtures: paths to the shipped config and the recorded transcripts,
and the PostgreSQL URL (tests that need it skip with a reason when it is absent,
except in CI where IVR_REQUIRE_POSTGRES=1 makes absence a failure)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

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
