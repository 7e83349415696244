"""The supervisor's period reports (transfers by reason, satisfaction, agents, outage
reports, callbacks) over a real SQLite store, as JSON and CSV, and the live queue panel.

The store's clock is moved by the test, so the case events and requests carry the times
a real day would; the period is computed from the app's pinned clock, never today's."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from web_helpers import CALLER, NOW, login

from ivr.calls import CallRecord, CaseDraft, Outcome, PathStep
from ivr.channels.channel import TransferRequest, TransferResult, TransferStatus
from ivr.flows.compile.driver import compile_flows
from ivr.flows.model import FlowSet
from ivr.flows.paths import first_choice, questions_recorded_by
from ivr.prompts.catalog import PromptCatalog
from ivr.store import Store
from ivr.store.demo import OUTAGE
from ivr.store.lookups import known_lookups
from ivr.store.seed import seed
from ivr.web.reports import PeriodError, period, to_csv

pytest_plugins = ("web_fixtures",)

Client = TestClient[Any, Any]
ROOT = Path(__file__).resolve().parent.parent


class MovableClock:
    """A clock the test sets: events recorded at the times a real shift would."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@pytest.fixture(scope="module")
def demo_flows() -> FlowSet:
    catalog = PromptCatalog.load(ROOT / "config" / "prompts.yaml")
    flowset, diags = compile_flows((ROOT / "config" / "flows.yaml").read_bytes(),
                                   "config/flows.yaml", catalog=catalog, lookups=known_lookups())
    assert flowset is not None, diags
    return flowset


@pytest.fixture
async def clock_store(tmp_path: Path) -> AsyncIterator[tuple[Store, MovableClock]]:
    clock = MovableClock(NOW - timedelta(hours=2))
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'reports.db'}", clock=clock)
    await store.migrate()
    await seed(store, n_accounts=30, seed=1)
    try:
        yield store, clock
    finally:
        await store.close()


def test_period_names_days_in_the_hotlines_zone() -> None:
    since, until, label = period({}, NOW)
    assert (since.isoformat(), until.isoformat(), label) == (
        "2026-11-28T00:00:00+07:00", "2026-11-29T00:00:00+07:00", "today")
    since, until, _ = period({"range": "7d"}, NOW)
    assert (since.date().isoformat(), until.date().isoformat()) == ("2026-11-22", "2026-11-29")
    since, until, label = period({"from": "2026-11-01", "to": "2026-11-03"}, NOW)
    assert (since.isoformat(), until.isoformat(), label) == (
        "2026-11-01T00:00:00+07:00", "2026-11-04T00:00:00+07:00", "2026-11-01 to 2026-11-03")
    since, until, label = period({"hours": "6"}, NOW)
    assert (until - since, label) == (timedelta(hours=6), "last 6 hours")
    for bad, why in (({"range": "year"}, "range must be one of today, 7d, 30d (or from/to dates)"),
                     ({"from": "2026-11-05", "to": "2026-11-01"}, "to is before from"),
                     ({"from": "yesterday"}, "from and to are dates like 2026-12-01"),
                     ({"from": "2025-01-01", "to": "2026-11-01"}, "a period is at most 366 days"),
                     ({"hours": "0"}, "hours must be a whole number from 1 to 720")):
        with pytest.raises(PeriodError) as err:
            period(bad, NOW)
        assert str(err.value) == why


def test_csv_cells_are_never_formulas() -> None:
    text = to_csv([{"reason": "=HYPERLINK(\"x\")", "calls": 2},
                   {"reason": "billing", "extra": None}])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["reason", "calls", "extra"], ["'=HYPERLINK(\"x\")", "2", ""],
                    ["billing", "", ""]]


def test_first_choice_skips_a_detour_back_to_the_menu(demo_flows: FlowSet) -> None:
    def path(*nodes: str) -> list[dict[str, Any]]:
        return [{"flow": "hotline", "node": n} for n in nodes]

    assert first_choice(demo_flows, path("greeting", "main_menu", "billing", "survey")) == "billing"
    # 9 for English goes round to the main menu again: the choice is what came after.
    assert first_choice(demo_flows, path("greeting", "main_menu", "switch_language", "to_english",
                                         "main_menu", "outages")) == "outages"
    assert first_choice(demo_flows, path("greeting")) == ""
    assert ("hotline", "survey") in questions_recorded_by(demo_flows, "record_survey")


