"""`ivr simulate --keys ... --json` through each main-menu branch of the demo hotline,
on the real store (SQLite in tmp_path, seeded with the documented demo accounts)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ivr.cli import main
from ivr.clock import FixedClock
from ivr.store import Store
from ivr.store.watch import prepare_database

ROOT = Path(__file__).resolve().parent.parent
#: A Tuesday morning: the new-connections desk is open.
NOW = "2026-12-01T10:00:00+07:00"
UNPAID_CALLER = "0901234567"
OUTAGE_CALLER = "0903456789"
TWO_ACCOUNTS_CALLER = "0904567890"
#: Their clock comes from IVR_NOW: ``scripts/dev test-dates`` runs them on other days.
pytestmark = pytest.mark.dates


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The demo database, seeded once: each call runs on a throwaway copy of it."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sim') / 'ivr.db'}"
    asyncio.run(_seeded(url))
    return url


async def _seeded(url: str) -> None:
    store = await Store.open(url, clock=FixedClock(datetime.fromisoformat(NOW)))
    try:
        await prepare_database(store, seed_demo=True)
    finally:
        await store.close()


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("IVR_NOW", NOW)
    monkeypatch.setenv("IVR_DATA_DIR", str(tmp_path))


def simulate(capsys: pytest.CaptureFixture[str], db_url: str, keys: str, *extra: str) -> Any:
    code = main(["simulate", "--db", db_url, "--keys", keys, "--json", *extra])
    out = capsys.readouterr().out
    result = json.loads(out)
    result["exit"] = code
    return result


def ids(result: Any) -> list[str]:
    return [e["id"] for e in result["events"] if e["type"] == "prompt"
            and not e["id"].startswith("w_")]


def text(result: Any) -> str:
    return " ".join(e["text"] for e in result["events"] if e["type"] == "prompt")


def test_billing_branch_reads_the_real_balance(capsys: Any, db_url: str) -> None:
    result = simulate(capsys, db_url, "- 2 1 2 5")
    assert result["exit"] == 0 and result["outcome"] == "self_served"
    assert {"bill_for_period_ending", "amount_due_is", "due_date_is"} <= set(ids(result))
    assert "đồng" in text(result)
    assert result["events"][0] == {"type": "prompt", "id": "welcome", "text": (
        "Xin chào quý khách, cảm ơn quý khách đã gọi đến Tổng đài chăm sóc khách hàng "
        "ngành điện.")}
    assert {"type": "input", "digits": "2", "ended_by": "max_digits"} in result["events"]
    assert result["case_id"] is None and result["transfer"] is None


def test_outages_branch_files_a_report_and_reads_the_ticket(capsys: Any, db_url: str) -> None:
    result = simulate(capsys, db_url, "- 1 1 1 2 -")
    assert "your_ticket_is" in ids(result)
    assert result["outcome"] == "self_served"


def test_outage_caller_hears_the_outage_at_the_greeting(capsys: Any, db_url: str) -> None:
    result = simulate(capsys, db_url, "- 1 1 2 -", "--caller", OUTAGE_CALLER)
    assert ids(result)[0] in ("outage_in_area", "outage_planned_in_area")
    assert "outage_at_your_address" in ids(result)
    # docs/demo-data.md: the Quận 3 outage is a line fault; callers hear why, twice here
    # (greeting, then the outages branch).
    assert ids(result).count("cause_line_fault") == 2


def test_planned_works_tomorrow_are_not_announced_as_an_outage_now(
    capsys: Any, db_url: str
) -> None:
    # PE07000333333 (docs/demo-data.md): maintenance tomorrow 08:00-16:00, power on now.
    result = simulate(capsys, db_url, "- 1 1 2 -", "--caller", "0905678901")
    assert "outage_at_your_address" not in ids(result)
    said = ids(result)
    assert said[said.index("planned_works_from"):][:4] == [
        "planned_works_from", "planned_works_until", "no_outage_known", "press_1_to_report"]
    assert "tám giờ ngày hai tháng mười hai" in text(result)


def test_meter_reading_branch(capsys: Any, db_url: str) -> None:
    result = simulate(capsys, db_url, "- 3 1 2 -")
    assert {"meter_index_is", "read_on"} <= set(ids(result))


def test_service_request_branch_transfers_with_a_case(capsys: Any, db_url: str) -> None:
    result = simulate(capsys, db_url, "- 4 1")
    assert "your_reference_is" in ids(result)
    assert result["outcome"] == "transferred"
    assert result["transfer"]["queue"] == "new_connections"
    assert result["case_id"] and result["transfer"]["case_id"] == result["case_id"]


def test_agent_key_transfers_with_a_case(capsys: Any, db_url: str) -> None:
    result = simulate(capsys, db_url, "- 0")
    assert result["outcome"] == "transferred"
    assert result["transfer"] == {"queue": "hotline", "priority": 0,
                                  "case_id": result["case_id"], "status": "completed"}


def test_safety_path(capsys: Any, db_url: str) -> None:
    result = simulate(capsys, db_url, "1")
    assert (result["transfer"]["queue"], result["transfer"]["priority"]) == ("safety", 10)


def test_language_switch_and_english_prompts(capsys: Any, db_url: str) -> None:
    result = simulate(capsys, db_url, "- 9 2 1 2 5")
    assert "Here is your latest electricity bill, for the period ending" in text(result)
    english = simulate(capsys, db_url, "- 3 1 2 -", "--lang", "en")
    assert english["events"][0]["text"].startswith("Hello")


def test_two_accounts_caller_keys_the_code(capsys: Any, db_url: str) -> None:
    result = simulate(capsys, db_url, "- 2 03000222222# 1 2 -", "--caller",
                      TWO_ACCOUNTS_CALLER)
    assert "you_entered" in ids(result) and "bill_for_period_ending" in ids(result)


def test_repeat_and_running_out_of_keys_is_abandoned(capsys: Any, db_url: str) -> None:
    result = simulate(capsys, db_url, "- *")
    assert ids(result).count("main_menu") == 2
    assert result["outcome"] == "abandoned" and result["events"][-1]["type"] == "hangup"


def test_human_output(capsys: Any, db_url: str) -> None:
    assert main(["simulate", "--db", db_url, "--keys", "- 3 1 2 -"]) == 0
    out = capsys.readouterr().out
    assert "  IVR  Xin chào quý khách" in out and "  you  (silence)" in out
    assert out.splitlines()[-1].startswith("-- self_served")


def test_unknown_flow_is_a_usage_error(capsys: Any, db_url: str) -> None:
    assert main(["simulate", "--db", db_url, "--flow", "nope", "--keys", "-"]) == 2
    note, error = capsys.readouterr().err.splitlines()
    assert note.startswith("simulate: on a throwaway copy of ")
    assert error.startswith("ivr: error: no flow 'nope' in")


def test_interactive_reads_keys_from_stdin(capsys: Any, db_url: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("-\n3\n1\n2\nh\n"))
    assert main(["simulate", "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert "  you  3" in out and "-- abandoned" in out


def test_new_connections_desk_closed_on_sunday_offers_a_callback(
    capsys: Any, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR_NOW", "2026-12-06T10:00:00+07:00")
    result = simulate(capsys, db_url, "- 4 1 1 -")
    assert "new_connections_closed" in ids(result)
    assert ids(result)[-3:] == ["callback_confirmed", "survey_question", "goodbye"]
    assert result["transfer"] is None


def test_broken_flows_file_prints_diagnostics(capsys: Any, db_url: str, tmp_path: Path) -> None:
    broken = tmp_path / "flows.yaml"
    broken.write_text("flows:\n  hotline:\n    start: a\n    nodes:\n      a: {play: hi}\n")
    assert main(["simulate", "--db", db_url, "--flows", str(broken), "--keys", "-"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{broken}:5:10: error: node 'a' has no way out: add 'next'",
        f"{broken}:5:17: error: unknown prompt 'hi'",
    ]


def rows(db_url: str) -> dict[str, int]:
    import sqlite3

    path = db_url.removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("call_records", "cases", "outage_reports")}


def test_a_try_out_leaves_the_database_as_it_was(capsys: Any, db_url: str) -> None:
    before = rows(db_url)
    result = simulate(capsys, db_url, "- 1 1 1 2 -")  # files an outage report: a ticket
    assert result["outcome"] == "self_served" and "your_ticket_is" in ids(result)
    assert rows(db_url) == before
    path = db_url.removeprefix("sqlite+aiosqlite:///")
    code = main(["simulate", "--db", db_url, "--keys", "- 4 1", "--json"])  # a case
    assert code == 0
    assert capsys.readouterr().err == (f"simulate: on a throwaway copy of {path}; nothing is "
                                       "written there (--record writes the call)\n")
    assert rows(db_url) == before


def test_record_writes_the_call_and_says_where(
    capsys: Any, tmp_path: Path, db_url: str
) -> None:
    import shutil

    mine = tmp_path / "mine.db"
    shutil.copy(db_url.removeprefix("sqlite+aiosqlite:///"), mine)
    url = f"sqlite+aiosqlite:///{mine}"
    before = rows(url)
    assert main(["simulate", "--db", url, "--keys", "- 4 1", "--json", "--record"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["case_id"]
    assert captured.err == (f"simulate: the call's record, cases and tickets are written to "
                            f"{url}\n")
    after = rows(url)
    assert (after["call_records"], after["cases"]) == (before["call_records"] + 1,
                                                       before["cases"] + 1)


def test_no_database_yet_is_a_throwaway_demo(capsys: Any, tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    result = simulate(capsys, f"sqlite+aiosqlite:///{missing}", "- 3 1 2 -")
    assert result["outcome"] == "self_served"
    assert not missing.exists()


def test_postgres_needs_record(capsys: Any) -> None:
    # Refused before any connection: no PostgreSQL needed to say so.
    url = "postgresql+asyncpg://ivr:secret@127.0.0.1:1/ivr"
    assert main(["simulate", "--db", url, "--keys", "-"]) == 2
    assert capsys.readouterr().err == (
        "ivr: error: simulate: postgresql+asyncpg://ivr:***@127.0.0.1:1/ivr is not an SQLite "
        "file a throwaway copy can be made of: give --record to write the call into it, or "
        "--db sqlite+aiosqlite:///PATH\n")
