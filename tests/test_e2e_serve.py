"""End to end: the demo hotline served by the composed service (what ``ivr serve``
runs) over real TCP, called by the fake Asterisk speaking the recorded wire format."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ivr.config.settings import Settings
from ivr.prompts import speech_vi
from ivr.service import Service, open_core
from ivr.testing.callers import Caller, HangUpCaller, ImpatientCaller, PatientCaller
from ivr.testing.fake_asterisk import CallTranscript, QueueOutcome, run_call

ROOT = Path(__file__).resolve().parent.parent
FLOWS_YAML = ROOT / "config" / "flows.yaml"
PROMPTS_YAML = ROOT / "config" / "prompts.yaml"
HCMC = "1900545454"
ONE_ACCOUNT_PHONE = "0901234567"  # PE01000123456, unpaid bill (docs/demo-data.md)
# silent at the safety offer, 2 billing, 1 use the registered account, 2 goodbye,
# silent at the survey
BILLING_KEYS = "-212-"
#: The demo data follows the month it is seeded in (ivr/store/seed.py), and opening
#: hours follow the time of day: every call here lives on one pinned weekday morning.
PINNED = {"IVR_NOW": "2026-11-26T10:00:00+07:00"}
#: Their clock comes from IVR_NOW: ``scripts/dev test-dates`` runs them on other days.
pytestmark = pytest.mark.dates


def e2e_settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path, agi_port=0, web_port=0, flows_path=FLOWS_YAML,
        prompts_path=PROMPTS_YAML, seed_demo=True,
    )


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    core = await open_core(e2e_settings(tmp_path), PINNED)
    svc = Service(core, {}, build_prompts=False)
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop(grace=2.0)


async def call(svc: Service, caller: Caller, uniqueid: str, **options: Any) -> CallTranscript:
    options.setdefault("callerid", ONE_ACCOUNT_PHONE)
    transcript = await run_call("127.0.0.1", svc.agi_port, caller, extension=HCMC,
                                uniqueid=uniqueid, **options)
    assert svc.agi is not None
    await svc.agi.wait_idle()  # the socket closes first, the record is saved after
    return transcript


async def record_of(svc: Service, call_id: str) -> dict[str, Any]:
    for record in await svc.core.store.list_calls(limit=1000):
        if record["call_id"] == call_id:
            return record
    raise AssertionError(f"no call record for {call_id}")


def streamed(transcript: CallTranscript) -> list[str]:
    return [c.split()[2] for c in transcript.commands if c.startswith("STREAM FILE ")]


async def test_billing_call_speaks_the_real_balance(service: Service) -> None:
    transcript = await call(service, PatientCaller(BILLING_KEYS), "e2e.billing")
    assert transcript.closed_by_server
    files = streamed(transcript)
    # The demo account's unpaid bill, from the seeded data, as a Vietnamese speaker says it
    # (476,534 dong: "bốn trăm bảy mươi sáu nghìn năm trăm ba mươi tư đồng" when seeded on
    # the pinned day).
    bill = await service.core.store.balance("PE01000123456")
    assert bill is not None and not bill["paid"]
    amount = speech_vi.money(int(bill["amount_due"]))
    assert amount == ["w_bon", "w_tram", "w_bay", "w_muoi_tens", "w_sau", "w_nghin",
                      "w_nam", "w_tram", "w_ba", "w_muoi_tens", "w_tu", "w_dong"]
    ids = [f.rsplit("/", 1)[1] for f in files]
    assert any(ids[i:i + len(amount)] == amount for i in range(len(ids))), ids
    assert all(f.startswith("ivr/vi/") for f in files)
    record = await record_of(service, "e2e.billing")
    assert record["outcome"] == "self_served"
    assert record["dialled"] == HCMC
    assert record["flow_version"] == service.core.flows.current.version


async def test_barge_in_and_patient_callers_reach_the_same_result(service: Service) -> None:
    patient = await call(service, PatientCaller(BILLING_KEYS), "e2e.patient")
    impatient = await call(service, ImpatientCaller(BILLING_KEYS), "e2e.impatient")
    p = await record_of(service, "e2e.patient")
    i = await record_of(service, "e2e.impatient")
    assert p["outcome"] == i["outcome"] == "self_served"
    assert [s["node"] for s in p["path"]] == [s["node"] for s in i["path"]]
    # The impatient caller cut prompts short: fewer waits for digits.
    assert (sum(c.startswith("WAIT FOR DIGIT") for c in impatient.commands)
            < sum(c.startswith("WAIT FOR DIGIT") for c in patient.commands))


async def test_zero_hands_the_case_to_the_queue(service: Service) -> None:
    transcript = await call(service, PatientCaller("-0"), "e2e.agent",
                            queue=QueueOutcome.answered("Local/1001@agents"))
    sets = [c for c in transcript.commands if c.startswith("SET VARIABLE __IVR_CASE_ID ")]
    assert len(sets) == 1
    case_id = sets[0].split()[-1]
    queue_cmds = [c for c in transcript.commands if c.startswith("EXEC Queue ")]
    assert queue_cmds and queue_cmds[0].startswith("EXEC Queue hotline,c")
    # The case id is set before the queue runs, so the agent leg inherits it.
    assert transcript.commands.index(sets[0]) < transcript.commands.index(queue_cmds[0])
    case = await service.core.store.get_case(case_id)
    assert case is not None
    assert case["caller"] == ONE_ACCOUNT_PHONE
    assert case["queue"] == "hotline"
    record = await record_of(service, "e2e.agent")
    assert record["outcome"] == "transferred"
    assert record["case_id"] == case_id


async def test_queue_timeout_offers_a_callback(service: Service) -> None:
    transcript = await call(service, PatientCaller("-0"), "e2e.timeout",
                            queue=QueueOutcome.unanswered("TIMEOUT"))
    files = streamed(transcript)
    assert any("callback" in f for f in files), files


async def test_hangup_after_every_command_is_recorded_abandoned(tmp_path: Path) -> None:
    core = await open_core(e2e_settings(tmp_path), PINNED)
    svc = Service(core, {}, build_prompts=False)
    await svc.start()
    try:
        full = await call(svc, PatientCaller(BILLING_KEYS), "e2e.full")
        n = full.command_count
        assert n > 20
        for k in range(1, n):
            t = await call(svc, HangUpCaller(k, PatientCaller(BILLING_KEYS)), f"e2e.k{k}")
            assert t.hung_up, k
            record = await record_of(svc, f"e2e.k{k}")
            assert record["outcome"] == "abandoned", (k, record["outcome"])
        # And the server is healthy for the next caller.
        again = await call(svc, PatientCaller(BILLING_KEYS), "e2e.after")
        assert again.command_count == n
        assert (await record_of(svc, "e2e.after"))["outcome"] == "self_served"
        assert svc.agi is not None and svc.agi.active_calls == 0
    finally:
        await svc.stop(grace=2.0)


async def test_reload_serves_new_calls_and_keeps_a_broken_file_out(tmp_path: Path) -> None:
    flows = tmp_path / "flows.yaml"
    flows.write_text(FLOWS_YAML.read_text(encoding="utf-8"), encoding="utf-8")
    settings = replace(e2e_settings(tmp_path), flows_path=flows)
    core = await open_core(settings, PINNED)
    svc = Service(core, {}, build_prompts=False)
    await svc.start()
    try:
        first = core.flows.current.version
        flows.write_text("flows: [this is not a flow\n", encoding="utf-8")
        await svc.reload_flows()
        assert core.flows.current.version == first
        t = await call(svc, PatientCaller(BILLING_KEYS), "e2e.reload1")
        assert (await record_of(svc, "e2e.reload1"))["flow_version"] == first
        assert t.closed_by_server
        text = FLOWS_YAML.read_text(encoding="utf-8").replace("timeout: 2s", "timeout: 3s", 1)
        flows.write_text(text, encoding="utf-8")
        await svc.reload_flows()
        second = core.flows.current.version
        assert second != first
        await call(svc, PatientCaller(BILLING_KEYS), "e2e.reload2")
        assert (await record_of(svc, "e2e.reload2"))["flow_version"] == second
    finally:
        await svc.stop(grace=2.0)


async def test_records_spilled_to_disk_reach_the_database_on_next_start(
    tmp_path: Path,
) -> None:
    """The engine spills a record to var/unsaved-calls.jsonl when the database is down;
    the next start saves it, and keeps a line it cannot read for an operator."""
    import json
    from dataclasses import asdict
    from datetime import UTC, datetime

    from ivr.calls import CallRecord, Outcome, PathStep, jsonable

    at = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    record = CallRecord(
        call_id="spilled.1", flow="hotline", flow_version="abc", caller="0901234567",
        dialled=HCMC, language="vi", started_at=at, ended_at=at, outcome=Outcome.ABANDONED,
        path=(PathStep("hotline", "welcome", at),), channel="fastagi",
    )
    spill = tmp_path / "unsaved-calls.jsonl"
    spill.write_text(json.dumps(jsonable(asdict(record))) + "\n{not json\n", encoding="utf-8")
    core = await open_core(e2e_settings(tmp_path), PINNED)
    try:
        calls = await core.store.list_calls(limit=10)
        assert [c["call_id"] for c in calls] == ["spilled.1"]
        assert calls[0]["outcome"] == "abandoned"
        assert not spill.exists()
        assert (tmp_path / "unsaved-calls.jsonl.failed").read_text() == "{not json\n"
    finally:
        await core.close()
