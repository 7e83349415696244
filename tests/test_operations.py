"""Operations: /metrics (Prometheus text, who may read it), /healthz's flows version,
and JSON log lines, against the composed service over real TCP."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from web_helpers import NOW, USERS, Inbox, open_case

from ivr.clock import FixedClock
from ivr.config.settings import Settings, SettingsError, load_settings
from ivr.logs import TEXT_FORMAT, call_logging, json_formatter, use_log_format
from ivr.lookups import LookupContext, LookupRegistry, LookupResult, LookupSpec, LookupStatus
from ivr.metrics import NO_METRICS, Metrics
from ivr.screenpop.directory import UserDirectory
from ivr.screenpop.dispatcher import Dispatcher
from ivr.screenpop.events import PopEvent, PopState
from ivr.screenpop.presence import Presence
from ivr.service import Service, open_core
from ivr.store.health import FAILURES_TO_OPEN, Breaker
from ivr.testing.callers import PatientCaller
from ivr.testing.fake_asterisk import run_call
from ivr.web.operations import is_loopback, metrics_allowed

pytest_plugins = ("web_fixtures",)

ROOT = Path(__file__).resolve().parent.parent
FLOWS_YAML = ROOT / "config" / "flows.yaml"
PROMPTS_YAML = ROOT / "config" / "prompts.yaml"
HCMC = "1900545454"
ONE_ACCOUNT_PHONE = "0901234567"  # PE01000123456, unpaid bill (docs/demo-data.md)
BILLING_KEYS = "-212-"  # as in test_e2e_serve: billing, the registered account, goodbye
PINNED = {"IVR_NOW": "2026-11-26T10:00:00+07:00"}
TOKEN = "scrape-token-0123456789"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample, through prometheus_client's own parser (it raises on bad text)."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def labels_of(samples: Samples, name: str) -> list[dict[str, str]]:
    return [dict(ls) for (n, ls) in samples if n == name]


# -- the composed service after a real call ----------------------------------------

@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    settings = Settings(data_dir=tmp_path, agi_port=0, web_port=0, flows_path=FLOWS_YAML,
                        prompts_path=PROMPTS_YAML, seed_demo=True, metrics_token=TOKEN)
    core = await open_core(settings, PINNED, metrics=Metrics())
    svc = Service(core, {}, build_prompts=False)
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop(grace=2.0)


async def get(svc: Service, path: str, headers: Mapping[str, str] | None = None,
              ) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(
            f"http://127.0.0.1:{svc.web_port}{path}", headers=headers) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


@pytest.mark.dates
async def test_metrics_count_a_real_call(service: Service) -> None:
    transcript = await run_call("127.0.0.1", service.agi_port, PatientCaller(BILLING_KEYS),
                                extension=HCMC, uniqueid="ops.billing",
                                callerid=ONE_ACCOUNT_PHONE)
    assert transcript.closed_by_server
    await service.agi.wait_idle()  # the socket closes first, the record is saved after
    record = next(r for r in await service.core.store.list_calls(limit=10)
                  if r["call_id"] == "ops.billing")
    assert record["outcome"] == "self_served"

    status, content_type, text = await get(service, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    samples = parse(text)
    flow = record["flow"]
    assert total(samples, "ivr_calls_started_total", flow=flow) == 1
    assert total(samples, "ivr_calls_total", flow=flow, outcome="self_served") == 1
    assert total(samples, "ivr_calls_total") == 1
    assert total(samples, "ivr_calls_in_progress") == 0
    # The billing path looks the caller's accounts and the balance up.
    assert total(samples, "ivr_lookup_seconds_count", status="found") > 0
    assert {ls["action"] for ls in labels_of(samples, "ivr_lookup_seconds_count")} >= {
        "accounts_for_caller"}
    streamed = sum(c.startswith("STREAM FILE ") for c in transcript.commands)
    assert total(samples, "ivr_agi_command_seconds_count", command="STREAM FILE") == streamed
    version = service.core.flows.current.version
    assert total(samples, "ivr_flows_info", version=version) == 1
    assert total(samples, "ivr_flow_reloads_total", result="failed") == 0
    assert total(samples, "ivr_unsaved_records_total") == 0
    assert total(samples, "ivr_database_circuit_open") == 0
    assert total(samples, "process_open_fds") > 0

    status, _, body = await get(service, "/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok", "flows_version": version}


async def test_a_reload_shows_in_the_metrics(tmp_path: Path) -> None:
    flows = tmp_path / "flows.yaml"
    flows.write_text(FLOWS_YAML.read_text(encoding="utf-8"), encoding="utf-8")
    settings = Settings(data_dir=tmp_path, agi_port=0, web_port=0, flows_path=flows,
                        prompts_path=PROMPTS_YAML, seed_demo=False)
    metrics = Metrics()
    core = await open_core(settings, {}, metrics=metrics)
    svc = Service(core, {})
    try:
        first = core.flows.current.version
        flows.write_text("flows: [this is not a flow\n", encoding="utf-8")
        await svc.reload_flows()
        flows.write_text(FLOWS_YAML.read_text(encoding="utf-8").replace(
            "timeout: 2s", "timeout: 3s", 1), encoding="utf-8")
        await svc.reload_flows()
        await svc.reload_flows()
        second = core.flows.current.version
        samples = parse(metrics.render().decode())
        assert [total(samples, "ivr_flow_reloads_total", result=r)
                for r in ("failed", "changed", "unchanged")] == [1, 1, 1]
        assert labels_of(samples, "ivr_flows_info") == [{"version": second}]
        assert second != first
    finally:
        await core.close()


async def test_metrics_answer_loopback_and_the_token_only(service: Service) -> None:
    assert (await get(service, "/metrics"))[0] == 200  # 127.0.0.1, no token
    ok = await get(service, "/metrics", {"Authorization": f"Bearer {TOKEN}"})
    assert ok[0] == 200 and "ivr_calls_in_progress" in ok[2]
    status, _, text = await get(service, "/metrics", {"Authorization": "Bearer wrong"})
    assert status == 401
    assert "metrics: token:" in text


@pytest.mark.parametrize(("settings_change", "forwarded", "authorization", "status"), [
    # Behind the proxy the client is the address it appended (the last one).
    ({"trusted_proxy": True}, "10.1.2.3", None, 401),
    ({"trusted_proxy": True}, "10.1.2.3", f"Bearer {TOKEN}", 200),
    ({"trusted_proxy": True}, "10.1.2.3", f"bearer {TOKEN}", 200),
    ({"trusted_proxy": True}, "10.1.2.3", "Basic c2NyYXBlOnRva2Vu", 401),
    ({"trusted_proxy": True}, "127.0.0.1, 10.1.2.3", None, 401),
    ({"trusted_proxy": True}, "10.1.2.3, 127.0.0.1", None, 200),
    # Without trusted_proxy the header is the client's to invent: the peer counts.
    ({}, "10.1.2.3", None, 200),
])
async def test_metrics_behind_a_proxy(aiohttp_client: Any, make_app: Any,
                                      web_settings: Settings, settings_change: dict[str, Any],
                                      forwarded: str, authorization: str | None,
                                      status: int) -> None:
    settings = replace(web_settings, metrics_token=TOKEN, extra={"web": settings_change})
    client = await aiohttp_client(make_app(settings=settings, metrics=Metrics()))
    headers = {"X-Forwarded-For": forwarded}
    if authorization is not None:
        headers["Authorization"] = authorization
    resp = await client.get("/metrics", headers=headers)
    assert resp.status == status
    if status == 401:
        assert resp.headers["WWW-Authenticate"] == 'Bearer realm="ivr metrics"'


@pytest.mark.parametrize(("address", "loopback"), [
    ("127.0.0.1", True), ("127.0.0.2", True), ("127.255.255.254", True), ("::1", True),
    ("::ffff:127.0.0.1", True), ("10.1.2.3", False), ("192.168.1.20", False),
    ("::ffff:10.1.2.3", False), ("fe80::1", False), ("2001:db8::1", False), ("?", False),
    ("", False), ("localhost", False),
])
def test_what_counts_as_loopback(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback


LAN = "10.1.2.3"


@pytest.mark.parametrize(("peer", "client", "authorization", "token", "allowed"), [
    (LAN, LAN, None, TOKEN, False),
    (LAN, LAN, f"Bearer {TOKEN}", TOKEN, True),
    (LAN, LAN, f"Bearer {TOKEN}x", TOKEN, False),
    (LAN, LAN, f"Bearer {TOKEN[:-1]}", TOKEN, False),
    (LAN, LAN, "Bearer ", "", False),  # no token configured: nothing opens it
    (LAN, LAN, None, "", False),
    ("127.0.0.1", "127.0.0.1", None, "", True),
    ("127.0.0.1", "127.0.0.1", "Bearer stale", TOKEN, False),  # checked from here too
    ("::1", "::1", f"Bearer {TOKEN}", TOKEN, True),
    ("127.0.0.1", LAN, None, TOKEN, False),  # through the local proxy, from the LAN
    (LAN, "127.0.0.1", None, TOKEN, False),  # a LAN client sending the header itself
    (LAN, "127.0.0.1", f"Bearer {TOKEN}", TOKEN, True),
])
def test_the_metrics_access_rule(peer: str, client: str, authorization: str | None,
                                 token: str, allowed: bool) -> None:
    assert metrics_allowed(peer, client, authorization, token) is allowed


async def test_healthz_without_flows_keeps_its_fields(aiohttp_client: Any,
                                                      make_app: Any) -> None:
    client = await aiohttp_client(make_app(flows_version=lambda: "abc123"))
    assert await (await client.get("/healthz")).json() == {"status": "ok",
                                                           "flows_version": "abc123"}


async def test_a_pop_delivered_is_counted(web_store: Any) -> None:
    metrics = Metrics()
    dispatcher = Dispatcher(Presence(UserDirectory(USERS)), web_store, FixedClock(NOW),
                            metrics=metrics)
    inbox = Inbox()
    dispatcher.presence.attach("agent1", inbox.send)
    case_id = await open_case(web_store)
    assert await dispatcher.handle(PopEvent(PopState.RINGING, case_id, "Local/1001@agents"))
    assert (await inbox.next())["state"] == "ringing"
    samples = parse(metrics.render().decode())
    assert total(samples, "ivr_pop_seconds_count", state="ringing") == 1


def test_spilled_records_and_the_circuit_gauge() -> None:
    metrics = Metrics()
    metrics.record_spilled()
    metrics.database_circuit(True)
    samples = parse(metrics.render().decode())
    assert total(samples, "ivr_unsaved_records_total") == 1
    assert total(samples, "ivr_database_circuit_open") == 1
    metrics.database_circuit(False)
    assert total(parse(metrics.render().decode()), "ivr_database_circuit_open") == 0


async def circuit_gauge(svc: Service) -> float:
    return total(parse((await get(svc, "/metrics"))[2]), "ivr_database_circuit_open")


@pytest.mark.dates
async def test_the_circuit_gauge_follows_the_database(service: Service) -> None:
    # A real failure: the accounts table is taken away under the running service, so the
    # balance lookup fails at once in SQLite (no such table), three times in a row.
    db = service.core.settings.data_dir / "ivr.db"
    ctx = LookupContext(call_id="ops.circuit", caller=ONE_ACCOUNT_PHONE, dialled=HCMC,
                        language="vi")
    balance = {"account": "PE01000123456"}
    assert (await service.core.lookups.run("balance", balance, ctx)).status is LookupStatus.FOUND
    assert await circuit_gauge(service) == 0
    other = sqlite3.connect(db, isolation_level=None)
    try:
        other.execute("ALTER TABLE accounts RENAME TO accounts_away")
        for _ in range(FAILURES_TO_OPEN):
            failed = await service.core.lookups.run("balance", balance, ctx)
            assert failed.status is LookupStatus.ERROR and "no such table" in failed.error
        assert service.core.store.health.reads.state is Breaker.OPEN
        assert await circuit_gauge(service) == 1
        other.execute("ALTER TABLE accounts_away RENAME TO accounts")
    finally:
        other.close()
    # The service's database watch probes after the break and the first answer closes
    # the circuit; wait for that (bounded), then the gauge says so.
    for _ in range(200):
        if service.core.store.health.reads.state is Breaker.CLOSED:
            break
        await asyncio.sleep(0.05)
    assert service.core.store.health.reads.state is Breaker.CLOSED
    assert await circuit_gauge(service) == 0


def test_two_services_in_one_process_count_apart() -> None:
    one, two = Metrics(), Metrics()
    one.call_started("hotline")
    assert total(parse(one.render().decode()), "ivr_calls_started_total") == 1
    assert total(parse(two.render().decode()), "ivr_calls_started_total") == 0
    assert NO_METRICS.render() == b""


# -- settings ---------------------------------------------------------------------

def test_the_token_and_log_format_come_from_the_config_file_or_environment(
        tmp_path: Path) -> None:
    config = tmp_path / "ivr.yaml"
    config.write_text("metrics:\n  token: from-file\nlog_format: json\n")
    settings = load_settings({"IVR_CONFIG": str(config)})
    assert (settings.metrics_token, settings.log_format) == ("from-file", "json")
    settings = load_settings({"IVR_CONFIG": str(config), "IVR_METRICS_TOKEN": "from-env",
                              "IVR_LOG_FORMAT": "text"})
    assert (settings.metrics_token, settings.log_format) == ("from-env", "text")
    assert "metrics" not in settings.extra


def test_settings_mistakes_are_one_line(tmp_path: Path) -> None:
    config = tmp_path / "ivr.yaml"
    config.write_text("metrics:\n  tokn: x\n")
    with pytest.raises(SettingsError) as err:
        load_settings({"IVR_CONFIG": str(config)})
    assert str(err.value) == (f"{config}:2:3: error: unknown key under metrics: 'tokn'; the key "
                              "is 'token'")
    with pytest.raises(SettingsError) as err:
        load_settings({"IVR_LOG_FORMAT": "xml"})
    assert str(err.value) == "log_format must be text or json, not 'xml'"


# -- JSON log lines ---------------------------------------------------------------

def formatted(formatter: logging.Formatter, emit: Any) -> list[str]:
    """The lines ``emit()`` logs (to the ``ivr`` loggers) through ``formatter``."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    logger = logging.getLogger("ivr")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        emit()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return out.getvalue().splitlines()