async def _transfer(store: Store, clock: MovableClock, n: int, *, intent: str,
                    status: TransferStatus, agent: str | None = None,
                    talk: float = 0.0) -> str:
    case = await store.open_case(CaseDraft(
        call_id=f"rep-{n}", caller=CALLER, dialled="1900545454", language="vi",
        intent=intent, queue="agents"))
    if agent is not None:
        await store.add_case_event(case, "ringing", agent=agent)
        await store.add_case_event(case, "connected", agent=agent)
        clock.at += timedelta(seconds=talk)
        await store.add_case_event(case, "completed", agent=agent)
    await store.finish_transfer(case, TransferResult(status, raw_status=status.name))
    return case


async def _surveyed(store: Store, n: int, at: datetime, choice: str,
                    score: int | None) -> None:
    nodes = ["greeting", "main_menu", choice, "anything_else", "survey"]
    await store.save_call(CallRecord(
        call_id=f"sv-{n}", flow="hotline", flow_version="v1", caller=CALLER,
        dialled="1900545454", language="vi", started_at=at, ended_at=at + timedelta(seconds=60),
        outcome=Outcome.SELF_SERVED, path=tuple(PathStep("hotline", x, at) for x in nodes),
        channel="fastagi"))
    if score is not None:
        await store.record_survey(call_id=f"sv-{n}", caller=CALLER, score=score)


