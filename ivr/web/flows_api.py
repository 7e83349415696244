"""``/api/flows``: the published versions of the flows and prompts, for the supervisors'
flow page and for CI pipelines (docs/api.md).

Supervisors only: a cookie session (writes with its CSRF token, as everywhere), or
``Authorization: Bearer <token>`` with the service config's ``metrics: token:``, which
acts as the supervisor ``api`` (a header a browser never sends on its own, so no CSRF
token is asked of it). JSON in, JSON out; bad input is one ``{"error": ...}`` line.
"""

from __future__ import annotations

import asyncio
import hmac
import re
from typing import Any

from aiohttp import web

from ivr.config.diagnostics import Diagnostic
from ivr.config.settings import WebUser
from ivr.web.keys import CLOCK, PUBLISHER, SETTINGS
from ivr.web.middleware import require_api_user

BEARER = "bearer "
#: The supervisor a bearer token acts as (history entries say "api").
API_USER = WebUser(name="api", role="supervisor", password_hash="")
#: Versions are 12 hex digits (older ones may be longer hashes: allow up to 40).
_VERSION = re.compile(r"^[0-9a-f]{6,40}$")


def bearer_user(request: web.Request) -> WebUser | None:
    """The ``api`` supervisor for a request carrying the configured bearer token; None
    without the header. A wrong token is 401 at once, not a fall back to the cookie."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    token = request.app[SETTINGS].metrics_token
    given = header[len(BEARER):].strip().encode() if header[:len(BEARER)].lower() == BEARER \
        else b""
    if not token or not given or not hmac.compare_digest(given, token.encode()):
        raise web.HTTPUnauthorized(text='{"error": "wrong or unknown bearer token"}',
                                   content_type="application/json",
                                   headers={"WWW-Authenticate": 'Bearer realm="ivr api"'})
    return API_USER


def supervisor(request: web.Request) -> WebUser:
    return bearer_user(request) or require_api_user(request, role="supervisor")


def _error(status: int, message: str, **more: Any) -> web.Response:
    return web.json_response({"error": message, **more}, status=status)


def _publisher(request: web.Request) -> Any:
    publisher = request.app[PUBLISHER]
    if publisher is None:
        raise web.HTTPServiceUnavailable(text='{"error": "this node does not publish flows"}',
                                         content_type="application/json")
    return publisher


def diagnostic_json(d: Diagnostic, prompts_path: str | None) -> dict[str, Any]:
    return {"line": d.mark.line, "column": d.mark.col, "severity": d.severity.value,
            "message": d.message,
            "file": "prompts" if prompts_path and d.mark.path == prompts_path else "flows",
            "text": str(d)}


def _diagnostics(publisher: Any, diags: list[Diagnostic]) -> list[dict[str, Any]]:
    prompts = publisher.source.prompts
    path = str(prompts.path) if prompts is not None else None
    return [diagnostic_json(d, path) for d in diags]


async def _body(request: web.Request, *required: str) -> dict[str, Any] | web.Response:
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "send a JSON object")
    if not isinstance(body, dict):
        return _error(400, "send a JSON object")
    for name in required:
        if not isinstance(body.get(name), str):
            return _error(400, f"{name} must be text")
    for name in ("prompts", "note"):
        if body.get(name) is not None and not isinstance(body.get(name), str):
            return _error(400, f"{name} must be text when given")
    return body


async def flows_index(request: web.Request) -> web.Response:
    supervisor(request)
    publisher = _publisher(request)
    return web.json_response({"live": await publisher.live(),
                              "history": await publisher.history()})


async def flows_version(request: web.Request) -> web.Response:
    supervisor(request)
    version = request.match_info["version"]
    if not _VERSION.match(version):
        return _error(404, "no such version")
    found = await _publisher(request).version(version)
    if found is None:
        return _error(404, "no such version")
    return web.json_response(found)


async def flows_diff(request: web.Request) -> web.Response:
    """``?from=A&to=B``: a unified diff of both files (``text/plain``)."""
    supervisor(request)
    older, newer = request.query.get("from", ""), request.query.get("to", "")
    if not _VERSION.match(older) or not _VERSION.match(newer):
        return _error(400, "give two versions: ?from=<version>&to=<version>")
    diff = await _publisher(request).diff(older, newer)
    if diff is None:
        return _error(404, "no such version")
    return web.json_response({"from": older, "to": newer, "diff": diff})


async def flows_validate(request: web.Request) -> web.Response:
    supervisor(request)
    publisher = _publisher(request)
    body = await _body(request, "flows")
    if isinstance(body, web.Response):
        return body
    compiled = await publisher.validate(body["flows"], body.get("prompts"))
    diags = _diagnostics(publisher, compiled.diagnostics)
    ok = compiled.live is not None and not any(d["severity"] == "error" for d in diags)
    return web.json_response({"ok": ok, "version": compiled.live.version if ok else None,
                              "diagnostics": diags})


def _outcome(publisher: Any, outcome: Any) -> web.Response:
    if outcome.ok:
        return web.json_response({"version": outcome.version, "changed": outcome.changed})
    if outcome.error:
        status = 404 if outcome.error.startswith("no such version") else 503
        return _error(status, outcome.error)
    return web.json_response(
        {"error": "the flows have errors" if not outcome.failures
         else f"{len(outcome.failures)} scenario(s) fail with this version",
         "diagnostics": _diagnostics(publisher, outcome.diagnostics),
         "failures": outcome.failures}, status=422)


async def flows_publish(request: web.Request) -> web.Response:
    user = supervisor(request)
    publisher = _publisher(request)
    body = await _body(request, "flows")
    if isinstance(body, web.Response):
        return body
    outcome = await publisher.publish(body["flows"], body.get("prompts"), by=user.name,
                                      note=body.get("note") or "")
    return _outcome(publisher, outcome)


async def flows_rollback(request: web.Request) -> web.Response:
    user = supervisor(request)
    publisher = _publisher(request)
    body = await _body(request, "version")
    if isinstance(body, web.Response):
        return body
    if not _VERSION.match(body["version"]):
        return _error(404, "no such version")
    outcome = await publisher.rollback(body["version"], by=user.name,
                                       note=body.get("note") or "")
    return _outcome(publisher, outcome)


_KEYS = re.compile(r"^[0-9*#h\- ]{0,120}$")
_NUMBER = re.compile(r"^\+?[0-9]{0,20}$")


async def flows_try(request: web.Request) -> web.Response:
    """Run one simulated call on the text being edited (not published): ``{"flows",
    "prompts"?, "keys", "caller"?, "dialled"?, "language"?}``; the transcript, or 422
    with the diagnostics when it does not compile."""
    supervisor(request)
    publisher = _publisher(request)
    body = await _body(request, "flows")
    if isinstance(body, web.Response):
        return body
    keys = body.get("keys", "")
    caller, dialled = body.get("caller") or "0901234567", body.get("dialled") or ""
    language = body.get("language") or None
    if not isinstance(keys, str) or not _KEYS.match(keys):
        return _error(400, "keys: one group per question, separated by spaces (digits, * "
                           "and #; - for silence, h to hang up)")
    if not isinstance(caller, str) or not isinstance(dialled, str) \
            or not _NUMBER.match(caller) or not _NUMBER.match(dialled):
        return _error(400, "caller and dialled must be phone numbers (digits)")
    if language not in (None, "vi", "en"):
        return _error(400, "language must be vi or en")
    compiled = await publisher.validate(body["flows"], body.get("prompts"))
    if compiled.live is None:
        return web.json_response({"error": "the flows have errors",
                                  "diagnostics": _diagnostics(publisher, compiled.diagnostics)},
                                 status=422)
    from ivr.publishing import try_call

    transcript = await asyncio.to_thread(
        try_call, compiled, keys=keys, caller=caller, dialled=dialled, language=language,
        at=request.app[CLOCK].now())
    return web.json_response(transcript)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/flows", flows_index)
    app.router.add_get("/api/flows/diff", flows_diff)
    app.router.add_get("/api/flows/versions/{version}", flows_version)
    app.router.add_post("/api/flows/validate", flows_validate)
    app.router.add_post("/api/flows/publish", flows_publish)
    app.router.add_post("/api/flows/rollback", flows_rollback)
    app.router.add_post("/api/flows/try", flows_try)
