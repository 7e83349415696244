"""Cases and call records through the Store API, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from store_helpers import NOW, Db

from ivr.calls import CallRecord, CaseDraft, InputStep, LookupStep, Outcome, PathStep
from ivr.channels.channel import TransferResult, TransferStatus
from ivr.store import Store, UnknownCase
from ivr.store.models import metadata

pytest_plugins = ("store_fixtures",)

CASE_KEYS = {
    "id",
    "created_at",
    "caller",
    "dialled",
    "language",
    "account",
    "intent",
    "queue",
    "priority",
    "status",
    "agent",
    "notes",
    "disposition",
    "facts",
    "path",
    "inputs",
    "lookups",
    "seconds_in_ivr",
    "transfer_status",
    "events",
}


def draft(call_id: str = "call-1", **kw: object) -> CaseDraft:
    fields: dict[str, object] = {
        "call_id": call_id,
        "caller": "0901234567",
        "dialled": "1900545454",
        "language": "vi",
        "intent": "billing",
        "queue": "agents",
        "priority": 0,
        "account": "PE01000123456",
        "corporation": "EVNHCMC",
        "facts": {"balance": {"amount_due": 476534, "due_date": date(2026, 11, 20), "paid": False}},
        "path": [PathStep("hotline", "greeting", NOW), PathStep("hotline", "billing", NOW)],
        "inputs": [InputStep("hotline", "main_menu", "2", "ok", NOW)],
        "lookups": [LookupStep("hotline", "read_balance", "balance", "found", "", 1.5, NOW)],
        "seconds_in_ivr": 42.5,
        "flow": "hotline",
        "flow_version": "v7",
        "note": "caller pressed 0",
    }
    fields.update(kw)
    return CaseDraft(**fields)  # type: ignore[arg-type]


async def test_open_case_returns_a_readable_id_and_json_ready_case(store: Store) -> None:
    case_id = await store.open_case(draft())
    assert case_id.startswith("C-2026-") and case_id[7:].isdigit()
    case = await store.get_case(case_id)
    assert case is not None and CASE_KEYS <= set(case)
    assert json.loads(json.dumps(case)) == case  # JSON-ready: no datetimes, no enums
    assert case["facts"] == {
        "balance": {"amount_due": 476534, "due_date": "2026-11-20", "paid": False}
    }
    assert [p["node"] for p in case["path"]] == ["greeting", "billing"]
    assert case["path"][0]["at"] == NOW.isoformat()
    assert case["inputs"][0]["digits"] == "2"
    assert case["lookups"][0]["action"] == "balance"
    assert (case["status"], case["queue"], case["seconds_in_ivr"]) == ("queued", "agents", 42.5)
    assert case["created_at"].startswith("2026-11-28T03:00:00")  # stored in UTC
    assert [e["event"] for e in case["events"]] == ["opened"]
    assert await store.get_case("C-2026-999999") is None


async def test_case_survives_reopening_the_store(store: Store, db: Db) -> None:
    case_id = await store.open_case(draft())
    again = await db.open()
    try:
        found = await again.get_case(case_id)
        assert found is not None and found["account"] == "PE01000123456"
    finally:
        await again.close()


async def test_finish_transfer_records_status_and_agent(store: Store) -> None:
    answered = await store.open_case(draft("a"))
    await store.finish_transfer(
        answered, TransferResult(TransferStatus.COMPLETED, "CONTINUE", "PJSIP/agent1", 95.0)
    )
    case = await store.get_case(answered)
    assert case is not None
    assert (case["status"], case["transfer_status"], case["agent"]) == (
        "completed",
        "completed",
        "PJSIP/agent1",
    )
    assert case["events"][-1] == {
        "event": "transfer_completed",
        "agent": "PJSIP/agent1",
        "detail": "CONTINUE talk 95s",
        "at": case["events"][-1]["at"],
    }
    gone = await store.open_case(draft("c"))
    await store.finish_transfer(gone, TransferResult(TransferStatus.ABANDONED, "ABANDON"))
    case = await store.get_case(gone)
    assert case is not None
    assert (case["status"], case["transfer_status"]) == ("abandoned", "abandoned")
    missed = await store.open_case(draft("b"))
    await store.finish_transfer(missed, TransferResult(TransferStatus.TIMEOUT, "TIMEOUT"))
    case = await store.get_case(missed)
    assert case is not None
    assert (case["status"], case["transfer_status"], case["agent"]) == (
        "unanswered",
        "timeout",
        None,
    )
    with pytest.raises(UnknownCase):
        await store.finish_transfer("C-2026-999999", TransferResult(TransferStatus.FULL))


async def test_case_events_and_updates(store: Store) -> None:
    case_id = await store.open_case(draft())
    await store.add_case_event(case_id, "ringing", agent="alice")
    await store.add_case_event(case_id, "connected", agent="alice", detail="Local/1001@agents")
    case = await store.get_case(case_id)
    assert case is not None and (case["status"], case["agent"]) == ("connected", "alice")
    assert [e["event"] for e in case["events"]] == ["opened", "ringing", "connected"]
    updated = await store.update_case(
        case_id, notes="wants e-invoice", disposition="resolved", status="closed"
    )
    assert updated is not None
    assert (updated["notes"], updated["disposition"], updated["status"], updated["agent"]) == (
        "wants e-invoice",
        "resolved",
        "closed",
        "alice",
    )
    assert await store.update_case("C-2026-999999", notes="x") is None
    with pytest.raises(UnknownCase):
        await store.add_case_event("C-2026-999999", "ringing")


async def test_list_cases_filters_newest_first(store: Store) -> None:
    first = await store.open_case(draft("1"))
    second = await store.open_case(draft("2", caller="0902345678", account=None, queue="safety"))
    third = await store.open_case(draft("3"))
    assert [c["id"] for c in await store.list_cases()] == [third, second, first]
    assert [c["id"] for c in await store.list_cases(caller="0902345678")] == [second]
    assert [c["id"] for c in await store.list_cases(account="PE01000123456")] == [third, first]
    assert [c["id"] for c in await store.list_cases(queue="safety")] == [second]
    assert [c["id"] for c in await store.list_cases(limit=1)] == [third]
    assert all(c["events"] for c in await store.list_cases())


async def test_load_test_cases_are_marked_and_listed_only_when_asked(store: Store) -> None:
    real = await store.open_case(draft("1"))
    synthetic = await store.open_case(draft("2", synthetic=True))
    assert [c["id"] for c in await store.list_cases()] == [real]
    listed = await store.list_cases(synthetic=True)
    assert [(c["id"], c["synthetic"]) for c in listed] == [(synthetic, True), (real, False)]
    opened = await store.get_case(synthetic)  # an agent's link still opens it
    assert opened is not None and opened["synthetic"] is True


def record(call_id: str, **kw: object) -> CallRecord:
    fields: dict[str, object] = {
        "call_id": call_id,
        "flow": "hotline",
        "flow_version": "v7",
        "caller": "0901234567",
        "dialled": "1900545454",
        "language": "vi",
        "started_at": NOW,
        "ended_at": NOW + timedelta(seconds=75),
        "outcome": Outcome.TRANSFERRED,
        "path": [PathStep("hotline", "greeting", NOW)],
        "inputs": [InputStep("hotline", "main_menu", "0", "key:0", NOW)],
        "lookups": [
            LookupStep(
                "hotline",
                "greeting",
                "outage_for_caller",
                "timeout",
                "outage_for_caller: no answer within 1.5s",
                1500.0,
                NOW,
            )
        ],
        "case_id": "C-2026-000001",
        "transfer_queue": "agents",
        "transfer_status": "completed",
        "ivr_seconds": 20.0,
        "queue_seconds": 15.0,
        "error": "",
        "channel": "fastagi",
    }
    fields.update(kw)
    return CallRecord(**fields)  # type: ignore[arg-type]


async def test_save_and_list_calls(store: Store) -> None:
    await store.save_call(record("x-1"))
    await store.save_call(
        record(
            "x-2",
            started_at=NOW + timedelta(minutes=1),
            ended_at=NOW + timedelta(minutes=2),
            outcome=Outcome.SELF_SERVED,
            case_id=None,
        )
    )
    await store.save_call(record("x-1", error="saved twice"))  # a retry replaces
    calls = await store.list_calls()
    assert [c["call_id"] for c in calls] == ["x-2", "x-1"]
    assert json.loads(json.dumps(calls)) == calls
    first = calls[1]
    assert first["outcome"] == "transferred" and first["error"] == "saved twice"
    assert first["total_seconds"] == 75.0 and first["channel"] == "fastagi"
    assert first["lookups"][0]["status"] == "timeout"
    assert first["started_at"].startswith("2026-11-28T03:00:00")
    assert calls[0]["outcome"] == "self_served" and calls[0]["case_id"] is None
    assert [c["call_id"] for c in await store.list_calls(limit=1)] == ["x-2"]


async def test_migrations_create_exactly_the_models_and_rerun_cleanly(store: Store) -> None:
    await store.migrate()  # a second run is a no-op

    def diff(sync_conn: object) -> list[object]:
        context = MigrationContext.configure(sync_conn)  # type: ignore[arg-type]
        return list(compare_metadata(context, metadata))

    async with store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []
