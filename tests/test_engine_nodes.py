"""Every node kind, exits and failure paths, on small flows run by the engine."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flows_support import Harness, MemoryStore, nodes, prompt_ids, spoken

from ivr.calls import Outcome
from ivr.channels.channel import CallInfo, ChannelError, TransferResult, TransferStatus
from ivr.channels.simulator import ScriptedKeys, SimulatorChannel
from ivr.clock import DEFAULT_TZ, FixedClock
from ivr.engine.engine import Engine
from ivr.lookups import LookupContext, LookupRegistry, LookupResult, LookupSpec
from ivr.prompts.catalog import PromptCatalog

TEXTS = {p: {"vi": f"vi {p}", "en": f"en {p}"} for p in (
    "hello", "menu", "bye", "sorry_transfer", "you_entered", "confirm_entry", "pin",
    "wrong", "silence", "goodbye", "offer_callback", "callback_confirmed", "open", "closed",
    "holiday", "sub", "found", "missing", "failed", "slow", "queued", "back")}
CATALOG = PromptCatalog.from_texts(TEXTS)
HEAD = """
defaults:
  retries: 2
  keys_everywhere: {"0": agent, "*": repeat}
queues:
  agents: {name: hotline, when_full: offer_callback}
  desk: {name: desk, priority: 3, max_wait: 30s}
flows:
"""


def build(tmp_path: Path, body: str, **kw: Any) -> Harness:
    return Harness.build(tmp_path, HEAD + body, catalog=CATALOG, **kw)


async def test_play_speaks_every_value_kind(tmp_path: Path) -> None:
    h = build(tmp_path, """
  hotline:
    start: values
    nodes:
      values:
        set: {amount: 1250000, n: 21, code: "0901", day: 2026-12-01, secs: 90}
        next: speak
      speak:
        play:
          - hello
          - say: {money: amount}
          - say: {number: n}
          - say: {digits: code}
          - say: {date: day}
          - say: {duration: secs}
          - say: {number: code.missing}   # no such value at run time: skipped
        next: done
      done:
        hangup: [bye]
""")
    record, ch = await h.call("")
    text = spoken(ch)
    assert "một triệu hai trăm năm mươi nghìn đồng" in text
    assert "hai mươi mốt" in text and "không chín không một" in text
    assert "ngày một tháng mười hai năm hai nghìn không trăm hai mươi sáu" in text
    assert prompt_ids(ch)[0] == "hello" and prompt_ids(ch)[-1] == "bye"
    assert record.outcome is Outcome.SELF_SERVED
    assert ch.events[-1] == {"type": "hangup", "by": "ivr"}


async def test_branch_conditions_set_and_goto(tmp_path: Path) -> None:
    h = build(tmp_path, """
  hotline:
    start: init
    nodes:
      init:
        set: {count: 2, label: "vip", flag: true}
        next: decide
      decide:
        branch:
          - when: count == 1 or label == "none"
            next: wrong
          - when: not flag
            next: wrong
          - when: label.extra is set
            next: wrong
          - when: count >= 2 and (label != "x" and label.extra is not set)
            next: jump
          - otherwise: wrong
      jump:
        goto: right
      right:
        hangup: [bye]
      wrong:
        hangup: [wrong]
""")
    record, ch = await h.call("")
    assert nodes(record) == ["init", "decide", "jump", "right"]
    assert prompt_ids(ch) == ["bye"]


async def test_sub_flow_call_and_return(tmp_path: Path) -> None:
    h = build(tmp_path, """
  hotline:
    start: first
    nodes:
      first:
        call: helper
        next: after
      after:
        play: back
        next: return
  helper:
    start: inner
    nodes:
      inner:
        play: sub
        next: {set: {answer: 42}, next: return}
