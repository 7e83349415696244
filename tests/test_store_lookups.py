"""The named lookups over a real seeded store, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import pytest
from store_helpers import NOW

from ivr.lookups import LookupContext, LookupRegistry, LookupResult, LookupStatus, Shape
from ivr.store import Store
from ivr.store.demo import (
    HANOI,
    OUTAGE,
    PAID,
    PLANNED,
    TWO_ACCOUNTS_HOME,
    TWO_ACCOUNTS_SHOP,
    UNPAID,
)
from ivr.store.lookups import READ_TIMEOUT, WRITE_TIMEOUT, build_lookups
from ivr.store.seed_data import bill_amount

pytest_plugins = ("store_fixtures",)

FOUND, NOT_FOUND = LookupStatus.FOUND, LookupStatus.NOT_FOUND


def ctx(caller: str = "0999999999", call_id: str = "call-1") -> LookupContext:
    return LookupContext(call_id=call_id, caller=caller, dialled="1900545454", language="vi")


async def run(
    store: Store, name: str, inputs: dict[str, Any] | None = None, **kw: str
) -> LookupResult:
    registry = build_lookups(store)
    result = await registry.run(name, inputs or {}, ctx(**kw))
    assert result.status in (FOUND, NOT_FOUND), result.error
    # Every run holds the lookup to the shape it declares for the compiler: exactly the
    # fields found (or not_found) values have, nested fields included.
    spec = registry.spec(name)
    declared = spec.returns if result.status is FOUND else spec.not_found_returns
    assert declared is not None
    assert_shape(result.value, declared, name)
    return result


def assert_shape(value: Mapping[str, Any], shape: Shape, where: str) -> None:
    assert sorted(value) == sorted(shape), where
    for field, sub in shape.items():
        if sub is not None:
            assert isinstance(value[field], Mapping), f"{where}.{field}"
            assert_shape(value[field], sub, f"{where}.{field}")


def test_registry_names_inputs_and_timeouts() -> None:
    registry: LookupRegistry = build_lookups(None)  # type: ignore[arg-type]
    assert registry.names() == {
        "accounts_for_caller",
        "outage_for_caller",
        "account_by_code",
        "balance",
        "meter_reading",
        "outage_for_account",
        "phone_check",
        "outage_for_area",
        "report_outage",
        "service_request",
        "request_callback",
        "record_survey",
    }
    assert registry.spec("account_by_code").inputs == {"digits"}
    assert registry.spec("account_by_code").optional_inputs == {"prefix"}
    assert registry.spec("balance").inputs == {"account"}
    assert registry.spec("report_outage").optional_inputs == {"account"}
    assert registry.spec("request_callback").inputs == {"reason"}
    assert registry.spec("request_callback").optional_inputs == {"account", "phone"}
    for name in registry.names():
        spec = registry.spec(name)
        assert spec.timeout == (WRITE_TIMEOUT if spec.writes else READ_TIMEOUT), name
    writes = {n for n in registry.names() if registry.spec(n).writes}
    assert writes == {"report_outage", "service_request", "request_callback", "record_survey"}
    assert registry.spec("balance").returns is not None
    assert "amount_due" in registry.spec("balance").returns
    assert registry.spec("accounts_for_caller").not_found_returns == {"count": None,
                                                                       "codes": None}


@pytest.mark.parametrize("caller", ["0901234567", "+84901234567", "84901234567", "901234567"])
async def test_caller_with_one_account_in_any_number_format(store: Store, caller: str) -> None:
    result = await run(store, "accounts_for_caller", caller=caller)
    assert result.status is FOUND
    assert result.value["count"] == 1
    assert result.value["codes"] == [UNPAID.code]
    assert result.value["account"] == {
        "code": UNPAID.code,
        "last4": "3456",
        "name": "Nguyễn Văn An",
        "area": "Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh",
    }


async def test_phone_with_two_accounts_and_unknown_phone(store: Store) -> None:
    two = await run(store, "accounts_for_caller", caller=TWO_ACCOUNTS_HOME.phones[0])
    assert two.value["count"] == 2
    assert two.value["codes"] == [TWO_ACCOUNTS_HOME.code, TWO_ACCOUNTS_SHOP.code]
    unknown = await run(store, "accounts_for_caller", caller="0909000000")
    assert unknown.status is NOT_FOUND and unknown.value["count"] == 0
    anonymous = await run(store, "accounts_for_caller", caller="anonymous")
    assert anonymous.status is NOT_FOUND
    by_input = await run(store, "accounts_for_caller", {"phone": "+84 902 345 678"})
    assert by_input.value["codes"] == [PAID.code]


async def test_outage_for_caller_announces_only_an_active_outage(store: Store) -> None:
    result = await run(store, "outage_for_caller", caller="+84903456789")
    assert result.status is FOUND
    v = result.value
    assert v["area"] == "Phường Võ Thị Sáu, Quận 3, TP. Hồ Chí Minh"
    assert (v["planned"], v["cause"], v["status"]) == (False, "line_fault", "active")
    assert isinstance(v["started_at"], datetime) and v["started_at"] <= NOW
    assert v["estimated_restore"] > NOW
    assert v["estimated_restore"].utcoffset() == NOW.utcoffset()  # local time, spoken as is
    for caller in (UNPAID.phones[0], PLANNED.phones[0], "0909000000"):
        assert (await run(store, "outage_for_caller", caller=caller)).status is NOT_FOUND


async def test_account_by_code(store: Store) -> None:
    result = await run(store, "account_by_code", {"digits": "01000123456", "prefix": "pe"})
    assert result.status is FOUND
    assert result.value == {
        "code": "PE01000123456",
        "last4": "3456",
        "name": "Nguyễn Văn An",
        "address": "12 Lê Lợi, Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh",
        "area": "Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh",
        "corporation": "EVNHCMC",
    }
    hanoi = await run(store, "account_by_code", {"digits": HANOI.code[2:], "prefix": "PD"})
    assert hanoi.value["corporation"] == "EVNHANOI"
    for digits, prefix in [
        ("09999999999", "PD"),
        ("0100012345", "PE"),
        ("0100012345x", "PE"),
        ("01000123456", "P1"),
        ("", ""),
    ]:
        missing = await run(store, "account_by_code", {"digits": digits, "prefix": prefix})
        assert missing.status is NOT_FOUND, (digits, prefix)


async def test_account_by_code_without_the_hotline_prefix(store: Store) -> None:
    """A dialplan that passes no dialled number leaves the prefix unknown: the digits
    alone find the account when one corporation has them, and nobody's when several do."""
    alone = await run(store, "account_by_code", {"digits": "02000111111"})
    assert alone.status is FOUND and alone.value["code"] == "PE02000111111"
    # PE01000123456 and PD01000123456 both exist: the caller must be asked again.
    ambiguous = await run(store, "account_by_code", {"digits": "01000123456", "prefix": ""})
    assert ambiguous.status is NOT_FOUND


