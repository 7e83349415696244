"""The card in words: the caller's way through the IVR and the raw codes, as an agent says them.

An agent on a shift reads "Billing → chose account ending 3456 → heard the balance →
pressed 0 for an agent", not ``hotline/main_menu, identify_account/offer_registered,
...``. :func:`path_in_words` builds that from what the case recorded (its path, inputs
and lookups) and the compiled flow the call ran (what kind each node is, where a key
led, the prompt text a node played); the raw node ids stay with each step so the
console can show them one click away. :data:`WORDS` gives the codes the store and the
flows use (``line_fault``, ``caller_gone``, ``information_given``) in English and
Vietnamese; a code it lacks is shown humanised ("meter_relocation" -> "Meter relocation").

Nothing here reads the database or the clock: it is a pure function of the case and
the flow, so every web node words the same case the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Protocol

from ivr.flows.model import (
    RETURN,
    CallNode,
    FlowSet,
    InputNode,
    LanguageNode,
    Literal,
    MenuNode,
    PlayNode,
    PromptItem,
    TransferNode,
)

LANGUAGES: Final = ("en", "vi")

#: code -> (English, Vietnamese). Intents, outage causes, case statuses and events,
#: dispositions, input results and the words of the shipped demo flow's topics.
WORDS: Final[Mapping[str, tuple[str, str]]] = {
    # topics and intents
    "billing": ("Billing", "Hóa đơn tiền điện"),
    "outages": ("Power outage", "Mất điện"),
    "outage": ("Power outage", "Mất điện"),
    "meter_reading": ("Meter reading", "Chỉ số công tơ"),
    "service_requests": ("Service request", "Yêu cầu dịch vụ"),
    "service_request": ("Service request", "Yêu cầu dịch vụ"),
    "electrical_safety": ("Electrical safety emergency", "Sự cố an toàn điện"),
    "safety": ("Electrical safety emergency", "Sự cố an toàn điện"),
    "new_connection": ("New connection", "Cấp điện mới"),
    "meter_relocation": ("Meter relocation", "Di dời công tơ"),
    "contract_change": ("Contract change", "Thay đổi hợp đồng"),
    "meter_inspection": ("Meter inspection", "Kiểm định công tơ"),
    "agent": ("Asked for an agent", "Gặp điện thoại viên"),
    "unknown": ("Not said", "Chưa rõ"),
    # outage causes (the outages table's codes)
    "line_fault": ("Line fault", "Sự cố đường dây"),
    "transformer_fault": ("Transformer fault", "Sự cố máy biến áp"),
    "storm": ("Storm damage", "Do mưa bão"),
    "overload": ("Overload", "Quá tải"),
    "planned": ("Planned works", "Cắt điện theo kế hoạch"),
    "scheduled": ("Planned works to come", "Sắp cắt điện theo kế hoạch"),
    # case statuses and events
    "opened": ("Case opened", "Mở hồ sơ"),
    "queued": ("Waiting for an agent", "Đang chờ điện thoại viên"),
    "ringing": ("Ringing", "Đang đổ chuông"),
    "connected": ("On the call", "Đang nói chuyện"),
    "completed": ("Call ended", "Đã kết thúc"),
    "caller_gone": ("Caller hung up", "Khách đã gác máy"),
    "abandoned": ("Caller hung up", "Khách đã gác máy"),
    "unanswered": ("Not answered", "Không ai nghe máy"),
    "missed": ("Missed: offered to the next agent", "Nhỡ: chuyển người khác"),
    "wrap_up": ("After-call work", "Hoàn tất sau cuộc gọi"),
    "callback": ("Callback promised", "Hẹn gọi lại"),
    "notes_saved": ("Notes saved", "Đã lưu ghi chú"),
    "disposition_saved": ("Disposition saved", "Đã lưu kết quả"),
    "ready": ("Ready for the next call", "Sẵn sàng nhận cuộc gọi"),
    "transfer_completed": ("Agent call ended", "Kết thúc cuộc gọi với điện thoại viên"),
    "transfer_abandoned": ("Hung up while waiting", "Gác máy khi đang chờ"),
    "transfer_timeout": ("Nobody answered in time", "Hết thời gian chờ"),
    "transfer_no_agents": ("No agent on duty", "Không có điện thoại viên"),
    "transfer_failed": ("Transfer failed", "Chuyển máy lỗi"),
    "callback_dialling": ("Calling back", "Đang gọi lại"),
    "callback_answered": ("Callback answered", "Khách đã nghe máy"),
    "callback_no_answer": ("Callback not answered", "Khách không nghe máy"),
    "callback_busy": ("Callback: line busy", "Máy bận"),
    "callback_failed": ("Callback failed", "Gọi lại lỗi"),
    "callback_given_up": ("Callback given up", "Ngừng gọi lại"),
    # dispositions (ivr.web.api.DISPOSITIONS)
    "resolved": ("Resolved", "Đã giải quyết"),
    "callback_needed": ("Callback needed", "Cần gọi lại"),
    "field_crew_dispatched": ("Field crew dispatched", "Đã cử đội sửa chữa"),
    "escalated": ("Escalated", "Chuyển cấp trên"),
    "information_given": ("Information given", "Đã cung cấp thông tin"),
    "wrong_number": ("Wrong number", "Nhầm số"),
    "other": ("Other", "Khác"),
    # input results and lookups
    "no_input": ("No key pressed", "Không bấm phím"),
    "no_match": ("Wrong key", "Bấm sai phím"),
    "error": ("Failed", "Lỗi"),
    "timeout": ("Timed out", "Quá thời gian"),
    "code_digits": ("customer code", "mã khách hàng"),
    # what the demo flow's ``say_*`` nodes read out ("heard the balance")
    "balance": ("balance", "số tiền phải trả"),
    "paid_bill": ("paid bill", "hóa đơn đã thanh toán"),
    "ticket": ("ticket number", "số phiếu báo mất điện"),
    "reference": ("request reference", "số yêu cầu"),
    "reading": ("meter reading", "chỉ số công tơ"),
    "account_outage": ("outage at their address", "mất điện tại địa chỉ"),
    "account_planned": ("planned outage", "lịch cắt điện"),
    "planned_works": ("planned works", "lịch cắt điện sắp tới"),
    "planned_works_end": ("end of the planned works", "giờ kết thúc cắt điện"),
    "account_restore": ("restore time", "giờ có điện lại"),
    "restore": ("restore time", "giờ có điện lại"),
    "linked": ("known outage", "sự cố đã biết"),
    "main_menu": ("Main menu", "Menu chính"),
    "file_report": ("Report an outage", "Báo mất điện"),
    "file_callback": ("Callback", "Hẹn gọi lại"),
    "switch_language": ("Change language", "Đổi ngôn ngữ"),
    "score": ("survey score", "điểm khảo sát"),
}

#: The step phrases, per language.
_PHRASES: Final[Mapping[str, Mapping[str, str]]] = {
    "en": {
        "pressed": "pressed {key}",
        "pressed_for": "pressed {key}: {what}",
        "invalid": "keyed an invalid {what}",
        "pressed_for_agent": "pressed {key} for an agent",
        "no_input": "pressed nothing",
        "no_match": "pressed a wrong key ({digits})",
        "chose_account": "chose account ending {last4}",
        "entered": "entered the {what}",
        "entered_ending": "entered the {what} ending {last4}",
        "heard_the": "heard the {what}",
        "heard": "heard “{text}”",
        "language": "switched to {language}",
        "transfer": "asked for an agent ({reason})",
        "lookup_failed": "{what} could not be looked up ({status})",
        "lang_en": "English",
        "lang_vi": "Vietnamese",
    },
    "vi": {
        "pressed": "bấm phím {key}",
        "pressed_for": "bấm phím {key}: {what}",
        "invalid": "nhập sai {what}",
        "pressed_for_agent": "bấm phím {key} gặp điện thoại viên",
        "no_input": "không bấm phím",
        "no_match": "bấm sai phím ({digits})",
        "chose_account": "chọn mã khách hàng đuôi {last4}",
        "entered": "nhập {what}",
        "entered_ending": "nhập {what} đuôi {last4}",
        "heard_the": "nghe {what}",
        "heard": "nghe “{text}”",
        "language": "chuyển sang {language}",
        "transfer": "xin gặp điện thoại viên ({reason})",
        "lookup_failed": "không tra cứu được {what} ({status})",
        "lang_en": "tiếng Anh",
        "lang_vi": "tiếng Việt",
    },
}
#: Longest prompt text quoted in a step: the gist, not the whole announcement.
QUOTE_CHARS = 60


class PromptText(Protocol):
    """What the wording needs of :class:`ivr.prompts.catalog.PromptCatalog`."""

    def has(self, prompt_id: str) -> bool: ...

    def prompt(self, prompt_id: str, language: str) -> Any: ...


def word(code: str, language: str = "en") -> str:
    """A code in words: from :data:`WORDS`, else humanised (``meter_relocation`` ->
    ``Meter relocation``)."""
    found = WORDS.get(code)
    if found is not None:
        return found[1] if language == "vi" else found[0]
    text = code.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def words_table() -> dict[str, dict[str, str]]:
    """:data:`WORDS` as JSON for the console (``{"line_fault": {"en": ..., "vi": ...}}``)."""
    return {code: {"en": en, "vi": vi} for code, (en, vi) in WORDS.items()}


def path_in_words(
    case: Mapping[str, Any], flows: FlowSet | None, catalog: PromptText | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The caller's way through the IVR as short steps, per language:
    ``{"en": [{"text": "Billing", "nodes": ["hotline/main_menu", "hotline/billing"]}, ...],
    "vi": [...]}``. ``nodes`` are the raw ``flow/node`` ids a step stands for (the
    console shows them one click away). ``flows`` is the compiled flows the call ran
    (None, or a node no longer in them: the node id is humanised)."""
    steps = [s for s in case.get("path") or () if isinstance(s, Mapping)]
    inputs_at = _inputs_by_step(steps, [i for i in case.get("inputs") or ()
                                        if isinstance(i, Mapping)])
    failed = {(str(lk.get("flow")), str(lk.get("node"))): str(lk.get("status"))
              for lk in case.get("lookups") or () if isinstance(lk, Mapping)
              and lk.get("status") in ("error", "timeout")}
    account = str(case.get("account") or "")
    out: dict[str, list[dict[str, Any]]] = {}
    for lang in LANGUAGES:
        phrase = _PHRASES[lang]
        said: list[dict[str, Any]] = []
        pending: list[str] = []  # raw ids of quiet nodes, shown with the next spoken step
        for n, step in enumerate(steps):
            flow, node_id = str(step.get("flow") or ""), str(step.get("node") or "")
            pending.append(f"{flow}/{node_id}")
            texts = _step_words(flow, node_id, inputs_at[n], flows, catalog, lang, phrase,
                                account, failed.get((flow, node_id)))
            for text in texts:
                if said and said[-1]["text"] == text:
                    said[-1]["nodes"].extend(pending)  # the menu played again: one step
                else:
                    said.append({"text": text, "nodes": pending})
                pending = []
        if pending and said:
            said[-1]["nodes"].extend(pending)
        elif pending:
            said.append({"text": word(str(case.get("intent") or "unknown"), lang),
                         "nodes": pending})
        out[lang] = said
    return out


