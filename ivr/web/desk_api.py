"""The agent's desk over HTTP: case search by phone number or customer code, and the
agent's own day (every case they rang, took or called back today, with the after-call
work each took). The callback worklist is in :mod:`ivr.web.callbacks_api`."""

from __future__ import annotations

import re

from aiohttp import web

from ivr.store.convert import normalise_phone
from ivr.store.desk import start_of_day
from ivr.web.api import MAX_LIST, can_read
from ivr.web.keys import CLOCK, DISPATCHER, STORE
from ivr.web.middleware import require_api_user

#: A customer code: two letters then digits (``PE01000123456``); a phone number: digits
#: with an optional leading +, spaces, dots or dashes as people type them.
_CUSTOMER_CODE = re.compile(r"^[A-Za-z]{2}[0-9]{1,11}$")
_PHONE = re.compile(r"^\+?[0-9 .\-]{3,24}$")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def search(request: web.Request) -> web.Response:
    """``?q=`` a phone number (any of the forms callers arrive in) or a customer code."""
    user = require_api_user(request)
    q = request.query.get("q", "").strip()
    if _CUSTOMER_CODE.match(q):
        found = await request.app[STORE].list_cases(account=q.upper(), limit=MAX_LIST)
        by = "customer code"
    elif _PHONE.match(q) and normalise_phone(q):
        found = await request.app[STORE].list_cases(caller=normalise_phone(q), limit=MAX_LIST)
        by = "phone number"
    else:
        return _error(400, "search by a phone number (0901234567) or a customer code "
                           "(PE01000123456)")
    return web.json_response({"by": by, "cases": [c for c in found if can_read(user, c)]})


async def today(request: web.Request) -> web.Response:
    user = require_api_user(request)
    desk = request.app[DISPATCHER].desk
    if desk is None:
        return _error(503, "the desk needs the service's database")
    since = start_of_day(request.app[CLOCK].now())
    return web.json_response({"agent": user.name, "since": since.isoformat(),
                              "cases": await desk.store.work_today(user.name, since)})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/desk/search", search)
    app.router.add_get("/api/desk/today", today)