async def test_balance_unpaid_and_paid(store: Store) -> None:
    unpaid = await run(store, "balance", {"account": UNPAID.code})
    v = unpaid.value
    assert unpaid.status is FOUND and v["paid"] is False
    assert v["period"] == "2026-10"
    assert v["period_end"] == date(2026, 10, 31) and v["due_date"] == date(2026, 11, 20)
    assert v["amount"] == bill_amount(v["kwh"]) and v["amount_due"] == v["amount"] > 0
    paid = await run(store, "balance", {"account": {"code": PAID.code, "last4": "4321"}})
    assert paid.value["paid"] is True and paid.value["amount_due"] == 0
    assert paid.value["amount"] > 0
    assert (await run(store, "balance", {"account": "PE09999999999"})).status is NOT_FOUND
    assert (await run(store, "balance", {"account": "nonsense"})).status is NOT_FOUND


async def test_meter_reading(store: Store) -> None:
    result = await run(store, "meter_reading", {"account": UNPAID.code})
    assert result.status is FOUND
    assert result.value["read_on"] == date(2026, 10, 31)
    assert isinstance(result.value["index"], int) and result.value["index"] > 1000
    balance = await run(store, "balance", {"account": UNPAID.code})
    assert result.value["kwh"] == balance.value["kwh"]


