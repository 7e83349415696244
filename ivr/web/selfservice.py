"""The public self-service page: outage status, the bill and a report, without a login.

Customers ask the same lookup registry a phone flow asks (``channel="web"``), never the
voice Channel: the same data, and reports get the same ticket and reference numbers a
call or an SMS gets. Nobody logs in, so three things stand in for the staff pages'
guards: the session middleware's CSRF token (an anonymous visitor gets a session cookie
too), a per-address request limit, and for the bill a check that the visitor knows the
last digits of a phone registered to the account. A wrong check and an unknown code get
the same answer, so the page does not tell which codes exist.

Vietnamese first (``?lang=en`` for English); every text the visitor reads is in
:data:`TEXTS`, and the answers carry their own localised text, so the script only shows.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

from aiohttp import web

from ivr.errors import IvrError
from ivr.lookups import LookupContext, LookupRegistry, LookupResult, LookupStatus
from ivr.store import Store
from ivr.store.convert import normalise_phone
from ivr.store.lookups import MIN_AREA_SEARCH, build_lookups
from ivr.store.requests import SERVICE_KINDS
from ivr.web.keys import STORE
from ivr.web.middleware import client_address
from ivr.web.views import render

#: Requests (lookups and reports) one address may make per window: a household checking
#: a few codes is well inside it; a script walking codes or phone digits is not.
MAX_REQUESTS = 10
REQUEST_WINDOW = 60.0
#: A refused phone check costs this many requests: guessing 4 digits gets slower still.
REFUSED_CHECK_COST = 2
#: Addresses remembered at most; beyond this the oldest are forgotten first.
MAX_TRACKED = 10_000
#: Longest text field we look at (a code is 13, a phone about 15, a note fits in 500).
MAX_FIELD = 500
#: The form's request id: the stand-in for a call id, so a double click files one report.
_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{8,64}")
_CODE = re.compile(r"[A-Z]{2}[A-Z0-9]{11}")
_LAST_DIGITS = re.compile(r"\d{4}")
LANGUAGES = ("vi", "en")

TEXTS: Mapping[str, Mapping[str, str]] = {
    "vi": {
        "heading": "Tự phục vụ khách hàng",
        "intro": "Tra cứu mất điện, hóa đơn và gửi yêu cầu — không cần đăng nhập.",
        "other_lang": "English", "other_href": "/self-service?lang=en",
        "outage_h": "Tình trạng mất điện", "code": "Mã khách hàng",
        "check": "Tra cứu", "bill_h": "Hóa đơn và chỉ số công tơ",
        "last_digits": "4 số cuối điện thoại đã đăng ký",
        "report_h": "Báo mất điện hoặc yêu cầu dịch vụ", "kind": "Loại yêu cầu",
        "phone": "Số điện thoại liên hệ (không bắt buộc)", "send": "Gửi",
        "k_outage": "Báo mất điện", "k_new_connection": "Lắp đặt điện mới",
        "k_meter_relocation": "Di dời công tơ", "k_contract_change": "Thay đổi hợp đồng",
        "k_meter_inspection": "Kiểm tra công tơ",
        "staff": "Nhân viên: đăng nhập",
        "where": "Mã khách hàng hoặc tên khu vực (phường, quận)",
        "bad_where": "Nhập mã khách hàng (ví dụ PE01000123456) hoặc tên phường, quận.",
        "bad_code": "Mã khách hàng gồm 2 chữ cái và 11 chữ số, ví dụ PE01000123456.",
        "no_outage": "Không có mất điện nào đang diễn ra hay đã lên lịch tại khu vực này.",
        "outage_active": "Đang mất điện tại {area}.",
        "outage_scheduled": "Đã lên lịch cắt điện tại {area}.",
        "refused": "Không thể xác minh mã khách hàng và số điện thoại này. "
                   "Vui lòng kiểm tra lại.",
        "bill_ok": "Hóa đơn của {name}.",
        "ticket": "Đã ghi nhận báo mất điện. Số phiếu: {ticket}.",
        "reference": "Đã ghi nhận yêu cầu. Mã yêu cầu: {reference}.",
        "limited": "Bạn đã gửi quá nhiều yêu cầu. Vui lòng đợi một phút rồi thử lại.",
        "unavailable": "Hệ thống đang bận. Vui lòng thử lại sau ít phút hoặc gọi tổng đài.",
        "bad_kind": "Vui lòng chọn loại yêu cầu.",
        "yes": "có", "no": "không",
        "c_line_fault": "sự cố đường dây", "c_transformer_fault": "sự cố máy biến áp",
        "c_storm": "mưa bão", "c_overload": "quá tải", "c_maintenance": "bảo trì",
        "c_grid_upgrade": "nâng cấp lưới điện",
        "f_cause": "Nguyên nhân", "f_started_at": "Bắt đầu",
        "f_estimated_restore": "Dự kiến có điện lại", "f_planned": "Có kế hoạch",
        "f_amount_due": "Tổng tiền còn nợ", "f_amount": "Tiền kỳ này", "f_period": "Kỳ",
        "f_due_date": "Hạn thanh toán", "f_kwh": "Điện năng tiêu thụ (kWh)",
        "f_paid": "Đã thanh toán", "f_index": "Chỉ số công tơ", "f_read_on": "Ngày ghi chỉ số",
    },
    "en": {
        "heading": "Customer self-service",
        "intro": "Outage status, your bill and requests — no login needed.",
        "other_lang": "Tiếng Việt", "other_href": "/self-service",
        "outage_h": "Outage status", "code": "Customer code",
        "check": "Look up", "bill_h": "Bill and meter index",
        "last_digits": "Last 4 digits of the registered phone",
        "report_h": "Report an outage or request a service", "kind": "Request",
        "phone": "Contact phone (optional)", "send": "Send",
        "k_outage": "Report an outage", "k_new_connection": "New connection",
        "k_meter_relocation": "Move the meter", "k_contract_change": "Change the contract",
        "k_meter_inspection": "Meter inspection",
        "staff": "Staff: log in",
        "where": "Customer code or area (ward, district)",
        "bad_where": "Enter a customer code (e.g. PE01000123456) or a ward or district name.",
        "bad_code": "A customer code is 2 letters and 11 digits, e.g. PE01000123456.",
        "no_outage": "No outage now or planned in this area.",
        "outage_active": "Power is out in {area}.",
        "outage_scheduled": "A planned outage is scheduled in {area}.",
        "refused": "We could not verify this customer code and phone number. "
                   "Please check them.",
        "bill_ok": "Bill for {name}.",
        "ticket": "Outage report received. Ticket number: {ticket}.",
        "reference": "Request received. Reference: {reference}.",
        "limited": "Too many requests. Please wait a minute and try again.",
        "unavailable": "The system is busy. Please try again in a few minutes or call us.",
        "bad_kind": "Please choose a request.",
        "yes": "yes", "no": "no",
        "c_line_fault": "line fault", "c_transformer_fault": "transformer fault",
        "c_storm": "storm", "c_overload": "overload", "c_maintenance": "maintenance",
        "c_grid_upgrade": "grid upgrade",
        "f_cause": "Cause", "f_started_at": "Started", "f_estimated_restore": "Power back by",
        "f_planned": "Planned", "f_amount_due": "Total due", "f_amount": "This bill",
        "f_period": "Period", "f_due_date": "Due date", "f_kwh": "Consumption (kWh)",
        "f_paid": "Paid", "f_index": "Meter index", "f_read_on": "Read on",
    },
}


@dataclass
class RequestLimiter:
    """Requests per client address in a sliding window (what a login limit is to
    failures, this is to every self-service request: there is no password to fail)."""

    max_requests: int = MAX_REQUESTS
    window: float = REQUEST_WINDOW
    max_tracked: int = MAX_TRACKED
    _seen: dict[str, list[float]] = field(default_factory=dict)

    def allow(self, address: str, cost: int = 1, now: float | None = None) -> bool:
        """Count ``cost`` requests; False (and nothing counted) once over the limit."""
        now = time.monotonic() if now is None else now
        recent = [t for t in self._seen.pop(address, []) if now - t < self.window]
        allowed = len(recent) + cost <= self.max_requests
        if allowed:
            recent.extend([now] * cost)
        if recent:
            self._seen[address] = recent  # re-inserted: the dict's order is last use
        while len(self._seen) > self.max_tracked:
            del self._seen[next(iter(self._seen))]
        return allowed

    def charge(self, address: str, cost: int, now: float | None = None) -> None:
        """Count ``cost`` more (a refused check), even past the limit."""
        now = time.monotonic() if now is None else now
        self._seen.setdefault(address, []).extend([now] * cost)


REGISTRY = web.AppKey("selfservice_lookups", LookupRegistry)
LIMIT = web.AppKey("selfservice_limiter", RequestLimiter)


def _lang(value: object) -> str:
    return value if isinstance(value, str) and value in LANGUAGES else "vi"


async def page(request: web.Request) -> web.Response:
    lang = _lang(request.query.get("lang"))
    t = TEXTS[lang]
    values: dict[str, Any] = {**t, "lang": lang, "request_id": uuid.uuid4().hex}
    response = render(request, "selfservice.html", title=t["heading"], script="selfservice.js",
                      **values)
    assert response.text is not None
    response.text = response.text.replace('<html lang="en">', f'<html lang="{lang}">', 1)
    return response


class _Refusal(IvrError):
    """One line for the visitor and the status to send it with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


