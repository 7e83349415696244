"""The demo hotline (config/flows.yaml) run by the engine over the simulator channel,
with fixed demo data behind real lookups and an in-memory call store."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from flows_support import (
    OTHER,
    OUTAGE_CALLER,
    TWO_ACCOUNTS_CALLER,
    Harness,
    nodes,
    prompt_ids,
    spoken,
)

from ivr.calls import Outcome
from ivr.channels.channel import TransferResult, TransferStatus
from ivr.clock import DEFAULT_TZ

SUNDAY = datetime(2026, 12, 6, 10, 0, tzinfo=DEFAULT_TZ)
NATIONAL_DAY = datetime(2026, 9, 2, 10, 0, tzinfo=DEFAULT_TZ)  # a Wednesday, public holiday
UNKNOWN_CALLER = "0287777777"


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return Harness.build(tmp_path)


async def test_billing_reads_amount_period_due_date_and_kwh(h: Harness) -> None:
    record, ch = await h.call("- 2 1 2 4")
    assert record.outcome is Outcome.SELF_SERVED
    text = spoken(ch)
    assert "một triệu hai trăm năm mươi nghìn đồng" in text
    assert "ba trăm bốn mươi lăm" in text  # 345 kWh
    assert "ngày hai mươi tháng mười hai năm hai nghìn không trăm hai mươi sáu" in text
    assert "Mười" not in text
    assert nodes(record)[-3:] == ["survey", "record_survey", "thanks"]
    assert h.data.calls[-1] == ("record_survey", {"score": "4"})
    assert h.store.calls == [record]
    assert record.flow == "hotline" and record.flow_version == h.source.current.version


async def test_meter_reading_reads_index_and_date(h: Harness) -> None:
    record, ch = await h.call("- 3 1 2 -")
    assert record.outcome is Outcome.SELF_SERVED
    assert "mười hai nghìn ba trăm bốn mươi lăm" in spoken(ch)
    assert prompt_ids(ch)[-1] == "goodbye"


async def test_outage_report_reads_back_the_ticket_digit_by_digit(h: Harness) -> None:
    record, ch = await h.call("- 1 1 1 2 5")
    assert "no_outage_known" in prompt_ids(ch)
    assert "hai không hai sáu một hai không một không không không bốn hai" in spoken(ch)
    assert ("report_outage", {"account": "PE01000123456"}) in h.data.calls
    assert record.outcome is Outcome.SELF_SERVED


async def test_greeting_announces_the_outage_in_the_callers_area(h: Harness) -> None:
    record, ch = await h.call("-", caller=OUTAGE_CALLER)
    ids = prompt_ids(ch)
    assert ids[:3] == ["outage_in_area", "restore_expected_at", "welcome"]
    assert "mười bốn giờ ba mươi" in spoken(ch)
    assert record.outcome is Outcome.ABANDONED


async def test_safety_press_1_goes_straight_to_the_priority_queue(h: Harness) -> None:
    record, ch = await h.call("1")
    assert record.outcome is Outcome.TRANSFERRED
    (req,) = ch.transfers
    assert (req.queue, req.priority) == ("safety", 10)
    draft = h.store.cases[req.case_id]
    assert draft.intent == "electrical_safety" and draft.priority == 10
    assert h.store.results[req.case_id].status is TransferStatus.COMPLETED
    assert record.case_id == req.case_id and record.transfer_status == "completed"


async def test_safety_queue_timeout_falls_back_to_the_agents(h: Harness) -> None:
    record, ch = await h.call("1", transfer_results=[TransferResult(TransferStatus.TIMEOUT)])
    assert [t.queue for t in ch.transfers] == ["safety", "hotline"]
    assert ch.transfers[1].priority == 9
    assert record.outcome is Outcome.TRANSFERRED


async def test_busy_agents_offer_a_callback(h: Harness) -> None:
    record, ch = await h.call("- 0 1", transfer_results=[TransferResult(TransferStatus.FULL)])
    assert prompt_ids(ch)[-3:] == ["offer_callback", "callback_confirmed", "goodbye"]
    assert "tám tám không không hai" in spoken(ch)
    assert h.data.calls[-1][0] == "request_callback"
    assert record.transfer_status == "full"


async def test_a_callback_that_cannot_be_stored_is_owned_up_to(h: Harness) -> None:
    h.data.broken.add("request_callback")
    record, ch = await h.call("- 0 1", transfer_results=[TransferResult(TransferStatus.FULL)])
    assert prompt_ids(ch)[-3:] == ["offer_callback", "callback_failed", "goodbye"]
    assert "request_callback: error" in record.error


async def test_new_connection_in_office_hours_goes_to_the_desk(h: Harness) -> None:
    record, ch = await h.call("- 4 1")
    assert "your_reference_is" in prompt_ids(ch)
    assert [t.queue for t in ch.transfers] == ["new_connections"]
    assert h.store.cases[ch.transfers[0].case_id].intent == "new_connection"
    assert record.outcome is Outcome.TRANSFERRED


@pytest.mark.parametrize("at", [SUNDAY, NATIONAL_DAY], ids=["sunday", "holiday"])
async def test_new_connection_desk_closed_offers_a_callback(tmp_path: Path, at: datetime) -> None:
    h = Harness.build(tmp_path, at=at)
    record, ch = await h.call("- 4 1 1 3")
    assert "new_connections_closed" in prompt_ids(ch)
    assert ("request_callback", {"reason": "new_connection", "account": None}) in h.data.calls
    assert not ch.transfers
    assert record.outcome is Outcome.SELF_SERVED


async def test_other_service_requests_offer_agent_or_callback(h: Harness) -> None:
    _record, ch = await h.call("- 4 2 1")
    assert ("service_request", {"kind": "meter_relocation", "account": None}) in h.data.calls
    assert [t.queue for t in ch.transfers] == ["hotline"]
    assert h.store.cases[ch.transfers[0].case_id].intent == "service_request"


async def test_language_switch_and_back(h: Harness) -> None:
    record, ch = await h.call("- 9 2 1 2 5")
    assert record.language == "en"
    assert "one million two hundred fifty thousand" in spoken(ch)
    record, ch = await h.call("- 9 9")
    assert [e["language"] for e in ch.events if e.get("id") == "main_menu"] == ["vi", "en", "vi"]


async def test_caller_with_two_accounts_keys_the_code_with_read_back(h: Harness) -> None:
    _record, ch = await h.call("- 2 01000654321# 1 2 -", caller=TWO_ACCOUNTS_CALLER)
    assert "use_account_ending" not in prompt_ids(ch)
    assert "you_entered" in prompt_ids(ch)
    assert ("account_by_code", {"digits": "01000654321", "prefix": "PE"}) in h.data.calls
    assert ("balance", {"account": OTHER["code"]}) in h.data.calls
    assert "no_bill_found" in prompt_ids(ch)


async def test_customer_code_prefix_comes_from_the_dialled_hotline(h: Harness) -> None:
    await h.call("- 2 01000654321# 1", caller=UNKNOWN_CALLER, dialled="19001288")
    assert ("account_by_code", {"digits": "01000654321", "prefix": "PD"}) in h.data.calls


async def test_account_keyed_once_is_offered_again_not_asked_again(h: Harness) -> None:
    # Billing with a keyed code, then the meter reading: one key, not 11 digits again.
    _record, ch = await h.call("- 2 01000654321# 1 1 3 1 2 -", caller=UNKNOWN_CALLER)
    assert prompt_ids(ch).count("enter_customer_code") == 1
    assert prompt_ids(ch).count("same_account_ending") == 1
    assert [c for c in h.data.calls if c[0] == "account_by_code"] == [
        ("account_by_code", {"digits": "01000654321", "prefix": "PE"})]
    assert ("meter_reading", {"account": "PE01000654321"}) in h.data.calls


async def test_read_back_rejected_asks_again(h: Harness) -> None:
    _record, ch = await h.call("- 2 01000654321# 2 01000123456# 1 2 -", caller=UNKNOWN_CALLER)
    assert prompt_ids(ch).count("enter_customer_code") == 2
    assert ("balance", {"account": "PE01000123456"}) in h.data.calls


async def test_no_input_escalates_then_reaches_an_agent(h: Harness) -> None:
    record, ch = await h.call("- - - -")
    ids = prompt_ids(ch)
    assert ids == ["welcome", "safety_press_1", "main_menu", "no_input_1", "main_menu",
                   "no_input_2", "main_menu", "connecting_agent"]
    assert [t.queue for t in ch.transfers] == ["hotline"]
    assert [i.result for i in record.inputs] == ["no_input"] * 4
    assert h.store.cases[ch.transfers[0].case_id].note == "main_menu: no_input 3 times"


async def test_no_match_escalates_separately_from_no_input(h: Harness) -> None:
    _record, ch = await h.call("- 7 - 8 6")
    ids = prompt_ids(ch)
    assert ids[2:] == ["main_menu", "invalid_choice", "main_menu", "no_input_1", "main_menu",
                       "invalid_choice_again", "main_menu", "connecting_agent"]
    assert [t.queue for t in ch.transfers] == ["hotline"]


async def test_star_repeats_without_counting_a_retry(h: Harness) -> None:
    record, ch = await h.call("- * * * 3 1 2 -")
    assert prompt_ids(ch).count("main_menu") == 4
    assert "meter_index_is" in prompt_ids(ch)
    assert [i.result for i in record.inputs][:4] == ["no_input", "key:*", "key:*", "key:*"]


async def test_failed_lookup_apologises_and_hands_over_with_the_failure(h: Harness) -> None:
    h.data.broken.add("balance")
    record, ch = await h.call("- 2 1")
    assert prompt_ids(ch)[-1] == "sorry_transfer"
    draft = h.store.cases[ch.transfers[0].case_id]
    assert draft.note.startswith("lookup balance error: balance: ConnectionError")
    assert draft.account == "PE01000123456"
    assert draft.facts["failures"] == [draft.note]
    assert record.outcome is Outcome.TRANSFERRED
    assert record.lookups[-1].status == "error"


async def test_failed_greeting_lookup_never_blocks_the_call(h: Harness) -> None:
    h.data.broken.add("outage_for_caller")
    record, _ch = await h.call("- 3 1 2 -")
    assert record.outcome is Outcome.SELF_SERVED
    assert record.lookups[0].status == "error"


# Keys that bring the caller to each question of the demo, then "0".
MENUS = {
    "welcome": ("", {}),
    "main_menu": ("-", {}),
    "offer_registered": ("- 2", {}),
    "offer_same_account": ("- 2 1 1 3", {}),
    "enter_code": ("- 2", {"caller": UNKNOWN_CALLER}),
    "code_not_found": ("- 2 99999999999# 1", {"caller": UNKNOWN_CALLER}),
    "offer_report": ("- 1 1", {}),
    "service_requests": ("- 4", {}),
    "agent_or_callback": ("- 4 2", {}),
    "callback_or_goodbye": ("- 4 1", {"at": SUNDAY}),
    "anything_else": ("- 3 1", {}),
    "survey": ("- 3 1 2", {}),
}


def test_every_question_of_the_demo_is_covered(h: Harness) -> None:
    from ivr.flows.model import InputNode, MenuNode

    questions = {n.id for f in h.source.current.flows.values() for n in f.nodes.values()
                 if isinstance(n, MenuNode | InputNode)}
    assert questions == set(MENUS)


@pytest.mark.parametrize("question", sorted(MENUS))
async def test_zero_reaches_an_agent_from_every_question(tmp_path: Path, question: str) -> None:
    keys, opts = MENUS[question]
    at = opts.pop("at", None)
    h = Harness.build(tmp_path, at=at) if at else Harness.build(tmp_path)
    record, ch = await h.call(f"{keys} 0".strip(), **opts)
    assert [s.node for s in record.path if s.node == question], "never reached the question"
    assert record.inputs[-1].result == "key:0" and record.inputs[-1].node == question
    assert [t.queue for t in ch.transfers] == ["hotline"]
    assert record.outcome is Outcome.TRANSFERRED
    assert h.store.cases[record.case_id or ""].path[-1].node == question


@pytest.mark.parametrize("keys", ["- 2 1 2 4", "- 1 1 1 2 5", "- 4 2 2 -", "- 7 9 3 1 1 2 3",
                                  "- 2 01000654321# 1 2 -"])
async def test_barge_in_and_patient_callers_reach_the_same_result(h: Harness, keys: str) -> None:
    impatient, ch1 = await h.call(keys, caller=TWO_ACCOUNTS_CALLER)
    patient, ch2 = await h.call(keys, caller=TWO_ACCOUNTS_CALLER, patient=True)
    assert nodes(impatient) == nodes(patient)
    assert impatient.outcome is patient.outcome
    assert [(i.node, i.digits, i.result) for i in impatient.inputs] == [
        (i.node, i.digits, i.result) for i in patient.inputs]
    assert prompt_ids(ch1) == prompt_ids(ch2)


@pytest.mark.parametrize(("keys", "caller"), [
    ("- 2 1 1 3 1 2 -", None),                      # billing, meter reading, survey
    ("- 1 1 1 2 5", None),                          # outage report with its ticket
    ("- 2 01000654321# 1 2 -", TWO_ACCOUNTS_CALLER),  # customer code with read-back
    ("- 4 1 1 2", OUTAGE_CALLER),                   # greeting outage, then a service request
])
async def test_hang_up_at_every_step_of_a_full_call_is_abandoned(
    h: Harness, keys: str, caller: str | None
) -> None:
    who = {"caller": caller} if caller else {}
    full, ch = await h.call(keys, **who)
    steps = ch.operations
    assert full.outcome is not Outcome.ABANDONED and steps > 5
    for k in range(steps):  # including at the transfer: hanging up while queued
        record, ch = await h.call(keys, hangup_after=k, **who)
        assert record.outcome is Outcome.ABANDONED, k
        assert ch.operations == k + 1  # k operations done, the caller gone at the next
    assert len(h.store.calls) == steps + 1


async def test_hang_up_while_queued_is_abandoned_and_noted_on_the_case(h: Harness) -> None:
    # The greeting, the hazard's prompt and its recording, then the hang-up in the queue.
    record, _ch = await h.call("1", hangup_after=3)
    assert record.outcome is Outcome.ABANDONED
    (case_id,) = h.store.cases
    assert h.store.results[case_id].raw_status == "ABANDON"
    assert h.store.results[case_id].status is TransferStatus.ABANDONED
    assert record.transfer_status == "abandoned"
