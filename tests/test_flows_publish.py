"""Versions and the publishing API (issue 13, items 2 and the /api/flows contract): the
composed service on SQLite, its web port over real HTTP, calls from the fake Asterisk.

A version published from the web is recorded (who, when, note), written to both files,
live for the next call at once; errors and broken scenarios are refused with 422; an
edit on disk is recorded as ``file``; a rollback is a new entry naming the version."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from publish_support import TOKEN, copy_config, login, with_storm_option, with_storm_prompt
from web_helpers import PASSWORD, USERS

from ivr.config.settings import Settings
from ivr.flows.source import unit_version
from ivr.service import Service, open_core
from ivr.testing.callers import PatientCaller
from ivr.testing.fake_asterisk import run_call

PINNED = {"IVR_NOW": "2026-11-26T10:00:00+07:00", "IVR_SECRET_KEY": "k" * 32}
HCMC = "1900545454"
CALLER = "0901234567"
pytestmark = pytest.mark.dates


@dataclass
class Node:
    service: Service
    base: str
    config: Path


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    config = copy_config(tmp_path / "config")
    settings = Settings(data_dir=tmp_path / "var", agi_port=0, web_port=0,
                        flows_path=config / "flows.yaml", prompts_path=config / "prompts.yaml",
                        seed_demo=True, users=USERS, metrics_token=TOKEN)
    core = await open_core(settings, PINNED)
    svc = Service(core, PINNED, build_prompts=False)
    await svc.start()
    try:
        yield Node(svc, f"http://127.0.0.1:{svc.web_port}", config)
    finally:
        await svc.stop(grace=2.0)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def streamed(node: Node, keys: str, call_id: str) -> list[str]:
    transcript = await run_call("127.0.0.1", node.service.agi_port, PatientCaller(keys),
                                extension=HCMC, uniqueid=call_id, callerid=CALLER)
    assert node.service.agi is not None
    await node.service.agi.wait_idle()
    return [c.split()[2] for c in transcript.commands if c.startswith("STREAM FILE ")]


async def post(http: aiohttp.ClientSession, url: str, body: dict[str, Any],
               csrf: str) -> tuple[int, dict[str, Any]]:
    async with http.post(url, json=body, headers={"X-CSRF-Token": csrf}) as resp:
        return resp.status, await resp.json()


async def test_publish_from_the_web_goes_live_at_once_and_rolls_back(
        node: Node, http: aiohttp.ClientSession) -> None:
    csrf = await login(http, node.base, "boss", PASSWORD)
    async with http.get(f"{node.base}/api/flows") as resp:
        assert resp.status == 200
        index = await resp.json()
    first = node.service.core.flows.current.version
    assert index["live"]["version"] == first
    assert [(h["version"], h["published_by"]) for h in index["history"]] == [(first, "file")]

    flows = with_storm_option((node.config / "flows.yaml").read_text(encoding="utf-8"))
    prompts = with_storm_prompt((node.config / "prompts.yaml").read_text(encoding="utf-8"))
    # The new option without its prompt: refused at the line that names it.
    status, body = await post(http, f"{node.base}/api/flows/validate", {"flows": flows}, csrf)
    assert status == 200 and body["ok"] is False
    line = flows.splitlines().index("        play: storm_news") + 1
    assert [(d["line"], d["column"], d["severity"], d["message"], d["file"])
            for d in body["diagnostics"]] == [
        (line, 15, "error", "unknown prompt 'storm_news'", "flows")]
    status, body = await post(http, f"{node.base}/api/flows/publish", {"flows": flows}, csrf)
    assert status == 422 and body["diagnostics"][0]["line"] == line
    assert node.service.core.flows.current.version == first

    status, body = await post(http, f"{node.base}/api/flows/validate",
                              {"flows": flows, "prompts": prompts}, csrf)
    assert (status, body["ok"], body["diagnostics"]) == (200, True, [])
    status, body = await post(http, f"{node.base}/api/flows/publish",
                              {"flows": flows, "prompts": prompts, "note": "storm bulletin"},
                              csrf)
    second = unit_version(flows, prompts)
    assert (status, body) == (200, {"version": second, "changed": True})
    # Live on this node at once: the next call hears the new option; files agree.
    assert node.service.core.flows.current.version == second
    assert (node.config / "flows.yaml").read_text(encoding="utf-8") == flows
    assert (node.config / "prompts.yaml").read_text(encoding="utf-8") == prompts
    files = await streamed(node, "-5", "publish.storm")
    assert files[-1] == "ivr/vi/storm_news", files
    async with http.get(f"{node.base}/healthz") as resp:
        assert (await resp.json())["flows_version"] == second

    async with http.get(f"{node.base}/api/flows/versions/{second}") as resp:
        stored = await resp.json()
    assert (stored["flows"], stored["prompts"], stored["published_by"], stored["note"]) == (
        flows, prompts, "boss", "storm bulletin")
    async with http.get(f"{node.base}/api/flows/diff",
                        params={"from": first, "to": second}) as resp:
        diff = (await resp.json())["diff"]
    assert '+            "5": storm_news\n' in diff and "+  storm_news:\n" in diff

    status, body = await post(http, f"{node.base}/api/flows/rollback", {"version": first}, csrf)
    assert (status, body["version"]) == (200, first)
    assert node.service.core.flows.current.version == first
    files = await streamed(node, "-5", "publish.rolled-back")
    assert "ivr/vi/storm_news" not in files
    async with http.get(f"{node.base}/api/flows") as resp:
        index = await resp.json()
    assert [(h["version"], h["published_by"], h["rollback_of"]) for h in index["history"]] == [
        (first, "boss", first), (second, "boss", None), (first, "file", None)]
    assert index["live"]["version"] == first and index["live"]["note"] == f"rollback to {first}"


async def test_a_version_that_breaks_a_scenario_is_refused_with_the_failure(
        node: Node, http: aiohttp.ClientSession) -> None:
    csrf = await login(http, node.base, "boss", PASSWORD)
    flows = (node.config / "flows.yaml").read_text(encoding="utf-8")
    # Keys 2 and 3 swapped (billing and the meter reading): the scenarios must fail.
    broken = flows.replace('            "2": billing\n            "3": meter_reading\n',
                           '            "2": meter_reading\n            "3": billing\n', 1)
    assert broken != flows
    status, body = await post(http, f"{node.base}/api/flows/publish", {"flows": broken}, csrf)
    assert status == 422, body
    assert body["diagnostics"] == [] and body["failures"]
    assert all(": FAIL " in f for f in body["failures"])
    assert any("billing" in f.splitlines()[0] for f in body["failures"])
    assert (node.config / "flows.yaml").read_text(encoding="utf-8") == flows
    async with http.get(f"{node.base}/api/flows") as resp:
        assert len((await resp.json())["history"]) == 1


async def test_an_edit_on_disk_is_recorded_as_file(node: Node) -> None:
    flows_path = node.config / "flows.yaml"
    prompts_path = node.config / "prompts.yaml"
    flows = with_storm_option(flows_path.read_text(encoding="utf-8"))
    prompts = with_storm_prompt(prompts_path.read_text(encoding="utf-8"))
    prompts_path.write_text(prompts, encoding="utf-8")
    flows_path.write_text(flows, encoding="utf-8")
    await node.service.reload_flows()  # SIGHUP
    version = unit_version(flows, prompts)
    assert node.service.core.flows.current.version == version
    store = node.service.core.store
    async with asyncio.timeout(10):
        while (await store.live_flow_version() or {}).get("version") != version:
            await asyncio.sleep(0.02)
    history = await store.flow_versions()
    assert [(h["published_by"], h["note"]) for h in history] == [
        ("file", "edited on disk"), ("file", "the files on disk at start")]


async def test_the_bearer_token_acts_as_a_supervisor_without_csrf(
        node: Node, http: aiohttp.ClientSession) -> None:
    flows = (node.config / "flows.yaml").read_text(encoding="utf-8")
    url = f"{node.base}/api/flows/validate"
    async with http.post(url, json={"flows": flows},
                         headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
        assert resp.status == 200 and (await resp.json())["ok"] is True
    async with http.post(url, json={"flows": flows},
                         headers={"Authorization": "Bearer wrong"}) as resp:
        assert resp.status == 401
    async with http.post(url, json={"flows": flows}) as resp:  # no token, no session
        assert resp.status == 403  # the CSRF check comes first for cookie requests
    async with http.get(f"{node.base}/api/flows") as resp:
        assert resp.status == 401
    new = flows.replace("  # 2. The main menu.", "  # 2. The main menu (reviewed).")
    async with http.post(f"{node.base}/api/flows/publish", json={"flows": new, "note": "CI"},
                         headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
        assert resp.status == 200, await resp.text()
        version = (await resp.json())["version"]
    entry = await node.service.core.store.flow_version(version)
    assert entry is not None and (entry["published_by"], entry["note"]) == ("api", "CI")


async def test_agents_cannot_publish_and_bad_input_is_one_line(
        node: Node, http: aiohttp.ClientSession) -> None:
    csrf = await login(http, node.base, "agent1", PASSWORD)
    status, body = await post(http, f"{node.base}/api/flows/publish", {"flows": "x"}, csrf)
    assert (status, body) == (403, {"error": "supervisors only"})
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as boss:
        csrf = await login(boss, node.base, "boss", PASSWORD)
        status, body = await post(boss, f"{node.base}/api/flows/publish", {"flows": 3}, csrf)
        assert (status, body) == (400, {"error": "flows must be text"})
        status, body = await post(boss, f"{node.base}/api/flows/rollback",
                                  {"version": "abcdef123456"}, csrf)
        assert (status, body) == (404, {"error": "no such version: abcdef123456"})
        async with boss.get(f"{node.base}/api/flows/versions/..%2Fetc") as resp:
            assert resp.status == 404


async def test_try_it_runs_the_text_being_edited_without_publishing_it(
        node: Node, http: aiohttp.ClientSession) -> None:
    csrf = await login(http, node.base, "boss", PASSWORD)
    flows = with_storm_option((node.config / "flows.yaml").read_text(encoding="utf-8"))
    prompts = with_storm_prompt((node.config / "prompts.yaml").read_text(encoding="utf-8"))
    status, body = await post(http, f"{node.base}/api/flows/try",
                              {"flows": flows, "prompts": prompts, "keys": "- 5",
                               "caller": CALLER, "dialled": HCMC}, csrf)
    assert status == 200, body
    assert body["prompts"][-1] == {
        "id": "storm_news", "text": "Tin bão: lịch cắt điện khẩn cấp được cập nhật mỗi giờ."}
    assert body["path"][-2:] == ["hotline.main_menu", "hotline.storm_news"]
    assert body["outcome"] == "self_served" and body["version"] == unit_version(flows, prompts)
    assert node.service.core.flows.current.version != body["version"]  # nothing published
    assert await node.service.core.store.list_calls() == []  # nor written to the live db
    status, body = await post(http, f"{node.base}/api/flows/try",
                              {"flows": flows, "keys": "- 5"}, csrf)
    assert status == 422 and body["diagnostics"][0]["message"] == "unknown prompt 'storm_news'"
    status, body = await post(http, f"{node.base}/api/flows/try",
                              {"flows": flows, "keys": "<script>"}, csrf)
    assert status == 400 and body["error"].startswith("keys: one group per question")


def test_files_are_replaced_in_one_step(tmp_path: Path) -> None:
    from ivr.flows.source import write_atomically

    target = tmp_path / "flows.yaml"
    target.write_text("old", encoding="utf-8")
    inode = target.stat().st_ino
    write_atomically(target, "new")
    assert target.read_text(encoding="utf-8") == "new" and target.stat().st_ino != inode
    assert os.listdir(tmp_path) == ["flows.yaml"]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
async def test_a_published_prompt_has_audio_before_any_call_plays_it(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = copy_config(tmp_path / "config")
    settings = Settings(data_dir=tmp_path / "var", agi_port=0, web_port=0,
                        flows_path=config / "flows.yaml", prompts_path=config / "prompts.yaml",
                        seed_demo=True, users=USERS)
    core = await open_core(settings, PINNED)
    svc = Service(core, PINNED, build_prompts=True)
    await svc.start()
    try:
        node = Node(svc, f"http://127.0.0.1:{svc.web_port}", config)
        assert svc.publisher is not None
        flows = with_storm_option((config / "flows.yaml").read_text(encoding="utf-8"))
        prompts = with_storm_prompt((config / "prompts.yaml").read_text(encoding="utf-8"))
        audio = settings.prompt_build_dir / "ivr" / "vi" / "storm_news"
        with caplog.at_level(logging.INFO):
            outcome = await svc.publisher.publish(flows, prompts, by="boss", note="storm")
            assert outcome.ok, outcome
            # A call straight away: whether the background build got there first or the
            # call rendered it, the file exists before STREAM FILE names it.
            files = await streamed(node, "-5", "publish.audio")
            assert files[-1] == "ivr/vi/storm_news"
            assert audio.with_suffix(".wav").stat().st_size > 1000
            assert audio.with_suffix(".ulaw").is_file()
            await asyncio.gather(*svc.prompt_builds)
        assert f"prompts: building audio for version {outcome.version} in the background" \
            in caplog.text
        manifest = json.loads((settings.prompt_build_dir / "manifest.json").read_text())
        assert "ivr/en/storm_news" in manifest["entries"]
    finally:
        await svc.stop(grace=2.0)


async def test_a_rollback_is_not_held_to_the_scenarios_but_a_publish_is(node: Node) -> None:
    publisher = node.service.publisher
    assert publisher is not None
    first = node.service.core.flows.current.version
    flows = (node.config / "flows.yaml").read_text(encoding="utf-8")
    swapped = flows.replace('            "2": billing\n            "3": meter_reading\n',
                            '            "2": meter_reading\n            "3": billing\n', 1)
    # A version that breaks the scenarios got in from disk (CI runs them on files).
    (node.config / "flows.yaml").write_text(swapped, encoding="utf-8")
    await node.service.reload_flows()
    bad = node.service.core.flows.current.version
    assert bad != first
    async with asyncio.timeout(10):
        while (await node.service.core.store.live_flow_version() or {}).get("version") != bad:
            await asyncio.sleep(0.02)
    # Publishing it again from the web is refused; rolling back to it is allowed, as is
    # rolling back to the good one.
    refused = await publisher.publish(swapped, by="boss")
    assert not refused.ok and refused.failures
    back = await publisher.rollback(first, by="boss")
    assert back.ok and node.service.core.flows.current.version == first
    again = await publisher.publish(swapped, by="boss")
    assert not again.ok and again.failures
    forward = await publisher.rollback(bad, by="boss", note="on purpose")
    assert forward.ok and node.service.core.flows.current.version == bad


async def test_after_a_degraded_start_the_running_version_is_recorded_once_the_db_answers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ivr.publishing

    monkeypatch.setattr(ivr.publishing, "RECONCILE_RETRY", 0.05)
    config = copy_config(tmp_path / "config")
    (tmp_path / "var").mkdir()
    db_path = tmp_path / "var" / "ivr.db"
    db_path.mkdir()  # a directory where the database should be: unreachable at start
    settings = Settings(data_dir=tmp_path / "var", agi_port=0, web_port=0,
                        flows_path=config / "flows.yaml", prompts_path=config / "prompts.yaml",
                        seed_demo=True, users=USERS)
    svc = Service(await open_core(settings, PINNED), PINNED, build_prompts=False)
    await svc.start()
    try:
        version = svc.core.flows.current.version
        db_path.rmdir()
        async with asyncio.timeout(60):
            await svc.database_settled.wait()
            while True:
                try:
                    live = await svc.core.store.live_flow_version()
                except Exception:  # the watch may still be migrating it
                    live = None
                if live is not None:
                    break
                await asyncio.sleep(0.05)
        assert (live["version"], live["published_by"]) == (version, "file")
    finally:
        await svc.stop(grace=2.0)


def _chattr(flag: str, path: Path) -> bool:
    import subprocess

    tool = shutil.which("chattr")
    if tool is None:
        return False
    return subprocess.run([tool, flag, str(path)], capture_output=True).returncode == 0


async def test_a_node_that_cannot_write_the_files_refuses_the_publish(
        node: Node, http: aiohttp.ClientSession) -> None:
    # Root writes anywhere: an immutable directory is what refuses even root.
    if not _chattr("+i", node.config):
        pytest.skip("chattr +i is not available on this file system")
    try:
        csrf = await login(http, node.base, "boss", PASSWORD)
        first = node.service.core.flows.current.version
        flows = with_storm_option((node.config / "flows.yaml").read_text(encoding="utf-8"))
        prompts = with_storm_prompt((node.config / "prompts.yaml").read_text(encoding="utf-8"))
        status, body = await post(http, f"{node.base}/api/flows/publish",
                                  {"flows": flows, "prompts": prompts}, csrf)
        assert status == 503
        assert body["error"].startswith(f"cannot write {node.config}/")
        assert "needs write access to the flows and prompts files" in body["error"]
        assert node.service.core.flows.current.version == first
        assert len(await node.service.core.store.flow_versions()) == 1
    finally:
        _chattr("-i", node.config)


async def test_a_publish_the_database_cannot_record_puts_the_files_back(node: Node) -> None:
    publisher = node.service.publisher
    assert publisher is not None
    first = node.service.core.flows.current.version
    flows_before = (node.config / "flows.yaml").read_text(encoding="utf-8")
    prompts_before = (node.config / "prompts.yaml").read_text(encoding="utf-8")
    (node.service.core.settings.data_dir / "ivr.db").unlink()  # writes are refused now
    outcome = await publisher.publish(with_storm_option(flows_before),
                                      with_storm_prompt(prompts_before), by="boss")
    assert not outcome.ok and outcome.error.startswith("cannot record the version: ")
    assert node.service.core.flows.current.version == first
    assert (node.config / "flows.yaml").read_text(encoding="utf-8") == flows_before
    assert (node.config / "prompts.yaml").read_text(encoding="utf-8") == prompts_before