async def _body(request: web.Request) -> dict[str, str]:
    if request.content_type == "application/json":
        try:
            raw = await request.json()
        except ValueError:
            raw = {}
    else:
        raw = dict(await request.post())
    if not isinstance(raw, dict):
        raw = {}
    return {str(k): v.strip()[:MAX_FIELD] for k, v in raw.items() if isinstance(v, str)}


def _code(body: Mapping[str, str], t: Mapping[str, str]) -> str:
    code = body.get("code", "").replace(" ", "").upper()
    if not _CODE.fullmatch(code):
        raise _Refusal(t["bad_code"])
    return code


def _show(key: str, value: Any, t: Mapping[str, str]) -> str:
    if isinstance(value, bool):
        return t["yes"] if value else t["no"]
    if isinstance(value, datetime):
        return value.strftime("%H:%M %d/%m/%Y")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if key == "cause":  # stored as a code; a cause added later shows in plain words
        return t.get(f"c_{value}", str(value).replace("_", " "))
    if isinstance(value, int) and key.startswith("amount"):
        return f"{value:,}".replace(",", ".") + " ₫"  # Vietnam groups thousands with dots
    return "—" if value is None or value == "" else str(value)


def _fields(value: Mapping[str, Any], keys: tuple[str, ...],
            t: Mapping[str, str]) -> list[list[str]]:
    return [[t[f"f_{k}"], _show(k, value[k], t)] for k in keys if k in value]


