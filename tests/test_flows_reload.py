"""Hot reload: a broken file keeps the last good version; a good one serves new calls
while a call in progress finishes on the version it started with."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flows_support import OFFICE_HOURS, DemoData, MemoryStore

from ivr.calls import Outcome
from ivr.channels.channel import CallInfo
from ivr.channels.simulator import ScriptedKeys, SimulatorChannel
from ivr.clock import FixedClock
from ivr.config.diagnostics import FlowError
from ivr.engine.engine import Engine
from ivr.flows.source import FlowSource
from ivr.prompts.catalog import PromptCatalog, PromptEntry

CATALOG = PromptCatalog.from_texts({p: {"vi": p, "en": p} for p in
                                    ("one", "two", "ask", "sorry_transfer")})
V1 = """
flows:
  hotline:
    start: q
    nodes:
      q: {menu: {prompt: ask, options: {"1": said}}}
      said: {play: one, next: hangup}
"""
V2 = V1.replace("play: one", "play: two")
BROKEN = V1.replace("play: one", "play: onee")


def touch(path: Path, text: str, bump: int) -> None:
    path.write_text(text)
    st = path.stat()
    # mtime granularity can be coarse: move it explicitly so watch() sees a change.
    os.utime(path, (st.st_atime, st.st_mtime + bump))


@pytest.fixture
def source(tmp_path: Path) -> FlowSource:
    path = tmp_path / "flows.yaml"
    path.write_text(V1)
    return FlowSource.load(path, lookups=DemoData().registry(), catalog=CATALOG)


def test_broken_reload_keeps_the_last_good_version(source: FlowSource,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    before = source.current
    touch(source.path, BROKEN, 1)
    diags = source.reload()
    assert [str(d) for d in diags] == [
        f"{source.path}:7:20: error: unknown prompt 'onee' (did you mean 'one'?)"]
    assert source.current is before
    assert "flows not reloaded: keeping version" in caplog.text


def test_good_reload_swaps_and_unchanged_reload_keeps_the_object(source: FlowSource) -> None:
    first = source.current
    assert source.reload() == [] and source.current is first
    touch(source.path, V2, 1)
    assert source.reload() == []
    assert source.current is not first and source.current.version != first.version


def test_first_load_failure_raises_with_every_diagnostic(tmp_path: Path) -> None:
    path = tmp_path / "flows.yaml"
    path.write_text(BROKEN)
    with pytest.raises(FlowError) as info:
        FlowSource.load(path, lookups=DemoData().registry(), catalog=CATALOG)
    assert [str(d) for d in info.value.diagnostics] == [
        f"{path}:7:20: error: unknown prompt 'onee' (did you mean 'one'?)"]


class GatedKeys:
    """Keys that wait for the test: the call is held at its first question."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()
        self.release = asyncio.Event()

    async def next_group(self) -> str | None:
        if self.release.is_set():
            return None
        self.asked.set()
        await self.release.wait()
        return "1"


async def test_call_in_progress_finishes_on_its_version(source: FlowSource) -> None:
    store = MemoryStore()
    engine = Engine(source, DemoData().registry(), CATALOG, store,
                    FixedClock(OFFICE_HOURS))
    keys = GatedKeys()
    old_call = SimulatorChannel(CallInfo("old", "", "", "hotline"), keys)
    task = asyncio.create_task(engine.run(old_call))
    await keys.asked.wait()
    v1 = source.current.version
    touch(source.path, V2, 5)
    source.reload()
    new_call = SimulatorChannel(CallInfo("new", "", "", "hotline"),
                                ScriptedKeys("1"))
    new_record = await engine.run(new_call)
    keys.release.set()
    old_record = await task
    assert [e["id"] for e in old_call.events if e["type"] == "prompt"] == ["ask", "one"]
    assert [e["id"] for e in new_call.events if e["type"] == "prompt"] == ["ask", "two"]
    assert old_record.flow_version == v1 != new_record.flow_version
    assert old_record.outcome is new_record.outcome is Outcome.SELF_SERVED


