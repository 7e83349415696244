"""Running golden scenarios offline: each call through the engine on the simulator
channel, against the demo data on a throwaway SQLite database, at its pinned time.

The demo data is seeded once per seeding instant (by default one per day of the
scenarios, see :meth:`ScenarioFile.seed_time`) into a template file; every call then
gets its own copy, so no scenario sees what another one wrote (tickets, callbacks,
cases) and the order they run in never matters.

Publishing can call :func:`run_scenarios` in-process with the candidate flows and refuse
a version whose report is not ``ok``::

    scenarios, diags = load_scenarios(text, path, flowset=candidate, catalog=catalog,
                                      lookups=known_lookups().names())
    report = await run_scenarios(candidate, scenarios, catalog=catalog)
    if not report.ok: ...  # str(result) for each of report.failures()
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ivr.calls import CallRecord, CaseDraft
from ivr.channels.channel import CallInfo, TransferResult
from ivr.channels.simulator import ScriptedKeys, SimulatorChannel
from ivr.clock import FixedClock
from ivr.engine.engine import Engine
from ivr.engine.hours import HolidayCalendar, hours_state
from ivr.flows.model import FlowSet, HoursNode
from ivr.flows.scenario_report import Heard, ScenarioReport, ScenarioResult, Transfer, check
from ivr.flows.scenarios import Scenario, ScenarioFile
from ivr.flows.source import FlowSource
from ivr.lookups import LookupContext, LookupFn, LookupRegistry, LookupResult, LookupStatus
from ivr.prompts.catalog import PromptCatalog
from ivr.store import Store
from ivr.store.lookups import build_lookups
from ivr.store.seed import seed_demo_if_empty


class _Recorder:
    """The engine's CallStore: writes go to the store; each case and how its transfer
    ended are kept for the checks."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.cases: list[tuple[str, CaseDraft]] = []
        self.results: dict[str, TransferResult] = {}

    async def save_call(self, record: CallRecord) -> None:
        await self._store.save_call(record)

    async def open_case(self, draft: CaseDraft) -> str:
        case_id = await self._store.open_case(draft)
        self.cases.append((case_id, draft))
        return case_id

    async def finish_transfer(self, case_id: str, result: TransferResult) -> None:
        self.results[case_id] = result
        await self._store.finish_transfer(case_id, result)

    def transfers(self) -> tuple[Transfer, ...]:
        out = []
        for case_id, d in self.cases:
            result = self.results.get(case_id)
            node = f"{d.path[-1].flow}.{d.path[-1].node}" if d.path else ""
            out.append(Transfer(node, d.queue, d.intent,
                                result.status.value if result else "unknown"))
        return tuple(out)


def _pretend(name: str, status: LookupStatus) -> LookupFn:
    async def answer(_inputs: Mapping[str, Any], _ctx: LookupContext) -> LookupResult:
        if status is LookupStatus.NOT_FOUND:
            return LookupResult.not_found()
        return LookupResult(status, error=f"{name}: {status.value} (given by the scenario)")

    return answer


def with_given(lookups: LookupRegistry, given: Mapping[str, LookupStatus]) -> LookupRegistry:
    """``lookups`` with the scenario's ``given:`` ones answering as told (inputs, timeouts
    and descriptions kept, so the engine runs them exactly as the real ones)."""
    if not given:
        return lookups
    specs = [dataclasses.replace(lookups.spec(n), fn=_pretend(n, given[n])) if n in given
             else lookups.spec(n) for n in sorted(lookups.names())]
    return LookupRegistry(specs)


def _sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def _seed(path: Path, at: datetime) -> Path:
    store = await Store.open(_sqlite_url(path), clock=FixedClock(at))
    try:
        await store.migrate()
        await seed_demo_if_empty(store)
    finally:
        await store.close()  # closing the last connection folds the WAL into the file
    return path


def _remove(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)