def _ctx(lang: str, caller: str = "", request_id: str = "") -> LookupContext:
    return LookupContext(call_id=f"web-{request_id or uuid.uuid4().hex}", caller=caller,
                         dialled="", language=lang, channel="web")


async def _run(request: web.Request, name: str, inputs: Mapping[str, Any],
               ctx: LookupContext, t: Mapping[str, str]) -> LookupResult:
    result = await request.app[REGISTRY].run(name, inputs, ctx)
    if result.status in (LookupStatus.ERROR, LookupStatus.TIMEOUT):
        raise _Refusal(t["unavailable"], status=503)
    return result


async def outage(request: web.Request, body: dict[str, str], t: Mapping[str, str],
                 lang: str) -> dict[str, Any]:
    """By customer code when the text is one, else by part of an area's name."""
    where = body.get("code", "").strip()
    code = where.replace(" ", "").upper()
    if _CODE.fullmatch(code):
        result = await _run(request, "outage_for_account", {"account": code}, _ctx(lang), t)
    elif len(where) >= MIN_AREA_SEARCH and not code.isdigit():
        result = await _run(request, "outage_for_area", {"area": where}, _ctx(lang), t)
    else:
        raise _Refusal(t["bad_where"])
    if result.status is not LookupStatus.FOUND:
        return {"ok": True, "message": t["no_outage"], "fields": []}
    found = result.value
    key = "outage_active" if found["status"] == "active" else "outage_scheduled"
    return {"ok": True, "message": t[key].format(area=found["area"]),
            "fields": _fields(found, ("cause", "started_at", "estimated_restore", "planned"),
                              t)}