async def test_reports_over_a_period_as_json_and_csv(
    aiohttp_client: Any, make_app: Any, clock_store: tuple[Store, MovableClock],
    demo_flows: FlowSet
) -> None:
    store, clock = clock_store
    await _transfer(store, clock, 1, intent="billing", status=TransferStatus.COMPLETED,
                    agent="agent1", talk=120)
    await _transfer(store, clock, 2, intent="billing", status=TransferStatus.ABANDONED)
    await _transfer(store, clock, 3, intent="electrical_safety",
                    status=TransferStatus.COMPLETED, agent="agent2", talk=300)
    await _transfer(store, clock, 4, intent="billing", status=TransferStatus.COMPLETED,
                    agent="agent1", talk=60)
    await _surveyed(store, 1, NOW - timedelta(hours=3), "billing", 5)
    await _surveyed(store, 2, NOW - timedelta(hours=3), "billing", 3)
    await _surveyed(store, 3, NOW - timedelta(hours=3), "outages", None)  # offered, no answer
    await _surveyed(store, 4, NOW - timedelta(days=2), "outages", 1)  # another day
    await store.report_outage(call_id="o-1", caller=OUTAGE.phones[0], account=OUTAGE.code)
    await store.report_outage(call_id="o-2", caller=OUTAGE.phones[0], account=OUTAGE.code)
    for n, reason in enumerate(("billing", "billing", "outage")):
        await store.request_callback(call_id=f"cb-{n}", caller=CALLER, dialled="1900545454",
                                     language="vi", phone=CALLER, reason=reason)

    anonymous: Client = await aiohttp_client(make_app(store=store, flowset=lambda: demo_flows))
    assert (await anonymous.get("/api/reports/transfers")).status == 401
    agent: Client = await aiohttp_client(make_app(store=store, flowset=lambda: demo_flows))
    await login(agent, "agent1")
    assert (await agent.get("/api/reports/transfers")).status == 403

    client: Client = await aiohttp_client(make_app(store=store, flowset=lambda: demo_flows))
    await login(client, "boss")

    transfers = await (await client.get("/api/reports/transfers")).json()
    assert transfers["period"] == "today" and transfers["tables"] == ["by_reason"]
    billing, safety = transfers["by_reason"]
    assert (billing["reason"], billing["transfers"], billing["completed"], billing["abandoned"],
            billing["answered_rate"]) == ("billing", 3, 2, 1, round(2 / 3, 3))
    assert (safety["reason"], safety["transfers"], safety["completed"]) == (
        "electrical_safety", 1, 1)

    agents = await (await client.get("/api/reports/agents")).json()
    assert agents["agents"] == [
        {"agent": "agent1", "calls": 2, "missed": 0, "handle_seconds": 180.0,
         "average_handle_seconds": 90.0},
        {"agent": "agent2", "calls": 1, "missed": 0, "handle_seconds": 300.0,
         "average_handle_seconds": 300.0}]

    today = await (await client.get("/api/reports/satisfaction")).json()
    assert today["overall"]["offered"] == 3 and today["overall"]["answered"] == 2
    assert today["overall"]["average"] == 4.0 and today["overall"]["response_rate"] == 0.667
    assert {r["reason"]: (r["offered"], r["answered"], r["average"]) for r in today["by_reason"]} \
        == {"billing": (2, 2, 4.0), "outages": (1, 0, None)}
    week = await (await client.get("/api/reports/satisfaction?range=7d")).json()
    assert [(d["day"], d["answered"]) for d in week["by_day"]] == [("2026-11-26", 1),
                                                                   ("2026-11-28", 2)]
    assert week["overall"]["score_1"] == 1 and week["overall"]["score_5"] == 1

    outages = await (await client.get("/api/reports/outages")).json()
    [hot] = outages["by_outage"]
    assert hot["reports"] == 2 and hot["status"] == "open" and hot["cause"] == "line_fault"
    assert OUTAGE.area[2] in hot["area_name"]
    assert outages["by_area"][0]["reports"] == 2 and outages["by_area"][0]["linked_to_outage"] == 2

    callbacks = await (await client.get("/api/reports/callbacks")).json()
    assert (callbacks["promised"], callbacks["done"], callbacks["done_rate"]) == (3, 0, 0.0)
    assert [(r["reason"], r["promised"]) for r in callbacks["by_reason"]] == [("billing", 2),
                                                                            ("outage", 1)]

    # Another period sees none of today's: the report is for its days only.
    empty = await (await client.get("/api/reports/transfers?from=2026-11-01&to=2026-11-02")).json()
    assert empty["by_reason"] == [] and empty["period"] == "2026-11-01 to 2026-11-02"

    resp = await client.get("/api/reports/transfers?format=csv")
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [(r["reason"], r["transfers"]) for r in rows] == [("billing", "3"),
                                                            ("electrical_safety", "1")]
    by_day = list(csv.DictReader(io.StringIO(await (await client.get(
        "/api/reports/satisfaction?range=7d&format=csv&table=by_day")).text())))
    assert [r["day"] for r in by_day] == ["2026-11-26", "2026-11-28"]
    calls_csv = list(csv.DictReader(io.StringIO(await (await client.get(
        "/api/reports/calls?format=csv")).text())))
    assert {r["outcome"]: r["calls"] for r in calls_csv}["self_served"] == "3"

    for path, status, why in (
            ("/api/reports/nothing", 404, "no report 'nothing'"),
            ("/api/reports/agents?range=ever", 400, "range must be one of"),
            ("/api/reports/agents?format=xml", 400, "format must be json or csv"),
            ("/api/reports/outages?format=csv&table=x", 400,
             "table must be one of by_outage, by_area")):
        resp = await client.get(path)
        assert resp.status == status, path
        assert why in (await resp.json())["error"]


