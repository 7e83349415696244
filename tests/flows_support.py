"""Test helpers for the flow tests: a small in-memory CallStore, a registry of demo-like
lookups over fixed data (real classes and functions, not mocks), and a call runner."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ivr.calls import CallRecord, CaseDraft
from ivr.channels.channel import CallInfo, TransferResult
from ivr.channels.simulator import ScriptedKeys, SimulatorChannel
from ivr.clock import DEFAULT_TZ, FixedClock
from ivr.engine.engine import Engine
from ivr.flows.source import FlowSource
from ivr.lookups import LookupContext, LookupRegistry, LookupResult, LookupSpec
from ivr.prompts.catalog import PromptCatalog
from ivr.store.lookups import known_lookups

ROOT = Path(__file__).resolve().parent.parent
FLOWS_YAML = ROOT / "config" / "flows.yaml"
PROMPTS_YAML = ROOT / "config" / "prompts.yaml"
#: The store's declarations (inputs, result shapes), without a store.
STORE_LOOKUPS = known_lookups()
#: Tuesday 10:00 local: the new-connections desk is open.
OFFICE_HOURS = datetime(2026, 12, 1, 10, 0, tzinfo=DEFAULT_TZ)
DEMO_CALLER = "0901234567"
TWO_ACCOUNTS_CALLER = "0905555555"
OUTAGE_CALLER = "0903333333"
HCMC_HOTLINE = "1900545454"


class MemoryStore:
    """Implements ivr.calls.CallStore in memory; can be told to fail saving."""

    def __init__(self, *, fail_save: bool = False) -> None:
        self.calls: list[CallRecord] = []
        self.cases: dict[str, CaseDraft] = {}
        self.results: dict[str, TransferResult] = {}
        self.fail_save = fail_save
        self._ids = itertools.count(1)

    async def save_call(self, record: CallRecord) -> None:
        if self.fail_save:
            raise ConnectionError("database is down")
        self.calls.append(record)

    async def open_case(self, draft: CaseDraft) -> str:
        case_id = f"C{next(self._ids):04d}"
        self.cases[case_id] = draft
        return case_id

    async def finish_transfer(self, case_id: str, result: TransferResult) -> None:
        self.results[case_id] = result


ACCOUNT = {"code": "PE01000123456", "last4": "3456", "name": "Nguyễn Văn An",
           "address": "12 Lê Lợi", "area": "Quận 1", "corporation": "EVNHCMC"}
OTHER = {"code": "PE01000654321", "last4": "4321", "name": "Trần Thị Bích",
         "address": "45 Pasteur", "area": "Quận 1", "corporation": "EVNHCMC"}
OUTAGE = {"area": "Quận 3", "planned": False, "cause": "sự cố cáp ngầm",
          "started_at": datetime(2026, 12, 1, 8, 0, tzinfo=DEFAULT_TZ),
          "estimated_restore": datetime(2026, 12, 1, 14, 30, tzinfo=DEFAULT_TZ),
          "status": "active"}


@dataclass
class DemoData:
    """Fixed data behind the test lookups; flip ``broken`` to make a lookup raise."""

    broken: set[str] = field(default_factory=set)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def registry(self) -> LookupRegistry:
        def spec(name: str, inputs: Sequence[str] = (), optional: Sequence[str] = ()) -> LookupSpec:
            async def fn(values: Mapping[str, Any], ctx: LookupContext) -> LookupResult:
                self.calls.append((name, dict(values)))
                if name in self.broken:
                    raise ConnectionError(f"{name}: database unreachable")
                return getattr(self, name)(values, ctx)  # type: ignore[no-any-return]

            declared = STORE_LOOKUPS.spec(name)  # the same result shapes as the store's
            return LookupSpec(name, fn, frozenset(inputs), frozenset(optional), timeout=1.0,
                              returns=declared.returns,
                              not_found_returns=declared.not_found_returns)

        return LookupRegistry([
            spec("accounts_for_caller", (), ("phone",)),
            spec("outage_for_caller"),
            spec("account_by_code", ("digits",), ("prefix",)),
            spec("balance", ("account",)),
            spec("meter_reading", ("account",)),
            spec("outage_for_account", ("account",)),
            spec("report_outage", (), ("account",)),
            spec("service_request", ("kind",), ("account",)),
            spec("request_callback", ("reason",), ("account", "phone")),
            spec("record_survey", ("score",)),
        ])

    def accounts_for_caller(self, v: Mapping[str, Any], ctx: LookupContext) -> LookupResult:
        if ctx.caller == DEMO_CALLER:
            return LookupResult.found(count=1, codes=[ACCOUNT["code"]], account=ACCOUNT)
        if ctx.caller == TWO_ACCOUNTS_CALLER:
            return LookupResult.found(count=2, codes=[ACCOUNT["code"], OTHER["code"]],
                                      account=ACCOUNT)
        return LookupResult.not_found(count=0, codes=[])

    def outage_for_caller(self, v: Mapping[str, Any], ctx: LookupContext) -> LookupResult:
        return LookupResult.found(**OUTAGE) if ctx.caller == OUTAGE_CALLER else \
            LookupResult.not_found()

    def account_by_code(self, v: Mapping[str, Any], ctx: LookupContext) -> LookupResult:
        code = f"{v.get('prefix')}{v.get('digits')}"
        for acc in (ACCOUNT, OTHER):
            if acc["code"] == code:
                return LookupResult.found(**acc)
        return LookupResult.not_found()

    def balance(self, v: Mapping[str, Any], ctx: LookupContext) -> LookupResult:
        if v.get("account") != ACCOUNT["code"]:
            return LookupResult.not_found()
        return LookupResult.found(amount_due=1250000, period="2026-11",
                                  period_end=date(2026, 11, 30), due_date=date(2026, 12, 20),
                                  kwh=345, paid=False)

    def meter_reading(self, v: Mapping[str, Any], ctx: LookupContext) -> LookupResult:
        return LookupResult.found(index=12345, read_on=date(2026, 11, 28), kwh=345)

    def outage_for_account(self, v: Mapping[str, Any], ctx: LookupContext) -> LookupResult:
        return LookupResult.not_found()

    def report_outage(self, v: Mapping[str, Any], ctx: LookupContext) -> LookupResult:
        return LookupResult.found(ticket="2026120100042", linked_outage=False,
                                  estimated_restore=None)

    def service_request(self, v: Mapping[str, Any], ctx: LookupContext) -> LookupResult:
        return LookupResult.found(reference="77001")

    def request_callback(self, v: Mapping[str, Any], ctx: LookupContext) -> LookupResult:
        return LookupResult.found(reference="88002", phone=ctx.caller)

    def record_survey(self, v: Mapping[str, Any], ctx: LookupContext) -> LookupResult:
        return LookupResult.found()


def demo_catalog() -> PromptCatalog:
    return PromptCatalog.load(PROMPTS_YAML)


@dataclass
class Harness:
    """Everything one test call needs, built from real parts."""

    source: FlowSource
    catalog: PromptCatalog
    data: DemoData
    store: MemoryStore
    clock: FixedClock
    unsaved: Path

    @classmethod
    def build(cls, tmp_path: Path, flows: str | Path = FLOWS_YAML, *,
              catalog: PromptCatalog | None = None, at: datetime = OFFICE_HOURS,
              fail_save: bool = False) -> Harness:
        data = DemoData()
        catalog = catalog or demo_catalog()
        if isinstance(flows, str):
            path = tmp_path / "flows.yaml"
            path.write_text(flows, encoding="utf-8")
            flows = path
        source = FlowSource.load(flows, lookups=data.registry(), catalog=catalog)
        return cls(source, catalog, data, MemoryStore(fail_save=fail_save), FixedClock(at),
                   tmp_path / "unsaved.jsonl")

    def engine(self) -> Engine:
        return Engine(self.source, self.data.registry(), self.catalog, self.store, self.clock,
                      unsaved_path=self.unsaved)

    def channel(self, keys: str | Sequence[str], *, caller: str = DEMO_CALLER,
                dialled: str = HCMC_HOTLINE, flow: str = "hotline", **kw: Any) -> SimulatorChannel:
        info = CallInfo(call_id="call-1", caller=caller, dialled=dialled, flow=flow)
        return SimulatorChannel(info, ScriptedKeys(keys), **kw)

    async def call(
        self, keys: str | Sequence[str], **kw: Any
    ) -> tuple[CallRecord, SimulatorChannel]:
        ch = self.channel(keys, **kw)
        record = await self.engine().run(ch)
        return record, ch


def prompt_ids(ch: SimulatorChannel) -> list[str]:
    return [e["id"] for e in ch.events if e["type"] == "prompt" and not e["id"].startswith("w_")]


def spoken(ch: SimulatorChannel) -> str:
    """Everything the caller heard, words of spoken values included, as one text."""
    return " ".join(e["text"] for e in ch.events if e["type"] == "prompt")


def nodes(record: CallRecord) -> list[str]:
    return [s.node for s in record.path]