async def test_outage_for_account_active_then_planned(store: Store) -> None:
    active = await run(store, "outage_for_account", {"account": OUTAGE.code})
    assert active.value["status"] == "active"
    planned = await run(store, "outage_for_account", {"account": PLANNED.code})
    assert planned.status is FOUND
    assert (planned.value["planned"], planned.value["status"]) == (True, "scheduled")
    assert planned.value["started_at"] > NOW
    assert planned.value["started_at"].hour == 8
    assert (await run(store, "outage_for_account", {"account": PAID.code})).status is NOT_FOUND


async def test_report_outage_is_idempotent_per_call_and_linked(store: Store) -> None:
    first = await run(store, "report_outage", caller=OUTAGE.phones[0], call_id="c-1")
    again = await run(store, "report_outage", caller=OUTAGE.phones[0], call_id="c-1")
    assert first.status is FOUND and first.value["ticket"].isdigit()
    assert again.value == first.value
    assert first.value["linked_outage"] is True
    assert first.value["estimated_restore"] > NOW
    other = await run(store, "report_outage", {"account": PAID.code}, call_id="c-2")
    assert other.value["ticket"] != first.value["ticket"]
    assert other.value["linked_outage"] is False and other.value["estimated_restore"] is None
    by_account = await run(store, "report_outage", {"account": OUTAGE.code}, call_id="c-3")
    assert by_account.value["linked_outage"] is True
    nobody = await run(store, "report_outage", caller="0909000000", call_id="c-4")
    assert nobody.status is FOUND and nobody.value["linked_outage"] is False
    assert (await store.stats())["outage_reports"] == 3 + 0 + 1


async def test_service_request_and_survey(store: Store) -> None:
    ok = await run(store, "service_request", {"kind": "meter_relocation", "account": PAID.code})
    assert ok.status is FOUND and ok.value["reference"].isdigit()
    bad = await run(store, "service_request", {"kind": "teleport"})
    assert bad.status is NOT_FOUND
    assert (await run(store, "record_survey", {"score": "4"})).status is FOUND
    assert (await run(store, "record_survey", {"score": 5})).status is FOUND  # replaces
    for score in ("0", "6", "", "x"):
        assert (await run(store, "record_survey", {"score": score})).status is NOT_FOUND
    counts = await store.stats()
    assert (counts["service_requests"], counts["survey_answers"]) == (1, 1)


async def test_request_callback_makes_a_case_for_agents(store: Store) -> None:
    result = await run(
        store,
        "request_callback",
        {"reason": "new_connection"},
        caller="+84902345678",
        call_id="cb-1",
    )
    assert result.status is FOUND
    assert result.value["phone"] == "0902345678" and result.value["reference"].isdigit()
    other = await run(
        store,
        "request_callback",
        {"reason": "billing", "phone": "0912 345 678", "account": PAID.code},
    )
    assert other.value["phone"] == "0912345678"
    queued = await store.list_cases(queue="callbacks")
    assert [c["intent"] for c in queued] == ["billing", "new_connection"]
    assert queued[0]["status"] == "callback" and queued[0]["account"] == PAID.code
    assert (await run(store, "request_callback", {"reason": ""})).status is NOT_FOUND


async def test_phone_check_wants_the_last_digits_of_a_registered_phone(store: Store) -> None:
    right = UNPAID.phones[0][-4:]
    found = await run(store, "phone_check", {"account": UNPAID.code, "last_digits": right})
    assert found.status is FOUND
    wrong = f"{(int(right) + 1) % 10000:04d}"
    for inputs in ({"account": UNPAID.code, "last_digits": wrong},
                   {"account": "PE09999999999", "last_digits": right},
                   {"account": UNPAID.code, "last_digits": right[1:]}):
        assert (await run(store, "phone_check", inputs)).status is not FOUND, inputs


async def test_outage_for_area_by_part_of_its_name(store: Store) -> None:
    found = await run(store, "outage_for_area", {"area": "võ thị sáu, quận 3"})
    assert found.status is FOUND and found.value["area"].startswith("Phường Võ Thị Sáu")
    assert found.value["status"] == "active"
    for text in ("xx", "100%", "Nowhere at all"):
        assert (await run(store, "outage_for_area", {"area": text})).status is NOT_FOUND, text
