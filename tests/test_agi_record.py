"""The ``record`` node over loopback TCP with the fake Asterisk (which writes the file as
Asterisk does on its host), the recording stored with the case, and served to staff who
may read that case, by id only."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path
from typing import Any

import pytest
from agi_fixtures import serving
from sqlalchemy import insert
from web_helpers import NOW, ROOT, login

from ivr.calls import CallRecord
from ivr.clock import FixedClock
from ivr.config.settings import Settings
from ivr.engine.engine import Engine
from ivr.flows.source import FlowSource
from ivr.prompts.catalog import PromptCatalog
from ivr.store import Store
from ivr.store.lookups import build_lookups
from ivr.store.models import recordings
from ivr.testing.callers import Caller, PatientCaller, Speech
from ivr.testing.fake_asterisk import CallTranscript, run_call

pytest_plugins = ("web_fixtures",)
#: The seeded store and the engine run on the fixed clock: any day gives the same call.
pytestmark = pytest.mark.dates


def _engine(store: Store, tmp_path: Path, recordings_dir: Path,
            flows_path: Path = ROOT / "config" / "flows.yaml") -> Engine:
    catalog = PromptCatalog.load(ROOT / "config" / "prompts.yaml")
    lookups = build_lookups(store)
    flows = FlowSource.load(flows_path, lookups=lookups.names(), catalog=catalog)
    return Engine(flows, lookups, catalog, store, FixedClock(NOW),
                  unsaved_path=tmp_path / "unsaved.jsonl", recordings_dir=str(recordings_dir))


async def _call(engine: Engine, caller: Caller) -> tuple[CallTranscript, CallRecord]:
    records: list[CallRecord] = []

    async def handler(channel: Any) -> None:
        records.append(await engine.run(channel))

    async with serving(handler) as server:
        transcript = await run_call("127.0.0.1", server.port, caller, dnid="1900545454")
        await server.wait_idle()  # the socket closes first, the record is saved after
    assert transcript.closed_by_server
    return transcript, records[0]


def _safety_caller(*speech: Speech) -> PatientCaller:
    """Presses 1 (safety) at the greeting's wait, then says ``speech`` at the beep."""
    return PatientCaller("1", speech=speech)


async def test_a_described_hazard_is_recorded_with_the_case(
        web_store: Store, web_settings: Settings, tmp_path: Path) -> None:
    where = web_settings.recordings_path
    engine = _engine(web_store, tmp_path, where)
    transcript, record = await _call(engine, _safety_caller(Speech(7.0, "#")))
    [made] = transcript.recordings
    command = next(c for c in transcript.commands if c.startswith("RECORD FILE "))
    assert command == f'RECORD FILE {made.file} wav "#" 30000 0 BEEP s=3'
    assert made.beep and made.silence_seconds == 3 and made.escape == "#"
    assert made.reply == "200 result=35 (dtmf) endpos=54400"  # 7 s less the # tone
    assert made.written is not None and Path(made.written).parent == where
    with wave.open(made.written) as w:
        assert (w.getframerate(), w.getnframes()) == (8000, 54400)
    assert record.outcome.value == "transferred" and record.transfer_queue == "safety"
    assert ("describe_hazard", "recorded") in [(s.node, s.result) for s in record.inputs]
    case = await web_store.get_case(str(record.case_id))
    assert case is not None and case["intent"] == "electrical_safety"
    [stored] = case["recordings"]
    assert stored["seconds"] == pytest.approx(6.8)
    found = await web_store.get_recording(int(stored["id"]))
    assert found == {"id": stored["id"], "path": Path(made.written).name,
                     "seconds": pytest.approx(6.8), "case_id": case["id"]}


async def test_silence_at_the_beep_goes_on_to_the_queue_without_a_recording(
        web_store: Store, web_settings: Settings, tmp_path: Path) -> None:
    engine = _engine(web_store, tmp_path, web_settings.recordings_path)
    transcript, record = await _call(engine, _safety_caller())  # says nothing
    [made] = transcript.recordings
    assert made.reply == "200 result=27000 (timeout) endpos=8000"  # 1 s of silence kept
    assert made.written is not None and not Path(made.written).exists()  # nothing to keep
    assert ("describe_hazard", "no_input") in [(s.node, s.result) for s in record.inputs]
    assert record.transfer_queue == "safety"  # on_silence: the emergency is not held up
    case = await web_store.get_case(str(record.case_id))
    assert case is not None and case["recordings"] == []