async def test_watch_reloads_when_the_file_changes(source: FlowSource) -> None:
    first = source.current
    touch(source.path, V2, 10)
    task = asyncio.create_task(source.watch(interval=0.001))
    try:
        async with asyncio.timeout(5):
            while source.current is first:
                await asyncio.sleep(0.001)
    finally:
        task.cancel()
    assert source.current.version != first.version


def test_reload_of_a_missing_file_keeps_serving(source: FlowSource) -> None:
    before = source.current
    source.path.unlink()
    (diag,) = source.reload()
    assert str(diag) == (f"{source.path}:1:1: error: cannot read the flows file: "
                         "No such file or directory")
    assert source.current is before


def test_simulator_is_a_channel() -> None:
    from ivr.channels.channel import Channel

    ch = SimulatorChannel(CallInfo("c", "", "", "hotline"), ScriptedKeys(""))
    assert isinstance(ch, Channel)


class HeldCatalog:
    """The real catalog, except that once ``hold`` is set, the compiler's first prompt
    check waits (in whatever thread the compiler runs) until the test lets it go."""

    def __init__(self, inner: PromptCatalog) -> None:
        self.inner = inner
        self.hold = False
        self.entered = threading.Event()
        self.release = threading.Event()
        self.thread: threading.Thread | None = None

    @property
    def languages(self) -> tuple[str, ...]:
        return self.inner.languages

    def has(self, prompt_id: str) -> bool:
        if self.hold and not self.entered.is_set():
            self.thread = threading.current_thread()
            self.entered.set()
            # Bounded so a compile wrongly run on the event loop fails the test instead
            # of hanging it (the loop could then never release it).
            self.release.wait(30)
        return self.inner.has(prompt_id)

    @property
    def SAY_KINDS(self) -> frozenset[str]:
        return self.inner.SAY_KINDS

    def ids(self) -> Iterator[str]:
        return self.inner.ids()

    def entry(self, prompt_id: str) -> PromptEntry:
        return self.inner.entry(prompt_id)


async def test_reload_compiles_off_the_event_loop_while_calls_go_on(tmp_path: Path) -> None:
    catalog = HeldCatalog(CATALOG)
    path = tmp_path / "flows.yaml"
    path.write_text(V1)
    source = FlowSource.load(path, lookups=DemoData().registry(), catalog=catalog)
    engine = Engine(source, DemoData().registry(), CATALOG, MemoryStore(),
                    FixedClock(OFFICE_HOURS))
    v1 = source.current.version
    touch(path, V2, 1)
    catalog.hold = True
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticking = asyncio.create_task(ticker())
    reload = asyncio.create_task(source.reload_async())
    try:
        async with asyncio.timeout(30):
            while not catalog.entered.is_set():
                await asyncio.sleep(0.001)
        # The compile is held inside the worker thread: the loop still runs, a whole call
        # is served (on the version it started with), the ticker keeps ticking.
        before = ticks
        record = await engine.run(SimulatorChannel(CallInfo("during", "", "", "hotline"),
                                                   ScriptedKeys("1")))
        await asyncio.sleep(0)
        assert ticks > before
        assert record.flow_version == v1 and record.outcome is Outcome.SELF_SERVED
        assert not reload.done() and source.current.version == v1
        assert catalog.thread is not threading.main_thread()
        catalog.release.set()
        assert await reload == []
    finally:
        catalog.release.set()
        ticking.cancel()
    assert source.current.version != v1


async def test_a_good_reload_logs_at_info(source: FlowSource,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ivr.flows.source")
    before = source.current.version
    touch(source.path, V2, 1)
    assert await source.reload_async() == []
    (record,) = [r for r in caplog.records if r.name == "ivr.flows.source"]
    assert (record.levelname, record.getMessage()) == (
        "INFO", f"flows reloaded: version {before} -> {source.current.version}")