async def bill(request: web.Request, body: dict[str, str], t: Mapping[str, str],
               lang: str) -> dict[str, Any]:
    code = body.get("code", "").replace(" ", "").upper()
    digits = body.get("last_digits", "")
    ctx = _ctx(lang)
    checked = None
    if _CODE.fullmatch(code) and _LAST_DIGITS.fullmatch(digits):
        checked = await _run(request, "phone_check", {"account": code, "last_digits": digits},
                             ctx, t)
    if checked is None or checked.status is not LookupStatus.FOUND:
        # The same answer for an unknown code, a malformed one and wrong digits.
        request.app[LIMIT].charge(client_address(request), REFUSED_CHECK_COST - 1)
        return {"ok": False, "message": t["refused"], "fields": []}
    account = await _run(request, "account_by_code", {"digits": code[2:], "prefix": code[:2]},
                         ctx, t)
    balance = await _run(request, "balance", {"account": code}, ctx, t)
    meter = await _run(request, "meter_reading", {"account": code}, ctx, t)
    fields = _fields(balance.value, ("amount_due", "amount", "period", "due_date", "kwh",
                                     "paid"), t)
    fields += _fields(meter.value, ("index", "read_on"), t)
    return {"ok": True, "message": t["bill_ok"].format(name=account.value.get("name", code)),
            "fields": fields}


async def report(request: web.Request, body: dict[str, str], t: Mapping[str, str],
                 lang: str) -> dict[str, Any]:
    kind = body.get("kind", "")
    if kind != "outage" and kind not in SERVICE_KINDS:
        raise _Refusal(t["bad_kind"])
    code = _code(body, t)
    request_id = body.get("request_id", "")
    ctx = _ctx(lang, caller=normalise_phone(body.get("phone", "")[:20]),
               request_id=request_id if _REQUEST_ID.fullmatch(request_id) else "")
    if kind == "outage":
        result = await _run(request, "report_outage", {"account": code}, ctx, t)
        # Linked to a known outage: say when power should be back, as the phone does.
        restore = result.value if result.value.get("linked_outage") else {}
        return {"ok": True, "message": t["ticket"].format(ticket=result.value["ticket"]),
                "ticket": result.value["ticket"], "request_id": uuid.uuid4().hex,
                "fields": _fields(restore, ("estimated_restore",), t)}
    result = await _run(request, "service_request", {"kind": kind, "account": code}, ctx, t)
    if result.status is not LookupStatus.FOUND:
        raise _Refusal(t["bad_kind"])
    reference = result.value["reference"]
    return {"ok": True, "message": t["reference"].format(reference=reference),
            "reference": reference, "fields": [], "request_id": uuid.uuid4().hex}


_ACTIONS = {"outage": outage, "bill": bill, "report": report}


async def act(request: web.Request) -> web.Response:
    """POST /self-service/{outage,bill,report}: JSON (or a form) in, JSON out."""
    action = _ACTIONS[request.match_info["action"]]
    body = await _body(request)
    lang = _lang(body.get("lang"))
    t = TEXTS[lang]
    if not request.app[LIMIT].allow(client_address(request)):
        return web.json_response({"error": t["limited"]}, status=429,
                                 headers={"Retry-After": str(int(REQUEST_WINDOW))})
    try:
        return web.json_response(await action(request, body, t, lang))
    except _Refusal as refusal:
        return web.json_response({"error": str(refusal)}, status=refusal.status)


def add_routes(app: web.Application) -> None:
    # The web store is the full Store in every app that serves pages (ivr serve, tests).
    app[REGISTRY] = build_lookups(cast(Store, app[STORE]))
    app[LIMIT] = RequestLimiter()
    app.router.add_get("/self-service", page)
    app.router.add_post(r"/self-service/{action:outage|bill|report}", act)
