"""The supervisors' call report, computed by the store on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from store_helpers import NOW, Db

from ivr.calls import CallRecord, LookupStep, Outcome, PathStep
from ivr.store import Store

pytest_plugins = ("store_fixtures",)


@pytest.fixture
async def empty_store(db: Db) -> AsyncIterator[Store]:
    """A migrated store with no rows: the report reads call records only."""
    s = await db.open()
    await s.migrate()
    try:
        yield s
    finally:
        await s.close()


def record(n: int, outcome: Outcome, *, nodes: tuple[str, ...] = ("greeting", "main_menu"),
           seconds: float = 60.0, started: datetime | None = None,
           lookups: tuple[tuple[str, str], ...] = ()) -> CallRecord:
    start = started or NOW - timedelta(hours=1, minutes=n)
    return CallRecord(
        call_id=f"call-{n}", flow="hotline", flow_version="v1", caller="0901234567",
        dialled="1900545454", language="vi", started_at=start,
        ended_at=start + timedelta(seconds=seconds), outcome=outcome,
        path=tuple(PathStep("hotline", node, start) for node in nodes),
        lookups=tuple(LookupStep("hotline", "read", action, status,
                                 "boom" if status == "error" else "", 3.0, start)
                      for action, status in lookups),
        channel="fastagi",
    )


async def test_an_empty_window_reports_zero_calls_and_no_rate(empty_store: Store) -> None:
    report = await empty_store.call_report(since=NOW - timedelta(hours=24))
    assert report["total"] == 0
    assert report["outcomes"] == {"self_served": 0, "transferred": 0, "abandoned": 0,
                                  "failed": 0}
    assert report["containment_rate"] is None and report["average_seconds"] is None
    assert report["drop_off"]["nodes"] == [] and report["failed_lookups"]["actions"] == []


async def test_report_counts_outcomes_drop_off_nodes_and_failed_lookups(
    empty_store: Store,
) -> None:
    store = empty_store
    calls = [
        record(1, Outcome.SELF_SERVED, seconds=30, lookups=(("balance", "found"),)),
        record(2, Outcome.SELF_SERVED, seconds=50),
        record(3, Outcome.SELF_SERVED, seconds=40, lookups=(("balance", "timeout"),)),
        record(4, Outcome.TRANSFERRED, seconds=120,
               lookups=(("balance", "error"), ("meter_reading", "error"))),
        record(5, Outcome.ABANDONED, nodes=("greeting", "main_menu", "enter_code"), seconds=20),
        record(6, Outcome.ABANDONED, nodes=("greeting", "main_menu", "enter_code"), seconds=25),
        record(7, Outcome.ABANDONED, nodes=("greeting",), seconds=5,
               lookups=(("balance", "timeout"), ("outage_for_caller", "not_found"))),
        record(8, Outcome.ABANDONED, nodes=(), seconds=1),
        record(9, Outcome.FAILED, seconds=9),
        # Before the window: counted nowhere.
        record(10, Outcome.ABANDONED, nodes=("old_node",),
               started=NOW - timedelta(hours=30), lookups=(("balance", "error"),)),
    ]
    for call in calls:
        await store.save_call(call)

    report = await store.call_report(since=NOW - timedelta(hours=24))

    assert report["total"] == 9
    assert report["outcomes"] == {"self_served": 3, "transferred": 1, "abandoned": 4,
                                  "failed": 1}
    assert report["containment_rate"] == pytest.approx(3 / 9)
    assert report["average_seconds"] == pytest.approx(round(300 / 9, 1))
    assert report["drop_off"] == {
        "nodes": [{"flow": "hotline", "node": "enter_code", "calls": 2},
                  {"flow": "", "node": "", "calls": 1},
                  {"flow": "hotline", "node": "greeting", "calls": 1}],
        "calls_examined": 4,
        "limited": False,
    }
    assert report["failed_lookups"] == {
        "actions": [{"action": "balance", "error": 1, "timeout": 2, "total": 3},
                    {"action": "meter_reading", "error": 1, "timeout": 0, "total": 1}],
        "calls_examined": 3,
        "limited": False,
    }
    assert datetime.fromisoformat(report["since"]) == NOW - timedelta(hours=24)

    # A narrower window sees only the newest calls (the index on started_at serves it).
    recent = await store.call_report(since=NOW - timedelta(hours=1, minutes=3, seconds=30))
    assert recent["total"] == 3
    assert recent["outcomes"]["self_served"] == 3
    assert recent["containment_rate"] == 1.0