def test_json_lines_have_the_fields_and_the_call_id() -> None:
    log = logging.getLogger("ivr.test_operations")

    def emit() -> None:
        log.info("before any call")
        with call_logging("1764300000.11"):
            log.warning("in the call: %s", "ringing")
            try:
                raise ValueError("broken")
            except ValueError:
                log.exception("with a traceback")
        log.info("after the call")

    lines = [json.loads(line) for line in formatted(json_formatter(), emit)
             if line.startswith("{")]
    assert [(r["level"], r["logger"], r["message"], r.get("call_id")) for r in lines] == [
        ("INFO", "ivr.test_operations", "before any call", None),
        ("WARNING", "ivr.test_operations", "in the call: ringing", "1764300000.11"),
        ("ERROR", "ivr.test_operations", "with a traceback", "1764300000.11"),
        ("INFO", "ivr.test_operations", "after the call", None),
    ]
    assert all(set(r) <= {"time", "level", "logger", "message", "call_id", "exc_info"}
               for r in lines)
    assert "ValueError: broken" in lines[2]["exc_info"]
    assert lines[0]["time"].endswith("+00:00")


def test_a_customer_code_is_masked_in_json_as_in_text() -> None:
    """A lookup failing with the account and PIN in its error text (a database driver
    quotes its parameters): the JSON message is the text line's message, masked."""
    async def broken(inputs: Mapping[str, Any], ctx: LookupContext) -> LookupResult:
        raise RuntimeError("no row for account PE01000123456 with pin 482913")

    registry = LookupRegistry([LookupSpec("balance", broken, returns={})])
    ctx = LookupContext("1764300000.11", ONE_ACCOUNT_PHONE, HCMC, "vi")

    def emit() -> None:
        with call_logging(ctx.call_id):
            result = asyncio.run(registry.run("balance", {"account": "PE01000123456"}, ctx))
        assert result.status is LookupStatus.ERROR

    text = formatted(logging.Formatter(TEXT_FORMAT), emit)
    lines = formatted(json_formatter(), emit)
    assert len(text) == len(lines) == 1
    record = json.loads(lines[0])
    assert text[0].endswith(f"ivr.lookups: {record['message']}")
    assert record["message"] == ("lookup balance failed (call 1764300000.11): RuntimeError: "
                                 "no row for account PE*******3456 with pin **2913")
    assert record["call_id"] == "1764300000.11"
    for line in (text[0], lines[0]):
        assert "01000123456" not in line and "482913" not in line


def test_use_log_format_switches_the_handlers() -> None:
    root = logging.Logger("probe")
    out = io.StringIO()
    root.addHandler(logging.StreamHandler(out))
    use_log_format("json", root)
    root.warning("hello")
    assert json.loads(out.getvalue())["message"] == "hello"
    with pytest.raises(ValueError):
        use_log_format("xml", root)


@pytest.fixture
def serve_json(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **PINNED, "IVR_LOG_FORMAT": "json",
           "IVR_DATA_DIR": str(tmp_path / "var")}
    for name in ("IVR_DATABASE_URL", "IVR_DB", "IVR_CONFIG", "IVR_FLOWS", "IVR_PROMPTS"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ivr", "serve", "--agi-port", "0", "--web-port", "0",
         "--no-prompt-build", "--flows", str(FLOWS_YAML), "--prompts", str(PROMPTS_YAML)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.dates
def test_ivr_serve_writes_json_lines(serve_json: subprocess.Popen[str]) -> None:
    proc = serve_json
    assert proc.stdout is not None and proc.stderr is not None
    banner: dict[str, str] = {}
    for line in proc.stdout:  # the start-up banner stays text, on stdout
        if line.startswith("ivr: FastAGI listening on "):
            banner["agi"] = line.split()[4].rsplit(":", 1)[1]
        if line.startswith("ivr: web app on "):
            banner["web"] = line.split()[4]
            break
    assert set(banner) == {"agi", "web"}, proc.stderr.read()
    # A flow name the hotline does not have: the engine says so in a line of the call's.
    asyncio.run(run_call("127.0.0.1", int(banner["agi"]), PatientCaller(BILLING_KEYS),
                         script="no-such-flow", extension=HCMC, uniqueid="ops.json",
                         callerid=ONE_ACCOUNT_PHONE))
    with urllib.request.urlopen(banner["web"] + "metrics", timeout=30) as resp:
        samples = parse(resp.read().decode())
    assert total(samples, "ivr_calls_total") == 1
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    lines = [line for line in proc.stderr.read().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any(r.get("call_id") == "ops.json" and "no-such-flow" in r["message"]
               for r in records), lines
    assert any(r["message"].startswith("stopping (calls in progress") for r in records)


def test_serve_takes_log_format_on_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from ivr.cli import build_parser
    from ivr.cli.serve import settings_from_args

    monkeypatch.setenv("IVR_LOG_FORMAT", "text")
    args = build_parser().parse_args(["serve", "--log-format", "json"])
    assert settings_from_args(args).log_format == "json"  # the command line wins
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--log-format", "xml"])