async def test_asterisk_unable_to_write_the_file_is_a_note_not_a_dead_end(
        web_store: Store, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the recordings directory should be")
    engine = _engine(web_store, tmp_path, blocker / "recordings")
    transcript, record = await _call(engine, _safety_caller(Speech(5.0, "#")))
    assert [r.reply for r in transcript.recordings] == ["200 result=-1 (writefile)"]
    assert record.transfer_queue == "safety"
    case = await web_store.get_case(str(record.case_id))
    assert case is not None and case["recordings"] == []
    assert case["facts"]["failures"] == ["record describe_hazard: writefile"]


async def test_a_hang_up_while_recording_ends_the_call_as_abandoned(
        web_store: Store, web_settings: Settings, tmp_path: Path) -> None:
    engine = _engine(web_store, tmp_path, web_settings.recordings_path)
    transcript, record = await _call(engine, _safety_caller(Speech(4.0, "hangup")))
    assert [r.reply for r in transcript.recordings] == ["200 result=-1 (hangup) endpos=32000"]
    assert record.outcome.value == "abandoned" and record.case_id is None


RETRY_FLOWS = """\
version: 1
defaults:
  no_input: [no_input_1]
flows:
  hotline:
    start: complaint
    nodes:
      complaint:
        record:
          prompt: describe_hazard
          max_seconds: 2m
          silence: false
          beep: false
          finish_on: "#*"
          retries: 2
        next: agent
        on_silence: bye
      bye:
        hangup: goodbye
"""


async def test_nothing_said_plays_the_no_input_prompt_and_records_again(
        web_store: Store, web_settings: Settings, tmp_path: Path) -> None:
    flows = tmp_path / "flows.yaml"
    flows.write_text(RETRY_FLOWS, encoding="utf-8")
    engine = _engine(web_store, tmp_path, web_settings.recordings_path, flows)
    caller = PatientCaller("", speech=(Speech(0.5, "#"), Speech(12.0, "*")))
    transcript, record = await _call(engine, caller)
    records = [c for c in transcript.commands if c.startswith("RECORD FILE ")]
    assert [c.split(" ", 3)[3] for c in records] == ['wav "#*" 120000'] * 2  # no beep, no s=
    assert [r.reply for r in transcript.recordings] == [
        "200 result=35 (dtmf) endpos=2400", "200 result=42 (dtmf) endpos=94400"]
    streamed = [f.rsplit("/", 1)[-1] for f in transcript.streamed]
    assert streamed[:3] == ["describe_hazard", "no_input_1", "describe_hazard"]
    assert [(s.node, s.result) for s in record.inputs] == [
        ("complaint", "no_input"), ("complaint", "recorded")]
    case = await web_store.get_case(str(record.case_id))
    assert case is not None and [r["seconds"] for r in case["recordings"]] == [11.8]


async def test_the_recording_is_served_to_staff_who_may_read_the_case_only(
        web_store: Store, web_settings: Settings, tmp_path: Path, aiohttp_client: Any,
        make_app: Any) -> None:
    engine = _engine(web_store, tmp_path, web_settings.recordings_path)
    transcript, record = await _call(engine, _safety_caller(Speech(3.0, "#")))
    case = await web_store.get_case(str(record.case_id))
    assert case is not None
    rec_id = case["recordings"][0]["id"]
    written = transcript.recordings[0].written
    assert written is not None

    anonymous = await aiohttp_client(make_app())
    assert (await anonymous.get(f"/api/recordings/{rec_id}")).status == 401

    other = await aiohttp_client(make_app())
    await login(other, "agent2")  # serves agents and hotline, not safety
    assert (await other.get(f"/api/recordings/{rec_id}")).status == 403

    agent = await aiohttp_client(make_app())
    await login(agent, "agent3")  # the safety desk
    resp = await agent.get(f"/api/recordings/{rec_id}")
    assert resp.status == 200 and resp.headers["Content-Type"] == "audio/wav"
    assert await resp.read() == Path(written).read_bytes()
    for bad in ("..%2F..%2Fivr.db", "1.wav", "999999", "-1", "1" * 13):
        assert (await agent.get(f"/api/recordings/{bad}")).status == 404, bad

    # A row naming a file outside the directory (written behind the store's back) is
    # never followed out of it.
    secret = tmp_path / "var" / "secret.wav"
    secret.write_bytes(b"RIFF not yours")
    async with web_store.engine.begin() as conn:
        row = (await conn.execute(insert(recordings).values(
            case_id=1, call_id="x", path="../secret.wav", duration=1.0, created_at=NOW)
            .returning(recordings.c.id))).scalar_one()
    boss = await aiohttp_client(make_app())
    await login(boss, "boss")
    assert (await boss.get(f"/api/recordings/{row}")).status == 404
    assert (await boss.get(f"/api/recordings/{rec_id}")).status == 200


async def test_the_softphone_cannot_record_and_the_safety_call_goes_on(
        aiohttp_client: Any, make_app: Any, web_store: Store, web_dispatcher: Any,
        tmp_path: Path) -> None:
    from web_helpers import CALLER, HCMC_HOTLINE, live_engine

    from ivr.screenpop.builtin_queue import BuiltinQueue
    from ivr.web.keys import CALLS

    live = live_engine(web_store, tmp_path)
    app = make_app(engine=live.engine, catalog=live.catalog, flow_names=live.flow_names,
                   builtin_queue=BuiltinQueue(web_dispatcher))
    caller = await aiohttp_client(app)
    await login(caller, "agent1")
    phone = await caller.ws_connect("/ws/softphone")
    await phone.send_json({"type": "start", "flow": "hotline", "caller": CALLER,
                           "dialled": HCMC_HOTLINE})
    assert (await phone.receive_json(timeout=5))["type"] == "started"
    heard: list[str] = []
    pressed = False
    while True:  # 1 at the greeting's question, then listen until the transfer
        msg = await phone.receive_json(timeout=5)
        if msg["type"] == "play":
            heard += [p["id"] for p in msg["prompts"]]
            if "1" in msg["escape"] and not pressed:
                pressed = True
                await phone.send_json({"type": "key", "key": "1"})
            else:
                await phone.send_json({"type": "played", "seq": msg["seq"]})
        elif msg["type"] == "transfer":
            case_id = msg["case_id"]
            break
    # Not asked to speak when nothing can record it: straight on to the safety queue.
    assert "describe_hazard" not in heard and msg["queue"] == "safety"
    await phone.close()
    await asyncio.gather(*app[CALLS])
    case = await web_store.get_case(case_id)
    assert case is not None and case["recordings"] == []
    assert {"node": "describe_hazard", "result": "cannot_record"}.items() <= next(
        i for i in case["inputs"] if i["node"] == "describe_hazard").items()
