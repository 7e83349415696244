"""A web form or an SMS handler asks the lookup registry directly, with no voice Channel
and no engine: the same registry, results and idempotency a flow gets."""

from __future__ import annotations

import pytest

from ivr.lookups import LookupContext, LookupStatus
from ivr.store import Store
from ivr.store.demo import OUTAGE, UNPAID
from ivr.store.lookups import build_lookups

pytest_plugins = ("store_fixtures",)

HOTLINE = "1900545454"


def web(request_id: str, caller: str = "") -> LookupContext:
    return LookupContext(call_id=request_id, caller=caller, dialled=HOTLINE, language="vi",
                         channel="web")


async def test_a_web_form_reports_an_outage_and_reads_a_balance(store: Store) -> None:
    registry = build_lookups(store)
    report = await registry.run("report_outage", {"account": OUTAGE.code}, web("form-1"))
    assert report.status is LookupStatus.FOUND, report.error
    assert report.value["ticket"].isdigit() and report.value["linked_outage"] is True
    # A form sent twice (a double click, a retry) files one report: the request id is
    # the call id's stand-in.
    again = await registry.run("report_outage", {"account": OUTAGE.code}, web("form-1"))
    assert again.value == report.value
    other = await registry.run("report_outage", {"account": OUTAGE.code}, web("form-2"))
    assert other.value["ticket"] != report.value["ticket"]
    assert (await store.stats())["outage_reports"] == 2

    balance = await registry.run("balance", {"account": UNPAID.code}, web("form-3"))
    assert balance.status is LookupStatus.FOUND
    assert balance.value["paid"] is False and balance.value["amount_due"] > 0
    missing = await registry.run("balance", {"account": "PE09999999999"}, web("form-4"))
    assert missing.status is LookupStatus.NOT_FOUND


async def test_an_sms_asks_for_a_callback_to_its_sender(store: Store) -> None:
    ctx = LookupContext(call_id="sms-77", caller=UNPAID.phones[0], dialled=HOTLINE,
                        language="vi", channel="sms")
    result = await build_lookups(store).run("request_callback", {"reason": "billing"}, ctx)
    assert result.status is LookupStatus.FOUND
    assert result.value["phone"] == UNPAID.phones[0]
    assert [c["intent"] for c in await store.list_cases(queue="callbacks")] == ["billing"]


def test_a_request_says_which_channel_it_came_by() -> None:
    phone = LookupContext("c-1", "0901234567", HOTLINE, "vi", "hotline")
    assert phone.channel == "phone"  # what the engine's calls send
    with pytest.raises(ValueError, match=r"^unknown request channel 'fax': use one of "
                       r"phone, sms, web$"):
        LookupContext("f-1", "", HOTLINE, "vi", channel="fax")  # type: ignore[arg-type]