async def test_live_queue_shows_callers_waiting_and_agents(
    aiohttp_client: Any, make_app: Any, web_dispatcher: Any, demo_flows: FlowSet
) -> None:
    """A softphone transfer waits in the built-in queue: the panel shows it waiting, then
    not once the agent answered; the agent's state follows the console."""
    from ivr.screenpop.builtin_queue import BuiltinQueue

    queue = BuiltinQueue(web_dispatcher, ring_seconds=5.0)
    client: Client = await aiohttp_client(make_app(builtin_queue=queue,
                                                   flowset=lambda: demo_flows))
    await login(client, "boss")
    idle = await (await client.get("/api/queue/live")).json()
    rows = {r["queue"]: r for r in idle["queues"]}
    assert set(q.name for q in demo_flows.queues.values()) <= set(rows)
    assert all(r["waiting"] == 0 for r in rows.values())

    async def live() -> dict[str, Any]:
        data = await (await client.get("/api/queue/live")).json()
        return {r["queue"]: r for r in data["queues"]}

    async def until(check: Any) -> dict[str, Any]:
        for _ in range(200):
            rows = await live()
            if check(rows):
                return rows
            await asyncio.sleep(0.01)
        return rows

    # agent1 is free: the first caller rings them (still in the queue, as on Asterisk).
    web_dispatcher.presence.attach("agent1", _Sink().send)
    web_dispatcher.presence.set_available("agent1", True)
    first = asyncio.create_task(queue.transfer(TransferRequest(
        case_id="C-live-1", queue="agents", priority=0, timeout=30.0)))
    rows = await until(lambda r: r["agents"]["waiting"] == 1)
    assert rows["agents"]["waiting"] == 1 and rows["agents"]["agents"]["on_call"] == 1
    # Answered: no longer waiting. A second caller now waits in line for the busy agent.
    assert queue.answer("agent1", "C-live-1")
    await until(lambda r: r["agents"]["waiting"] == 0)
    second = asyncio.create_task(queue.transfer(TransferRequest(
        case_id="C-live-2", queue="agents", priority=0, timeout=30.0)))
    rows = await until(lambda r: r["agents"]["waiting"] == 1)
    assert rows["agents"]["waiting"] == 1 and rows["agents"]["agents"]["on_call"] == 1
    assert rows["agents"]["agents"]["offline"] >= 1  # agent2 has no console open
    for task in (second, first):
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert (await live())["agents"]["waiting"] == 0


class _Sink:
    async def send(self, message: dict[str, Any]) -> None:
        pass


def test_board_follows_asterisk_queue_events() -> None:
    from ivr.ami.protocol import Event, Headers
    from ivr.screenpop.board import QueueBoard

    clock = MovableClock(NOW)
    board = QueueBoard(clock)

    def ev(name: str, uid: str, queue: str = "hotline") -> Event:
        return Event(name, Headers([("Event", name), ("Uniqueid", uid), ("Queue", queue)]))

    board.observe(ev("QueueCallerJoin", "1.21"))
    clock.at += timedelta(seconds=30)
    board.observe(ev("QueueCallerJoin", "1.23"))
    clock.at += timedelta(seconds=15)
    snap = board.snapshot([], {}, [], queues=["hotline", "safety"])
    assert snap["queues"][0] == {"queue": "hotline", "waiting": 2, "longest_wait_seconds": 45.0,
                                 "agents": {"available": 0, "on_call": 0, "wrap_up": 0,
                                            "away": 0, "offline": 0}}
    assert snap["queues"][1]["queue"] == "safety" and snap["queues"][1]["waiting"] == 0
    board.observe(ev("QueueCallerAbandon", "1.21"))
    board.observe(ev("QueueCallerLeave", "1.21"))
    board.observe(ev("QueueCallerLeave", "1.23"))
    assert board.snapshot([], {}, [])["queues"] == []


async def test_an_ami_resync_rebuilds_the_board(web_dispatcher: Any) -> None:
    """After a reconnect, the board holds what QueueStatus says is waiting, with the
    waits Asterisk reports; a caller who left while AMI was down is gone."""
    from ivr.screenpop.resync import QueueSnapshot, WaitingCaller

    board = web_dispatcher.board
    board.joined("hotline", "gone.1")
    await web_dispatcher.resync(QueueSnapshot(waiting=(
        WaitingCaller("hotline", 1, "PJSIP/trunk-01", "7.1", "0901234567", 40),)))
    snap = board.snapshot([], {}, [])
    assert [(r["queue"], r["waiting"], r["longest_wait_seconds"]) for r in snap["queues"]] \
        == [("hotline", 1, 40.0)]