def _inputs_by_step(steps: Sequence[Mapping[str, Any]],
                    inputs: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """Each input on the visit of its node it belongs to: the first visit at or after
    the previous input's (a node visited twice shows each visit's keys; retries stay on
    one visit). The console did the same in JavaScript before the card was worded."""
    by_step: list[list[Mapping[str, Any]]] = [[] for _ in steps]
    at_from = 0
    for i in inputs:
        def same(s: Mapping[str, Any], i: Mapping[str, Any] = i) -> bool:
            return s.get("node") == i.get("node") and s.get("flow") == i.get("flow")
        at = next((n for n in range(at_from, len(steps)) if same(steps[n])), -1)
        if at < 0:
            at = next((n for n in range(len(steps) - 1, -1, -1) if same(steps[n])), -1)
        if at < 0:
            continue
        by_step[at].append(i)
        at_from = at
    return by_step


def _step_words(
    flow: str, node_id: str, inputs: Sequence[Mapping[str, Any]], flows: FlowSet | None,
    catalog: PromptText | None, lang: str, phrase: Mapping[str, str], account: str,
    lookup_failed: str | None,
) -> list[str]:
    node = None
    if flows is not None and flow in flows.flows:
        node = flows.flows[flow].nodes.get(node_id)
    texts = [_key_words(i, node, phrase, account, lang) for i in inputs]
    keyed = [t for t in texts if t]
    if lookup_failed:
        return [phrase["lookup_failed"].format(what=word(node_id, lang).lower(),
                                               status=word(lookup_failed, lang).lower())]
    if node is None:
        # Not in the flows this node runs (an older flow version, a test's made-up id).
        return [word(node_id, lang), *keyed] if not keyed or inputs[-1].get(
            "result") != "ok" else keyed
    if isinstance(node, CallNode):
        return [word(node_id, lang)]
    if isinstance(node, MenuNode | InputNode):
        if isinstance(node, InputNode):
            keyed = [_entered(i, node, phrase, lang) if i.get("result") == "ok" else t
                     for i, t in zip(inputs, texts, strict=True) if t]
        return keyed
    if isinstance(node, PlayNode):
        return [_heard(node, catalog, lang, phrase)]
    if isinstance(node, LanguageNode):
        return [phrase["language"].format(language=phrase.get(f"lang_{node.language}",
                                                              node.language))]
    if isinstance(node, TransferNode):
        return [phrase["transfer"].format(reason=word(node.reason or node.queue, lang).lower())]
    return []  # lookups, branches, hours, sets: the caller heard nothing of them


def _key_words(i: Mapping[str, Any], node: object, phrase: Mapping[str, str],
               account: str, lang: str) -> str:
    result = str(i.get("result") or "")
    digits = str(i.get("digits") or "")
    if result.startswith("key:"):
        key = result.removeprefix("key:")
        return phrase["pressed_for_agent" if key == "0" else "pressed"].format(key=key)
    if result == "no_input":
        # A menu that simply goes on when nobody presses (the greeting's "press 1 for
        # safety") is no news to the agent.
        if isinstance(node, MenuNode) and node.question.exhausted.node is not None:
            return ""
        return phrase["no_input"]
    if result == "no_match":
        if isinstance(node, InputNode):
            return phrase["invalid"].format(what=word(node.store, lang).lower())
        return phrase["no_match"].format(digits=digits or "?")
    if isinstance(node, MenuNode):
        chosen = node.options.get(digits)
        sets_account = chosen is not None and (
            any(a.name == "account" for a in chosen.assign) or _offers_account(node))
        if chosen is not None and chosen.target == RETURN and account and sets_account:
            return phrase["chose_account"].format(last4=account[-4:])
        if chosen is not None and isinstance(chosen.node, CallNode | TransferNode):
            return ""  # the topic it led to is the next step: "Billing", not "pressed 2"
        if chosen is not None and digits:
            # What the key meant: the intent it set ("Meter relocation"), else where it led.
            intent = next((a.value.value for a in chosen.assign if a.name == "intent"
                           and isinstance(a.value, Literal)), None)
            return phrase["pressed_for"].format(key=digits,
                                                what=word(str(intent or chosen.target), lang))
        return phrase["pressed"].format(key=digits) if digits else ""
    return phrase["pressed"].format(key=digits) if digits else ""


def _offers_account(node: MenuNode) -> bool:
    """A menu that reads out an account ending (``say: {digits: account.last4}``)."""
    return any(getattr(getattr(item, "ref", None), "path", "").endswith("last4")
               for item in node.question.prompt)


def _entered(i: Mapping[str, Any], node: InputNode, phrase: Mapping[str, str],
             lang: str) -> str:
    what = word(node.store, lang).lower()
    digits = str(i.get("digits") or "")
    if node.sensitive or not digits.isdigit():
        return phrase["entered"].format(what=what)
    return phrase["entered_ending"].format(what=what, last4=digits[-4:])


def _heard(node: PlayNode, catalog: PromptText | None, lang: str,
           phrase: Mapping[str, str]) -> str:
    if node.id.startswith("say_"):
        return phrase["heard_the"].format(what=word(node.id.removeprefix("say_"), lang).lower())
    first = next((item for item in node.items if isinstance(item, PromptItem)), None)
    if first is not None and catalog is not None and catalog.has(first.prompt_id):
        text = _prompt_text(catalog, first.prompt_id, lang)
        if text:
            if len(text) > QUOTE_CHARS:
                text = text[:QUOTE_CHARS].rsplit(" ", 1)[0] + "…"
            return phrase["heard"].format(text=text)
    return phrase["heard_the"].format(what=word(node.id, lang).lower())


def _prompt_text(catalog: PromptText, prompt_id: str, lang: str) -> str:
    try:
        prompt = catalog.prompt(prompt_id, lang)
    except (KeyError, LookupError, ValueError):
        return ""
    return str(getattr(prompt, "text", "") or "").strip()


#: The flows the service runs now (``FlowSource.current``), asked once per card.
FlowsNow = Callable[[], FlowSet | None]