class _Runner:
    def __init__(self, flowset: FlowSet, catalog: PromptCatalog, work: Path) -> None:
        self.flowset = flowset
        self.catalog = catalog
        self.work = work
        self.words = catalog.word_ids()
        self.holidays = HolidayCalendar()  # shared: the holiday tables are built per year
        self.seeded: dict[datetime, Path] = {}
        self.queue_names = {key: q.name for key, q in flowset.queues.items()}
        # The agent queue need not be declared; the engine's fallback name is its queue.
        self.queue_names.setdefault(flowset.defaults.agent_queue, "agents")

    async def template(self, at: datetime) -> Path:
        if at not in self.seeded:
            self.seeded[at] = await _seed(self.work / f"demo-{len(self.seeded) + 1}.db", at)
        return self.seeded[at]

    async def run(self, scenario: Scenario, seed_at: datetime, number: int) -> ScenarioResult:
        template = await self.template(seed_at)
        db = self.work / f"call-{number}.db"
        await asyncio.to_thread(shutil.copyfile, template, db)
        clock = FixedClock(scenario.at)
        store = await Store.open(_sqlite_url(db), clock=clock)
        try:
            lookups = with_given(build_lookups(store), scenario.given)
            recorder = _Recorder(store)
            source = FlowSource(Path(self.flowset.path), self.flowset, lookups=lookups,
                                catalog=self.catalog)
            engine = Engine(source, lookups, self.catalog, recorder, clock,
                            unsaved_path=self.work / "unsaved-calls.jsonl",
                            holidays=self.holidays)
            info = CallInfo(call_id=f"scenario-{number}", caller=scenario.caller,
                            dialled=scenario.dialled, flow=scenario.flow,
                            language=scenario.language)
            channel = SimulatorChannel(
                info, ScriptedKeys(scenario.keys), patient=scenario.patient,
                transfer_results=[TransferResult(s) for s in scenario.transfers])
            record = await engine.run(channel)
        finally:
            await store.close()
            await asyncio.to_thread(_remove, db)
        heard = self.heard(scenario, record, channel, recorder)
        return ScenarioResult(scenario, heard, check(scenario, heard, self.queue_names))

    def heard(self, scenario: Scenario, record: CallRecord, channel: SimulatorChannel,
              recorder: _Recorder) -> Heard:
        path = tuple(f"{p.flow}.{p.node}" for p in record.path)
        hours = []
        for p in record.path:
            node = self.flowset.flows[p.flow].nodes[p.node]
            if isinstance(node, HoursNode):
                state = hours_state(node.hours, scenario.at, self.holidays)
                hours.append((f"{p.flow}.{p.node}", state.value))
        return Heard(
            outcome=record.outcome,
            prompts=tuple(str(e["id"]) for e in channel.events
                          if e["type"] == "prompt" and e["id"] not in self.words),
            path=path,
            lookups=tuple((f"{s.flow}.{s.node}", s.action, LookupStatus(s.status))
                          for s in record.lookups),
            answers=tuple((f"{i.flow}.{i.node}", i.digits) for i in record.inputs
                          if i.result == "ok"),
            transfers=recorder.transfers(),
            hours=tuple(hours),
            error=record.error,
        )


#: Calls run at once. Each has its own database file, so they cannot meet; overlapping
#: them hides SQLite's thread hand-offs (about half of a call's time is spent waiting).
CONCURRENT_CALLS = 4


async def run_scenarios(
    flowset: FlowSet, scenarios: ScenarioFile, *, catalog: PromptCatalog,
    only: str | None = None,
) -> ScenarioReport:
    """Run the scenarios (those whose name contains ``only``, or all) against
    ``flowset``, each on a fresh copy of the demo data; results in file order."""
    selected = scenarios.select(only)
    with tempfile.TemporaryDirectory(prefix="ivr-scenarios-") as work:
        runner = _Runner(flowset, catalog, Path(work))
        for at in sorted({scenarios.seed_time(s) for s in selected}):
            await runner.template(at)
        gate = asyncio.Semaphore(CONCURRENT_CALLS)

        async def one(number: int, scenario: Scenario) -> ScenarioResult:
            async with gate:
                return await runner.run(scenario, scenarios.seed_time(scenario), number)

        # A task group, not gather: if one call cannot even start (a disk full), the
        # others are cancelled before the work directory goes.
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(n, s)) for n, s in enumerate(selected, start=1)]
    return ScenarioReport(flowset, tuple(t.result() for t in tasks))


__all__ = ["run_scenarios", "with_given"]
