"""``ivr loadtest`` end to end (in-process server, small N) and its input checks."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from ivr.cli import main
from ivr.testing.callers import SilentCaller
from ivr.testing.fake_asterisk import DEAD, FakeCall
from ivr.testing.load import percentile

#: PE02000111111's phone: its ward has an active unplanned outage (docs/demo-data.md).
OUTAGE_AREA_PHONE = "0903456789"


def test_loadtest_self_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["loadtest", "--self", "--calls", "40", "--concurrency", "20",
                 "--no-progress", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["calls"] == out["completed"] == 40
    assert out["commands"] == 40 * 17  # the minimal handler's longest path
    assert out["commands_per_second"] > 0 and out["p99_ms"] >= out["p50_ms"] > 0


def test_loadtest_with_hanging_up_callers(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["loadtest", "--self", "--calls", "10", "--caller", "hangup",
                 "--hangup-after", "3", "--no-progress"])
    assert code == 0
    assert "calls          10 (10 ended by the server)" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["--host", "192.168.1.10"], "not a loopback address"),
    (["--host", "pbx.example"], "not an IP address"),
    (["--keys", "12a"], "--keys may hold only"),
    (["--calls", "0"], "at least 1"),
])
def test_loadtest_refuses_bad_input(argv: list[str], message: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["loadtest", *argv]) == 2
    assert message in capsys.readouterr().err


def test_percentile_nearest_rank() -> None:
    values = [float(i) for i in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile([], 50)) == (
        50.0, 99.0, 0.0)


def test_per_call_lines_and_a_transcript(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    lines, wire = tmp_path / "calls.jsonl", tmp_path / "wire.txt"
    code = main(["loadtest", "--self", "--calls", "12", "--concurrency", "4", "--no-progress",
                 "--per-call", str(lines), "--transcript", str(wire), "--json"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["completed"] == 12
    calls = [json.loads(line) for line in lines.read_text().splitlines()]
    assert len(calls) == 12 and len({c["call_id"] for c in calls}) == 12
    for c in calls:
        assert c["closed_by_server"] and not c["parked"]
        assert c["commands"] == 17 and c["turn_max_ms"] >= c["turn_p50_ms"] > 0
        assert c["prompts"] and all(p.startswith("ivr/") for p in c["prompts"])
        assert "outcome" not in c  # no --db: the wire's facts only
    text = wire.read_text().splitlines()
    assert text[0] == "<< agi_network: yes" and text[text.index("<<") + 1].startswith(">> ")
    assert sum(line.startswith(">> ") for line in text) == 17
    assert f"<< agi_uniqueid: {calls[0]['call_id']}" in text


def test_hanging_up_a_parked_call_as_asterisk_does() -> None:
    """A caller hanging up in a prompt: the prompt answers -1 and the HANGUP line follows
    (agi-hangup-during-get-data.txt); every later media command is refused with 511."""
    call = FakeCall(SilentCaller())
    assert call.hang_up_in('STREAM FILE ivr/vi/welcome "0123456789*#"') == [
        "200 result=-1 endpos=0", "HANGUP"]
    assert call.handle("CHANNEL STATUS") == [DEAD]
    assert call.handle("GET VARIABLE X") == ["200 result=0"]
    assert FakeCall(SilentCaller()).hang_up_in("WAIT FOR DIGIT 5000") == [
        "200 result=-1", "HANGUP"]


@pytest.mark.dates
async def test_hold_ends_n_calls_with_n_abandoned_records(tmp_path: Path) -> None:
    """A storm's end: 30 callers from the outage area wait in the announcement, then all
    hang up at once; every call leaves an abandoned record, read back call by call."""
    from test_e2e_serve import HCMC, PINNED, e2e_settings

    from ivr.service import Service, open_core

    settings = e2e_settings(tmp_path)
    core = await open_core(settings, PINNED)
    svc = Service(core, {}, build_prompts=False)
    await svc.start()
    n = 30
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ivr", "loadtest", "--port", str(svc.agi_port),
            "--calls", str(n), "--hold", "--callerid", OUTAGE_AREA_PHONE, "--extension", HCMC,
            "--per-call", "-", "--json", "--no-progress", "--db", settings.database_url,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        await svc.agi.wait_idle()  # the sockets close first, the records are saved after
        records = await core.store.list_calls(limit=100, synthetic=True)
        real = await core.store.list_calls(limit=100)
        since = core.clock.now() - timedelta(hours=1)
        report = await core.store.call_report(since=since)
        with_synthetic = await core.store.call_report(since=since, synthetic=True)
    finally:
        await svc.stop(grace=2.0)
    assert proc.returncode == 0, err.decode()
    summary = json.loads(err.decode().splitlines()[-1])
    assert (summary["held"], summary["completed"], summary["records"]) == (n, n, n)
    assert summary["outcomes"] == {"abandoned": n}
    calls = [json.loads(line) for line in out.decode().splitlines()]
    assert len(calls) == n
    for c in calls:
        assert c["parked"] and c["hung_up"] and c["closed_by_server"]
        assert c["outcome"] == "abandoned"
        [lookup] = c["lookups"]
        assert lookup["lookup"] == "outage_for_caller" and lookup["ms"] >= 0
        if lookup["status"] == "found":
            assert c["prompts"] == ["ivr/vi/outage_in_area"]  # the announcement, cut short
            assert c["path"][-1] == "unplanned_outage"
        else:  # a machine too busy for the lookup's 1.5 s: the greeting without it
            assert lookup["status"] == "timeout" and c["path"][-1] == "welcome", c
    assert sorted(r["call_id"] for r in records) == sorted(c["call_id"] for c in calls)
    assert {r["outcome"] for r in records} == {"abandoned"}
    # Load-test calls are marked, and the numbers a supervisor reads leave them out.
    assert {r["synthetic"] for r in records} == {True}
    assert real == [] and report["total"] == 0 and report["synthetic"] == "exclude"
    assert with_synthetic["total"] == n and with_synthetic["outcomes"]["abandoned"] == n
    assert err.decode().splitlines()[0] == (
        f"loadtest: {n} calls to agi://127.0.0.1:{svc.agi_port}/hotline?synthetic=1: the "
        "server keeps their call records and cases marked synthetic, left out of every report "
        f"unless asked for (synthetic=include); their records are read back from "
        f"{settings.database_url}")
