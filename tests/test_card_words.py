"""The card in words: the demo hotline run by the real engine over the simulator, the
case it hands over worded from the compiled flow and the prompt catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flows_support import Harness
from web_helpers import NOW, USERS, Inbox, open_case

from ivr.calls import jsonable
from ivr.channels.channel import TransferResult, TransferStatus
from ivr.clock import FixedClock
from ivr.screenpop.directory import UserDirectory
from ivr.screenpop.dispatcher import Dispatcher
from ivr.screenpop.events import PopEvent, PopState
from ivr.screenpop.presence import Presence
from ivr.screenpop.wording import WORDS, path_in_words, word, words_table
from ivr.store import Store

pytest_plugins = ("web_fixtures",)


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return Harness.build(tmp_path)


async def _case(h: Harness, keys: str) -> dict[str, Any]:
    record, _ch = await h.call(keys)
    assert record.case_id is not None, record
    draft = h.store.cases[record.case_id]
    case: dict[str, Any] = jsonable({"path": draft.path, "inputs": draft.inputs,
                                     "lookups": draft.lookups})
    case.update(account=draft.account, intent=draft.intent)
    return case


async def test_billing_then_0_reads_as_the_agent_would_say_it(h: Harness) -> None:
    case = await _case(h, "- 2 1 0")
    story = path_in_words(case, h.source.current, h.catalog)
    assert [s["text"] for s in story["en"]] == [
        "Billing", "chose account ending 3456", "heard the balance", "pressed 0 for an agent"]
    assert [s["text"] for s in story["vi"]] == [
        "Hóa đơn tiền điện", "chọn mã khách hàng đuôi 3456", "nghe số tiền phải trả",
        "bấm phím 0 gặp điện thoại viên"]
    # every raw node id is kept, in order, one click away
    raw = [n for s in story["en"] for n in s["nodes"]]
    assert raw == [f"{p['flow']}/{p['node']}" for p in case["path"]]
    assert story["en"][0]["nodes"][:3] == ["hotline/area_outage", "hotline/welcome",
                                           "hotline/main_menu"]


async def test_menu_keys_say_what_they_meant(h: Harness) -> None:
    case = await _case(h, "- 4 2 1")
    assert [s["text"] for s in path_in_words(case, h.source.current, h.catalog)["en"]] == [
        "pressed 4: Service request", "pressed 2: Meter relocation",
        "heard the request reference", "asked for an agent (service request)"]
    case = await _case(h, "- 3 2 PE01000123456# 0")
    assert [s["text"] for s in path_in_words(case, h.source.current, h.catalog)["en"]][-2:] \
        == ["keyed an invalid customer code", "pressed 0 for an agent"]


async def test_a_node_the_flows_no_longer_have_is_humanised(h: Harness) -> None:
    case = {"path": [{"flow": "hotline", "node": "old_greeting"}], "inputs": [],
            "intent": "billing"}
    assert path_in_words(case, h.source.current, h.catalog)["en"] == [
        {"text": "Old greeting", "nodes": ["hotline/old_greeting"]}]
    assert path_in_words(case, None)["vi"][0]["text"] == "Old greeting"


def test_raw_codes_in_words_in_both_languages() -> None:
    assert word("line_fault") == "Line fault"
    assert word("line_fault", "vi") == "Sự cố đường dây"
    assert word("caller_gone", "vi") == "Khách đã gác máy"
    assert word("some_new_code") == "Some new code"
    table = words_table()
    assert table["information_given"] == {"en": "Information given",
                                          "vi": "Đã cung cấp thông tin"}
    assert set(table) == set(WORDS)
    from ivr.web.api import DISPOSITIONS
    assert all(d in WORDS for d in DISPOSITIONS)
    assert UserDirectory(()).by_interface("PJSIP/agent1") is None


async def test_a_pop_card_names_the_agent_and_tells_the_path(web_store: Store) -> None:
    """Over the real store and dispatcher: the member interface Asterisk names is shown
    as the person, and the card carries the worded path."""
    case_id = await open_case(web_store)
    dispatcher = Dispatcher(Presence(UserDirectory(USERS)), web_store, FixedClock(NOW))
    inbox = Inbox()
    dispatcher.presence.attach("agent1", inbox.send)
    assert await dispatcher.handle(PopEvent(PopState.RINGING, case_id, "Local/1001@agents"))
    card = (await inbox.next())["case"]
    await web_store.finish_transfer(case_id, TransferResult(
        TransferStatus.COMPLETED, raw_status="CONTINUE", agent="Local/1001@agents"))
    assert await dispatcher.handle(PopEvent(PopState.COMPLETED, case_id, "Local/1001@agents",
                                            "agent"))
    card = (await inbox.next())["case"]
    assert card["agent"] == "Local/1001@agents"
    assert card["agent_name"] == "agent1"
    assert {e["agent_name"] for e in card["events"] if e["agent"]} == {"agent1"}
    # the helper's made-up path (no such nodes in any flow) is humanised, not lost
    assert [s["text"] for s in card["story"]["en"]] == ["Greeting", "pressed nothing",
                                                      "pressed a wrong key (7)", "pressed 2",
                                                      "Billing"]
