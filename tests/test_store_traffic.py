"""Per-node traffic (the flow graph's figures) through the Store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from store_helpers import NOW

from ivr.calls import CallRecord, CaseDraft, LookupStep, NodeCounts, Outcome, PathStep
from ivr.store import Store

pytest_plugins = ("store_fixtures",)


def call(call_id: str, steps: list[tuple[str, str, int]], outcome: Outcome, *,
         case_id: str | None = None, queue: str | None = None, ivr_seconds: float = 0.0,
         lookups: tuple[LookupStep, ...] = (), hours_ago: float = 1) -> CallRecord:
    start = NOW - timedelta(hours=hours_ago)
    return CallRecord(
        call_id=call_id, flow="hotline", flow_version="v", caller="0901234567",
        dialled="1900545454", language="vi", started_at=start,
        ended_at=start + timedelta(seconds=60), outcome=outcome,
        path=tuple(PathStep(f, n, start + timedelta(seconds=s)) for f, n, s in steps),
        lookups=lookups, case_id=case_id, transfer_queue=queue, ivr_seconds=ivr_seconds)


async def test_node_traffic(store: Store) -> None:
    start = NOW - timedelta(hours=1)
    # Pressed 0 in main_menu (the case's path ends there), talked, then the survey.
    case_id = await store.open_case(CaseDraft(
        call_id="t-1", caller="0901234567", dialled="1900545454", language="vi",
        intent="general", queue="hotline",
        path=(PathStep("hotline", "welcome", start), PathStep("hotline", "main_menu", start))))
    await store.save_call(call("t-1", [("hotline", "welcome", 0), ("hotline", "main_menu", 5),
                                       ("hotline", "survey", 90)], Outcome.TRANSFERRED,
                               case_id=case_id, queue="hotline", ivr_seconds=6))
    # The case could not be written: the node before the transfer started, by time.
    await store.save_call(call("t-2", [("hotline", "welcome", 0), ("hotline", "safety", 3),
                                       ("hotline", "survey", 80)], Outcome.TRANSFERRED,
                               queue="safety", ivr_seconds=4))
    # Hung up in a sub-flow's question, after a failed lookup there; main_menu visited twice.
    await store.save_call(call(
        "t-3", [("hotline", "main_menu", 0), ("hotline", "main_menu", 4),
                ("identify_account", "ask_code", 8)], Outcome.ABANDONED,
        lookups=(LookupStep("identify_account", "ask_code", "account", "timeout", "", 2000.0,
                            start),)))
    await store.save_call(call("t-4", [("hotline", "welcome", 0)], Outcome.ABANDONED,
                               hours_ago=30))  # outside the day

    day = await store.node_traffic("hotline", since=NOW - timedelta(hours=24))
    assert (day.calls, day.limited) == (3, False)
    assert dict(day.nodes) == {
        "welcome": NodeCounts(reached=2),
        "main_menu": NodeCounts(reached=2, to_agent=1),
        "safety": NodeCounts(reached=1, to_agent=1),
        "survey": NodeCounts(reached=2),
    }
    sub = await store.node_traffic("identify_account", since=NOW - timedelta(hours=24))
    assert dict(sub.nodes) == {"ask_code": NodeCounts(reached=1, hung_up=1, failed_lookups=1)}
    assert sub.nodes["ask_code"].drop_off == 1.0
    week = await store.node_traffic("hotline", since=NOW - timedelta(hours=48))
    assert week.calls == 4 and week.nodes["welcome"] == NodeCounts(reached=3, hung_up=1)
