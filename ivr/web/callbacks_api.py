"""The callback worklist over HTTP: the callbacks the IVR promised (urgent first, then
oldest first) and "call now" (:class:`ivr.screenpop.callbacks.CallbackDialer`). How each
attempt goes reaches the agent's consoles as ``{"type": "callback", ...}`` messages."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ivr.config.settings import WebUser
from ivr.web.api import can_read
from ivr.web.keys import DIALER
from ivr.web.middleware import require_api_user

#: Most callbacks one worklist request returns.
MAX_WORKLIST = 100
#: The queue the IVR files promised callbacks in (ivr.store.requests.request_callback).
CALLBACKS_QUEUE = "callbacks"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _mine(user: WebUser, callback: dict[str, Any]) -> bool:
    """The same rule as the cases: an agent works the callbacks of the queues they serve
    (``callbacks``, where the IVR files them) and not one another agent is calling."""
    attempts: list[dict[str, Any]] = list(callback.get("attempts") or [])
    calling = callback.get("status") == "calling" and attempts
    owner = attempts[-1].get("agent") if calling else None
    return can_read(user, {"queue": CALLBACKS_QUEUE, "agent": owner})


async def worklist(request: web.Request) -> web.Response:
    user = require_api_user(request)
    dialer = request.app.get(DIALER)
    if dialer is None:
        return _error(503, "the worklist needs the service's database")
    found = await dialer.store.callbacks(limit=MAX_WORKLIST)
    return web.json_response({"callbacks": [c for c in found if _mine(user, c)],
                              "can_call": dialer.ami is not None})


async def call_now(request: web.Request) -> web.Response:
    user = require_api_user(request)
    dialer = request.app.get(DIALER)
    if dialer is None:
        return _error(503, "the worklist needs the service's database")
    raw = request.match_info["callback_id"]
    if not raw.isdigit() or len(raw) > 12:
        return _error(404, "no such callback")
    found = await dialer.store.callback(int(raw))
    if found is None:
        return _error(404, "no such callback (done already?)")
    if not _mine(user, found):
        return _error(403, "this callback belongs to another queue or agent")
    if not user.interfaces:
        return _error(400, f"{user.name} has no phone to ring: give the user an Asterisk "
                           "interface (web.users[].interfaces) in the service config")
    placed = await dialer.call_now(user, int(raw))
    return web.json_response(placed, status=200 if placed.get("ok") else 409)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/callbacks", worklist)
    app.router.add_post("/api/callbacks/{callback_id}/call", call_now)