""")
    record, ch = await h.call("")
    assert prompt_ids(ch) == ["sub", "back"]
    assert [(s.flow, s.node) for s in record.path] == [
        ("hotline", "first"), ("helper", "inner"), ("hotline", "after")]
    assert record.outcome is Outcome.SELF_SERVED and record.flow == "hotline"


async def test_language_node_switches_every_prompt_after_it(tmp_path: Path) -> None:
    h = build(tmp_path, """
  hotline:
    start: a
    nodes:
      a: {play: hello, next: b}
      b: {language: en, next: c}
      c: {play: bye, next: hangup}
""")
    record, ch = await h.call("")
    assert [e["text"] for e in ch.events if e["type"] == "prompt"] == ["vi hello", "en bye"]
    assert record.language == "en"


HOURS = """
  hotline:
    start: desk
    nodes:
      desk:
        hours: {mon-fri: "08:00-12:00", sat: ["08:00-10:00", "14:00-16:00"], holidays: VN}
        open: {prompt: open, next: hangup}
        closed: {prompt: closed, next: hangup}
        holiday: {prompt: holiday, next: hangup}
"""


@pytest.mark.parametrize(("at", "said"), [
    (datetime(2026, 12, 1, 9, 0, tzinfo=DEFAULT_TZ), "open"),
    (datetime(2026, 12, 1, 12, 0, tzinfo=DEFAULT_TZ), "closed"),
    (datetime(2026, 12, 5, 15, 0, tzinfo=DEFAULT_TZ), "open"),  # Saturday afternoon span
    (datetime(2026, 12, 5, 12, 0, tzinfo=DEFAULT_TZ), "closed"),
    (datetime(2026, 12, 6, 9, 0, tzinfo=DEFAULT_TZ), "closed"),  # Sunday
    (datetime(2026, 2, 17, 9, 0, tzinfo=DEFAULT_TZ), "holiday"),  # Lunar New Year
    (datetime(2026, 12, 1, 2, 0, tzinfo=UTC), "open"),  # 09:00 in Hanoi
])
async def test_hours_open_closed_holiday(tmp_path: Path, at: datetime, said: str) -> None:
    h = build(tmp_path, HOURS, at=at)
    _, ch = await h.call("")
    assert prompt_ids(ch) == [said]


INPUT = """
  hotline:
    start: ask
    nodes:
      ask:
        input:
          prompt: pin
          min_digits: 4
          max_digits: 6
          terminator: "#"
          pattern: "[1-9][0-9]+"
          store: pin
          sensitive: true
          no_match: [wrong]
          no_input: [silence]
        next: go
      go:
        transfer: {queue: desk, reason: pin_help}
"""


async def test_input_length_pattern_terminator_and_masking(tmp_path: Path) -> None:
    h = build(tmp_path, INPUT)
    record, ch = await h.call("12# - 987654")
    assert [(i.digits, i.result) for i in record.inputs] == [
        ("**", "no_match"), ("", "no_input"), ("**7654", "ok")]
    assert prompt_ids(ch) == ["pin", "wrong", "pin", "silence", "pin"]
    draft = h.store.cases[record.case_id or ""]
    assert [i.digits for i in draft.inputs][-1] == "**7654"
    assert "987654" not in json.dumps([i.digits for i in record.inputs])


async def test_input_exhausted_goes_to_the_agent_queue(tmp_path: Path) -> None:
    h = build(tmp_path, INPUT)
    record, ch = await h.call("1 0123#")  # too short, then not matching the pattern
    assert [i.result for i in record.inputs] == ["no_match", "no_match"]
    assert [t.queue for t in ch.transfers] == ["hotline"]
    assert h.store.cases[record.case_id or ""].note == "ask: no_match 2 times"


LOOKUPS = """
  hotline:
    start: find
    nodes:
      find:
        lookup: account_by_code
        with: {digits: "01000123456", prefix: "PE"}
        as: acct
        found: {set: {name: result.name}, prompt: found, next: slow}
        not_found: {prompt: missing, next: hangup}
      slow:
        lookup: balance
        with: {account: acct.code}
        found: hangup
        not_found: hangup
        timeout: {prompt: slow, next: hangup}
        error: {prompt: failed, next: hangup}
