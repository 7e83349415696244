"""Flows and prompts publish together (issue 13, item 1): a reload reads both files as
one unit, so a flow that plays a prompt added in the same edit goes live without a
restart; a prompt whose audio is not built yet is rendered before it is played, or the
call apologises and goes to the agents, never silence."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest
from flows_support import OFFICE_HOURS, DemoData, MemoryStore

from ivr.calls import Outcome
from ivr.channels.channel import CallInfo
from ivr.channels.simulator import ScriptedKeys, SimulatorChannel
from ivr.clock import FixedClock
from ivr.config.diagnostics import FlowError
from ivr.engine.engine import Engine
from ivr.flows.source import FlowSource, PromptsFile, unit_version
from ivr.prompts.catalog import PromptCatalog
from ivr.prompts.ready import PromptAudio

FLOWS = """\
flows:
  hotline:
    start: q
    nodes:
      q: {menu: {prompt: ask, options: {"1": said}}}
      said: {play: one, next: hangup}
"""
PROMPTS = """\
prompts:
  ask: {vi: Bấm một, en: Press one}
  one: {vi: Một, en: One}
  sorry_transfer: {vi: Xin lỗi, en: Sorry}
"""
# The same edit adds option 2 and the prompt it plays.
FLOWS_2 = FLOWS.replace('options: {"1": said}', 'options: {"1": said, "2": news}') + \
    "      news: {play: storm_news, next: hangup}\n"
PROMPTS_2 = PROMPTS + "  storm_news: {vi: Tin bão, en: Storm news}\n"


def load_catalog(text: str, path: str) -> PromptCatalog:
    return PromptCatalog.parse(text, path)


def touch(path: Path, text: str, bump: int) -> None:
    path.write_text(text, encoding="utf-8")
    st = path.stat()
    os.utime(path, (st.st_atime, st.st_mtime + bump))


@pytest.fixture
def source(tmp_path: Path) -> FlowSource:
    (tmp_path / "flows.yaml").write_text(FLOWS, encoding="utf-8")
    (tmp_path / "prompts.yaml").write_text(PROMPTS, encoding="utf-8")
    catalog = PromptCatalog.parse(PROMPTS, tmp_path / "prompts.yaml")
    return FlowSource.load(tmp_path / "flows.yaml", lookups=DemoData().registry(),
                           catalog=catalog,
                           prompts=PromptsFile(tmp_path / "prompts.yaml", load_catalog))


def engine_for(source: FlowSource) -> Engine:
    return Engine(source, DemoData().registry(), source.catalog,  # type: ignore[arg-type]
                  MemoryStore(), FixedClock(OFFICE_HOURS))


def heard(channel: SimulatorChannel) -> list[str]:
    return [str(e["id"]) for e in channel.events if e["type"] == "prompt"]


async def test_a_new_prompt_and_the_option_that_plays_it_reload_together(
        source: FlowSource, caplog: pytest.LogCaptureFixture) -> None:
    first = source.current.version
    assert first == unit_version(FLOWS, PROMPTS)
    touch(source.path, FLOWS_2, 5)
    assert source.prompts is not None
    touch(source.prompts.path, PROMPTS_2, 5)
    caplog.set_level(logging.INFO, "ivr.flows.source")
    assert await source.reload_async() == []
    assert source.current.version == unit_version(FLOWS_2, PROMPTS_2) != first
    assert source.catalog.has("storm_news")
    assert f"flows reloaded: version {first} -> {source.current.version}; " \
           "new prompts: storm_news" in caplog.text
    channel = SimulatorChannel(CallInfo("c1", "0901", "19001", "hotline"), ScriptedKeys("2"))
    record = await engine_for(source).run(channel)
    assert heard(channel) == ["ask", "storm_news"]
    assert record.flow_version == source.current.version


async def test_a_prompt_edit_alone_is_a_new_version(source: FlowSource) -> None:
    first = source.current
    assert source.prompts is not None
    touch(source.prompts.path, PROMPTS.replace("en: One", "en: Number one"), 3)
    assert source.changed()
    assert await source.reload_async() == []
    assert source.current.version != first.version
    assert source.catalog.entry("one").texts["en"] == "Number one"


async def test_a_broken_prompts_file_keeps_the_pair_and_says_where(source: FlowSource) -> None:
    first, catalog = source.current, source.catalog
    assert source.prompts is not None
    touch(source.path, FLOWS_2, 5)
    touch(source.prompts.path, PROMPTS_2.replace("storm_news: {vi: Tin bão, en: Storm news}",
                                                 "storm_news: {vi: Tin bão, fr: Nouvelles}"), 5)
    diags = await source.reload_async()
    assert [str(d) for d in diags] == [
        f"{source.prompts.path}:5:29: error: storm_news: unknown language 'fr' (one of vi, en)"]
    assert source.current is first and source.catalog is catalog


async def test_without_the_new_prompt_the_flow_is_refused_at_its_line(
        source: FlowSource) -> None:
    first = source.current
    touch(source.path, FLOWS_2, 5)  # the prompts file was not edited
    diags = await source.reload_async()
    assert [str(d) for d in diags] == [
        f"{source.path}:7:20: error: unknown prompt 'storm_news'"]
    assert source.current is first


def test_first_load_of_a_broken_pair_raises(tmp_path: Path) -> None:
    (tmp_path / "flows.yaml").write_text(FLOWS_2, encoding="utf-8")
    (tmp_path / "prompts.yaml").write_text("prompts: [1, 2]\n", encoding="utf-8")
    with pytest.raises(FlowError) as info:
        FlowSource.load(tmp_path / "flows.yaml", lookups=DemoData().registry(),
                        catalog=PromptCatalog.parse(PROMPTS, "p"),
                        prompts=PromptsFile(tmp_path / "prompts.yaml", load_catalog))
    assert [str(d) for d in info.value.diagnostics] == [
        f"{tmp_path / 'prompts.yaml'}:1:10: error: 'prompts' must map prompt ids to texts"]


def test_the_listeners_hear_the_new_version_with_who_published_it(
        source: FlowSource) -> None:
    seen: list[tuple[str, str]] = []
    source.listeners.append(lambda live, origin: seen.append((live.version, origin)))
    compiled = source.compile_texts(FLOWS_2, PROMPTS_2)
    assert source.apply(compiled, "web:supervisor") == []
    assert seen == [(unit_version(FLOWS_2, PROMPTS_2), "web:supervisor")]
    assert source.apply(source.compile_texts(FLOWS_2, PROMPTS_2), "file") == []
    assert len(seen) == 1  # unchanged: nobody is told


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
async def test_a_prompt_without_audio_is_rendered_before_it_plays(
        source: FlowSource, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    source.apply(source.compile_texts(FLOWS_2, PROMPTS_2))
    engine = engine_for(source)
    out = tmp_path / "audio"
    engine.audio = PromptAudio(out, None)
    channel = SimulatorChannel(CallInfo("c2", "0901", "19001", "hotline"), ScriptedKeys("2"))
    with caplog.at_level(logging.WARNING, "ivr.prompts.ready"):
        record = await engine.run(channel)
    assert heard(channel) == ["ask", "storm_news"]
    assert record.outcome is Outcome.SELF_SERVED
    for name in ("ivr/vi/ask", "ivr/vi/storm_news"):
        assert (out / f"{name}.wav").stat().st_size > 1000
        assert (out / f"{name}.ulaw").is_file()
    assert engine.audio.rendered == ["ivr/vi/ask", "ivr/vi/storm_news"]
    assert "prompt storm_news (ivr/vi/storm_news) had no audio yet" in caplog.text


async def test_a_prompt_whose_audio_cannot_be_made_takes_the_apology_path(
        source: FlowSource, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    source.apply(source.compile_texts(FLOWS_2, PROMPTS_2))
    engine = engine_for(source)
    out = tmp_path / "audio"
    for built in ("ivr/vi/ask", "ivr/vi/sorry_transfer"):  # built earlier; storm_news not
        (out / built).parent.mkdir(parents=True, exist_ok=True)
        (out / f"{built}.wav").write_bytes(b"RIFF")
        (out / f"{built}.ulaw").write_bytes(b"\xff")
    engine.audio = PromptAudio(out, None, espeak_command="no-such-espeak-ng")
    channel = SimulatorChannel(CallInfo("c3", "0901", "19001", "hotline"), ScriptedKeys("2"))
    record = await engine.run(channel)
    assert heard(channel) == ["ask", "sorry_transfer"]  # storm_news never "played" silent
    assert record.outcome is Outcome.TRANSFERRED
    assert "storm_news" in (record.error or "")
    assert "prompt storm_news (ivr/vi/storm_news) has no audio yet and cannot be rendered" \
        in caplog.text


def test_ivr_validate_names_the_version_serve_runs(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from ivr.cli import main

    (tmp_path / "flows.yaml").write_text(FLOWS, encoding="utf-8")
    (tmp_path / "prompts.yaml").write_text(PROMPTS, encoding="utf-8")
    assert main(["validate", str(tmp_path / "flows.yaml")]) == 0
    assert capsys.readouterr().err.rstrip().endswith(f"version {unit_version(FLOWS, PROMPTS)}")


def test_a_flows_file_that_is_not_utf8_is_one_line_at_start(tmp_path: Path) -> None:
    (tmp_path / "flows.yaml").write_bytes(FLOWS.encode("utf-8") + b"# \xff\xfe\n")
    (tmp_path / "prompts.yaml").write_text(PROMPTS, encoding="utf-8")
    with pytest.raises(FlowError) as info:
        FlowSource.load(tmp_path / "flows.yaml", lookups=DemoData().registry(),
                        catalog=PromptCatalog.parse(PROMPTS, "p"),
                        prompts=PromptsFile(tmp_path / "prompts.yaml", load_catalog))
    assert [str(d) for d in info.value.diagnostics] == [
        f"{tmp_path / 'flows.yaml'}:1:1: error: cannot read the flows file: not UTF-8 text: "
        "invalid start byte"]
