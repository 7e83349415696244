"""The public self-service page over HTTP on the real app and a seeded store: no login,
CSRF, the per-address limit, the phone check, and reports numbered like the phone's."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import select
from web_helpers import csrf_of

from ivr.config.settings import Settings
from ivr.store import Store
from ivr.store.demo import OUTAGE, PAID, UNPAID
from ivr.store.models import outage_reports, service_requests
from ivr.store.requests import report_id
from ivr.web.middleware import CONTENT_SECURITY_POLICY
from ivr.web.selfservice import MAX_REQUESTS, TEXTS

pytest_plugins = ("web_fixtures",)

Client = TestClient[Any, Any]


async def _client(aiohttp_client: Any, make_app: Any) -> tuple[Client, str]:
    client: Client = await aiohttp_client(make_app())
    return client, await csrf_of(client, "/self-service")


async def _post(client: Client, token: str, action: str, **body: str) -> tuple[int, Any]:
    resp = await client.post(f"/self-service/{action}", json=body,
                             headers={"X-CSRF-Token": token})
    return resp.status, await resp.json()


async def test_the_page_is_public_vietnamese_first_and_linked_from_login(
    aiohttp_client: Any, make_app: Any
) -> None:
    client: Client = await aiohttp_client(make_app())
    resp = await client.get("/self-service")
    assert resp.status == 200
    assert resp.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    text = await resp.text()
    assert '<html lang="vi">' in text and TEXTS["vi"]["outage_h"] in text
    assert 'href="/self-service?lang=en"' in text
    english = await (await client.get("/self-service?lang=en")).text()
    assert '<html lang="en">' in english and TEXTS["en"]["bill_h"] in english
    assert 'href="/self-service"' in await (await client.get("/login")).text()


async def test_a_post_without_the_csrf_token_is_refused(
    aiohttp_client: Any, make_app: Any, web_store: Store
) -> None:
    client, _ = await _client(aiohttp_client, make_app)
    resp = await client.post("/self-service/report", json={"kind": "outage",
                                                           "code": OUTAGE.code})
    assert resp.status == 403
    resp = await client.post("/self-service/report", json={"kind": "outage", "code": OUTAGE.code},
                             headers={"X-CSRF-Token": "forged"})
    assert resp.status == 403
    assert (await web_store.stats())["outage_reports"] == 0


async def test_outage_status_by_customer_code(aiohttp_client: Any, make_app: Any) -> None:
    client, token = await _client(aiohttp_client, make_app)
    status, body = await _post(client, token, "outage", code=OUTAGE.code.lower(), lang="en")
    assert status == 200 and body["ok"] is True
    assert body["message"].startswith("Power is out in ")
    fields = dict(body["fields"])
    assert fields["Cause"] == "line fault" and fields["Planned"] == "no"
    assert fields["Power back by"].endswith("/2026")
    status, body = await _post(client, token, "outage", code=PAID.code)
    assert (status, body["message"]) == (200, TEXTS["vi"]["no_outage"])
    status, body = await _post(client, token, "outage", code="12")
    assert (status, body) == (400, {"error": TEXTS["vi"]["bad_where"]})


async def test_outage_status_by_area(aiohttp_client: Any, make_app: Any) -> None:
    client, token = await _client(aiohttp_client, make_app)
    status, body = await _post(client, token, "outage", code="Võ Thị Sáu", lang="en")
    assert status == 200 and body["message"].startswith("Power is out in Phường Võ Thị Sáu")
    status, body = await _post(client, token, "outage", code="Nowhere at all", lang="en")
    assert (status, body["message"]) == (200, TEXTS["en"]["no_outage"])


async def test_the_bill_needs_the_registered_phones_last_digits(
    aiohttp_client: Any, make_app: Any
) -> None:
    client, token = await _client(aiohttp_client, make_app)
    right = UNPAID.phones[0][-4:]
    status, body = await _post(client, token, "bill", code=UNPAID.code, last_digits=right,
                               lang="en")
    assert status == 200 and body["ok"] is True, body
    fields = dict(body["fields"])
    assert fields["Paid"] == "no" and fields["Total due"].endswith(" ₫")
    assert fields["Meter index"].isdigit()
    wrong = f"{(int(right) + 1) % 10000:04d}"
    refused = {"ok": False, "message": TEXTS["en"]["refused"], "fields": []}
    # Wrong digits and an unknown code get the same answer: codes cannot be enumerated.
    for code, digits in ((UNPAID.code, wrong), ("PE09999999999", right), (UNPAID.code, "12")):
        status, body = await _post(client, token, "bill", code=code, last_digits=digits,
                                   lang="en")
        assert (status, body) == (200, refused), (code, digits)


async def test_a_report_gets_a_ticket_that_is_in_the_database(
    aiohttp_client: Any, make_app: Any, web_store: Store
) -> None:
    client, token = await _client(aiohttp_client, make_app)
    status, body = await _post(client, token, "report", kind="outage", code=OUTAGE.code,
                               phone=OUTAGE.phones[0], request_id="form-0001", lang="en")
    assert status == 200, body
    ticket = body["ticket"]
    assert body["message"] == f"Outage report received. Ticket number: {ticket}."
    assert [label for label, _ in body["fields"]] == ["Power back by"]  # a known outage
    again = await _post(client, token, "report", kind="outage", code=OUTAGE.code,
                        request_id="form-0001")
    assert again[1]["ticket"] == ticket  # a double click files one report
    fresh = await _post(client, token, "report", kind="outage", code=OUTAGE.code,
                        request_id=body["request_id"])
    assert fresh[1]["ticket"] != ticket  # the page's next report is a new one
    status, body = await _post(client, token, "report", kind="meter_inspection",
                               code=UNPAID.code, request_id="form-0002")
    assert status == 200 and body["reference"]
    async with web_store.engine.connect() as conn:
        row = (await conn.execute(select(outage_reports).where(
            outage_reports.c.id == report_id(ticket)))).one()
        service = (await conn.execute(select(service_requests))).one()
        reports = (await conn.execute(select(outage_reports))).all()
    assert len(reports) == 2
    assert (row.call_id, row.caller) == ("web-form-0001", OUTAGE.phones[0])
    assert row.account_id is not None and row.outage_id is not None
    assert (service.call_id, service.kind) == ("web-form-0002", "meter_inspection")
    status, body = await _post(client, token, "report", kind="fax", code=UNPAID.code)
    assert (status, body) == (400, {"error": TEXTS["vi"]["bad_kind"]})


async def test_the_limit_lets_a_few_through_then_answers_politely(
    aiohttp_client: Any, make_app: Any
) -> None:
    client, token = await _client(aiohttp_client, make_app)
    for n in range(MAX_REQUESTS):
        status, _ = await _post(client, token, "outage", code=OUTAGE.code)
        assert status == 200, n
    resp = await client.post("/self-service/outage", json={"code": OUTAGE.code, "lang": "en"},
                             headers={"X-CSRF-Token": token})
    assert resp.status == 429
    assert resp.headers["Retry-After"] == "60"
    assert await resp.json() == {"error": TEXTS["en"]["limited"]}


async def test_wrong_phone_checks_count_double(aiohttp_client: Any, make_app: Any) -> None:
    client, token = await _client(aiohttp_client, make_app)
    right = UNPAID.phones[0][-4:]
    wrong = f"{(int(right) + 1) % 10000:04d}"
    for _ in range(MAX_REQUESTS // 2):
        status, body = await _post(client, token, "bill", code=UNPAID.code, last_digits=wrong)
        assert status == 200 and body["ok"] is False
    status, body = await _post(client, token, "bill", code=UNPAID.code, last_digits=right)
    assert (status, body) == (429, {"error": TEXTS["vi"]["limited"]})


async def test_behind_a_trusted_proxy_each_visitor_has_their_own_limit(
    aiohttp_client: Any, make_app: Any, web_settings: Settings
) -> None:
    settings = replace(web_settings, extra={"web": {"trusted_proxy": True}})
    client: Client = await aiohttp_client(make_app(settings=settings))
    token = await csrf_of(client, "/self-service")

    async def ask(visitor: str) -> int:
        resp = await client.post("/self-service/outage", json={"code": OUTAGE.code},
                                 headers={"X-CSRF-Token": token,
                                          "X-Forwarded-For": f"1.2.3.4, {visitor}"})
        return resp.status

    assert [await ask("203.0.113.7") for _ in range(MAX_REQUESTS + 1)][-2:] == [200, 429]
    assert await ask("203.0.113.8") == 200  # another customer behind the same proxy


async def test_a_report_for_an_unknown_code_is_still_filed(
    aiohttp_client: Any, make_app: Any, web_store: Store
) -> None:
    # As on the phone: a report is never lost because the code was mistyped; agents see it.
    client, token = await _client(aiohttp_client, make_app)
    status, body = await _post(client, token, "report", kind="outage", code="PE09999999999")
    assert status == 200 and body["ticket"].isdigit(), body
    assert (await web_store.stats())["outage_reports"] == 1