"""


def registry_with(**overrides: Any) -> LookupRegistry:
    from flows_support import DemoData

    base = DemoData().registry()
    specs = [base.spec(n) for n in base.names() if n not in overrides]

    async def hang(values: Any, ctx: LookupContext) -> LookupResult:
        await asyncio.Event().wait()  # never answers: the registry's timeout decides
        raise AssertionError("unreachable")

    for name, kind in overrides.items():
        specs.append(LookupSpec(name, hang, frozenset({"account"}), timeout=0.01, returns={})
                     if kind == "hang" else kind)
    return LookupRegistry(specs)


async def test_lookup_found_stores_result_under_as_and_exits_with_set(tmp_path: Path) -> None:
    h = build(tmp_path, LOOKUPS)
    record, ch = await h.call("")
    assert prompt_ids(ch) == ["found"]
    assert [(lk.action, lk.status) for lk in record.lookups] == [
        ("account_by_code", "found"), ("balance", "found")]
    assert record.outcome is Outcome.SELF_SERVED


async def test_lookup_timeout_takes_the_timeout_exit(tmp_path: Path) -> None:
    h = build(tmp_path, LOOKUPS)
    engine = Engine(h.source, registry_with(balance="hang"), CATALOG, h.store, h.clock)
    ch = h.channel("")
    record = await engine.run(ch)
    assert prompt_ids(ch) == ["found", "slow"]
    assert record.lookups[-1].status == "timeout"


async def test_an_unknown_action_at_run_time_apologises_and_transfers(tmp_path: Path) -> None:
    h = build(tmp_path, LOOKUPS)
    partial = LookupRegistry([s for s in (h.data.registry().spec(n) for n in
                                          h.data.registry().names()) if s.name != "balance"])
    engine = Engine(h.source, partial, CATALOG, h.store, h.clock)
    ch = h.channel("")
    record = await engine.run(ch)
    assert prompt_ids(ch) == ["found", "sorry_transfer"]
    assert record.outcome is Outcome.TRANSFERRED
    assert record.error.startswith("node slow: UnknownLookup")
    assert h.store.cases[record.case_id or ""].note.startswith("error in node slow")


async def test_a_loop_without_questions_is_stopped_and_handed_over(tmp_path: Path) -> None:
    # The compiler refuses a loop with no way out; this one has a way out that is never
    # taken at run time, which only the engine's step guard can stop.
    h = build(tmp_path, """
  hotline:
    start: a
    nodes:
      a: {goto: b}
      b:
        branch:
          - when: caller == "never"
            next: hangup
          - otherwise: a
""")
    record, ch = await h.call("")
    assert prompt_ids(ch) == ["sorry_transfer"]
    assert [t.queue for t in ch.transfers] == ["hotline"]
    assert "the flow loops" in record.error


TRANSFER = """
  hotline:
    start: go
    nodes:
      go:
        transfer: {queue: desk, priority: 7, reason: billing_help}
        on_timeout: {prompt: slow, next: hangup}
        on_no_agents: {prompt: closed, next: hangup}
        on_full: {prompt: queued, next: hangup}
        next: after
      after:
        play: back
        next: hangup
"""


@pytest.mark.parametrize(("status", "said", "outcome"), [
    (TransferStatus.COMPLETED, "back", Outcome.TRANSFERRED),
    (TransferStatus.TIMEOUT, "slow", Outcome.SELF_SERVED),
    (TransferStatus.NO_AGENTS, "closed", Outcome.SELF_SERVED),
    (TransferStatus.FULL, "queued", Outcome.SELF_SERVED),
])
async def test_transfer_results_take_their_exits(tmp_path: Path, status: TransferStatus,
                                                 said: str, outcome: Outcome) -> None:
    h = build(tmp_path, TRANSFER)
    record, ch = await h.call("", transfer_results=[TransferResult(status, status.name)])
    (req,) = ch.transfers
    assert (req.queue, req.priority, req.timeout) == ("desk", 7, 30.0)
    assert req.variables["IVR_INTENT"] == "billing_help"
    assert prompt_ids(ch)[-1] == said
    assert record.outcome is outcome
    assert h.store.results[req.case_id].status is status
    assert record.transfer_status == status.value


async def test_a_failed_queue_hands_the_caller_to_the_agent_queue(tmp_path: Path) -> None:
    """A queue Asterisk does not know (QUEUESTATUS=UNKNOWN) must not end a call, least
    of all an emergency: apologise, then the agent queue at the same priority."""
    h = build(tmp_path, TRANSFER)
    record, ch = await h.call("", transfer_results=[
        TransferResult(TransferStatus.FAILED, "UNKNOWN"),
        TransferResult(TransferStatus.COMPLETED, "CONTINUE")])
    first, second = ch.transfers
    assert (first.queue, second.queue) == ("desk", "hotline")  # the agent queue
    assert second.priority == 7
    assert prompt_ids(ch)[-2:] == ["sorry_transfer", "back"]
    assert record.outcome is Outcome.TRANSFERRED
    assert "desk failed: UNKNOWN" in record.error


async def test_when_the_agent_queue_fails_too_a_callback_is_offered(tmp_path: Path) -> None:
    h = build(tmp_path, TRANSFER)
    record, ch = await h.call("-", transfer_results=[
        TransferResult(TransferStatus.FAILED, "UNKNOWN"),
        TransferResult(TransferStatus.FAILED, "UNKNOWN")])
    assert [t.queue for t in ch.transfers] == ["desk", "hotline"]
    assert "offer_callback" in prompt_ids(ch)  # the agent queue's when_full
    assert record.outcome is Outcome.FAILED


async def test_unknown_flow_name_runs_the_default_flow(tmp_path: Path) -> None:
    h = build(tmp_path, """
  hotline:
    start: a
    nodes:
      a: {hangup: [bye]}
""")
    record, ch = await h.call("", flow="no-such-flow")
    assert record.flow == "hotline" and prompt_ids(ch) == ["bye"]


class _Never:
    async def next_group(self) -> str | None:
        await asyncio.Event().wait()
        return None


async def test_cancelled_call_still_saves_its_record(tmp_path: Path) -> None:
    h = build(tmp_path, INPUT)
    ch = SimulatorChannel(CallInfo("c-9", "0901234567", "1900545454", "hotline"), _Never())
    task = asyncio.create_task(h.engine().run(ch))
    while not ch.events:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (record,) = h.store.calls
    assert record.outcome is Outcome.FAILED and record.call_id == "c-9"
    assert record.error == "call cancelled (server stopping)"


async def test_unsaved_record_goes_to_the_fallback_file(tmp_path: Path) -> None:
    h = build(tmp_path, INPUT, fail_save=True)
    record, _ = await h.call("h")
    line = json.loads(h.unsaved.read_text().strip())
    assert line["call_id"] == record.call_id and line["outcome"] == "abandoned"
    assert line["flow_version"] == h.source.current.version


class _BrokenChannel(SimulatorChannel):
    async def ask(self, prompts: Any, spec: Any) -> Any:
        raise ChannelError("peer sent garbage")


async def test_channel_error_ends_the_call_as_failed(tmp_path: Path) -> None:
    h = build(tmp_path, INPUT)
    ch = _BrokenChannel(CallInfo("c-1", "", "", "hotline"), ScriptedKeys(""))
    record = await h.engine().run(ch)
    assert record.outcome is Outcome.FAILED and record.error == "channel: peer sent garbage"


async def test_store_failure_opening_a_case_still_transfers(tmp_path: Path) -> None:
    class NoCases(MemoryStore):
        async def open_case(self, draft: Any) -> str:
            raise ConnectionError("db down")

    h = build(tmp_path, TRANSFER)
    store = NoCases()
    engine = Engine(h.source, h.data.registry(), CATALOG, store, FixedClock(h.clock.now()))
    ch = h.channel("")
    record = await engine.run(ch)
    assert [t.case_id for t in ch.transfers] == [""]
    assert record.outcome is Outcome.TRANSFERRED and "open_case failed" in record.error
