"""JSON API for the console and for CRMs: cases, calls and who is online.

Agents see only cases of the queues they serve, and not a case another agent holds;
supervisors see everything. Writes need the session's CSRF token (``X-CSRF-Token``).
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from ivr.config.settings import WebUser
from ivr.screenpop.directory import builtin_interface, serves_queue
from ivr.screenpop.wording import words_table
from ivr.web.keys import (
    DIRECTORY,
    DISPATCHER,
    PRESENCE,
    QUEUE,
    SETTINGS,
    STORE,
    current_session,
)
from ivr.web.middleware import require_api_user

#: Dispositions an agent can close a case with (shown in the console's form).
DISPOSITIONS = (
    "resolved",
    "callback_needed",
    "field_crew_dispatched",
    "escalated",
    "information_given",
    "wrong_number",
    "other",
)
#: Notes are free text for people; a few pages is plenty and keeps rows small.
MAX_NOTES = 4000
#: Most cases one list request returns.
MAX_LIST = 200
_CASE_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_NUMBER = re.compile(r"^[0-9+]{1,20}$")
_ACCOUNT = re.compile(r"^[A-Za-z0-9]{1,20}$")


def can_read(user: WebUser, case: dict[str, Any]) -> bool:
    """Supervisors read every case; an agent reads the cases offered to them (whatever
    the queue: Asterisk may ring a member the web config lists for other queues) and
    the cases of their queues not held by another agent (a case's owner is whoever last
    rang or answered it)."""
    if user.role == "supervisor":
        return True
    holder = str(case.get("agent") or "")
    # The store names the holder by user name (pops) or by interface (transfer result).
    mine = {user.name.lower(), builtin_interface(user.name).lower()}
    mine.update(i.lower() for i in user.interfaces)
    if holder:
        return holder.lower() in mine
    return serves_queue(user, str(case.get("queue") or ""))


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _readable_case(request: web.Request, user: WebUser) -> dict[str, Any] | web.Response:
    case_id = request.match_info["case_id"]
    if not _CASE_ID.match(case_id):
        return _error(404, "no such case")
    case = await request.app[STORE].get_case(case_id)
    if case is None:
        return _error(404, "no such case")
    if not can_read(user, case):
        return _error(403, "this case belongs to another queue or agent")
    return dict(case)


async def get_case(request: web.Request) -> web.Response:
    user = require_api_user(request)
    case = await _readable_case(request, user)
    if isinstance(case, web.Response):
        return case
    return web.json_response(case)


def synthetic_choice(request: web.Request) -> bool | None:
    """``synthetic=include`` counts load-test calls (``ivr loadtest``), ``exclude`` (the
    default) leaves them out; None for anything else."""
    return {"include": True, "exclude": False}.get(request.query.get("synthetic", "exclude"))


SYNTHETIC_CHOICES = "synthetic must be include or exclude"


async def list_cases(request: web.Request) -> web.Response:
    user = require_api_user(request)
    synthetic = synthetic_choice(request)
    if synthetic is None:
        return _error(400, SYNTHETIC_CHOICES)
    caller = request.query.get("caller") or None
    account = request.query.get("account") or None
    queue = request.query.get("queue") or None
    if caller is not None and not _NUMBER.match(caller):
        return _error(400, "caller must be a phone number (digits)")
    if account is not None and not _ACCOUNT.match(account):
        return _error(400, "account must be a customer code (letters and digits)")
    try:
        limit = min(MAX_LIST, max(1, int(request.query.get("limit", "50"))))
    except ValueError:
        return _error(400, "limit must be a number")
    found = await request.app[STORE].list_cases(caller=caller, account=account, queue=queue,
                                                limit=limit, synthetic=synthetic)
    return web.json_response({"cases": [c for c in found if can_read(user, c)]})


async def update_case(request: web.Request) -> web.Response:
    user = require_api_user(request)
    case = await _readable_case(request, user)
    if isinstance(case, web.Response):
        return case
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "send a JSON object with notes and/or disposition")
    if not isinstance(body, dict):
        return _error(400, "send a JSON object with notes and/or disposition")
    notes, disposition = body.get("notes"), body.get("disposition")
    if notes is not None and (not isinstance(notes, str) or len(notes) > MAX_NOTES):
        return _error(400, f"notes must be text of at most {MAX_NOTES} characters")
    if disposition is not None and disposition not in DISPOSITIONS:
        return _error(400, f"disposition must be one of: {', '.join(DISPOSITIONS)}")
    if notes is None and disposition is None:
        return _error(400, "nothing to save: give notes and/or disposition")
    agent = user.name if user.role == "agent" and not case.get("agent") else None
    updated = await request.app[STORE].update_case(
        str(case["id"]), notes=notes, disposition=disposition, agent=agent
    )
    if updated is None:
        return _error(404, "no such case")
    await request.app[STORE].add_case_event(
        str(case["id"]), "notes_saved", agent=user.name,
        detail=f"disposition {disposition}" if disposition else "")
    desk = request.app[DISPATCHER].desk
    if disposition and desk is not None and desk.presence.wrap_up_case(user.name) == case["id"]:
        # A disposition saved on the case in after-call work ends it (issue 11).
        updated = {**updated, "desk": await desk.ready(user.name, disposition=disposition)}
    return web.json_response(updated)


async def list_calls(request: web.Request) -> web.Response:
    require_api_user(request, role="supervisor")
    try:
        limit = min(MAX_LIST, max(1, int(request.query.get("limit", "50"))))
    except ValueError:
        return _error(400, "limit must be a number")
    synthetic = synthetic_choice(request)
    if synthetic is None:
        return _error(400, SYNTHETIC_CHOICES)
    calls = await request.app[STORE].list_calls(limit=limit, synthetic=synthetic)
    return web.json_response({"calls": calls})


async def agents(request: web.Request) -> web.Response:
    require_api_user(request, role="supervisor")
    online = request.app[PRESENCE].online()
    busy = request.app[QUEUE].busy()
    rows = [
        {"name": u.name, "queues": list(u.queues), "interfaces": list(u.interfaces),
         "online": u.name in online, "available": online.get(u.name, False),
         "case": busy.get(u.name)}
        for u in request.app[DIRECTORY].agents()
    ]
    return web.json_response({"agents": rows})


async def me(request: web.Request) -> web.Response:
    user = require_api_user(request)
    return web.json_response({"name": user.name, "role": user.role, "queues": list(user.queues),
                              "csrf": current_session(request).csrf,
                              "dispositions": list(DISPOSITIONS), "words": words_table()})


#: A recording's name as the store keeps it: one file name, no directory part.
_RECORDING_FILE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9]{1,5}$")
#: Content types of the formats a ``record`` node may produce.
_AUDIO_TYPES = {"wav": "audio/wav", "gsm": "audio/x-gsm", "WAV": "audio/wav"}


async def recording(request: web.Request) -> web.StreamResponse:
    """A caller's recording, for those who may read its case (``<audio>`` on the card).

    Addressed by its row id only: the file name comes from the store and must be a
    plain name inside the recordings directory, so no request can name another file."""
    user = require_api_user(request)
    raw = request.match_info["recording_id"]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 12):
        return _error(404, "no such recording")
    found = await request.app[STORE].get_recording(int(raw))
    if found is None:
        return _error(404, "no such recording")
    case = await request.app[STORE].get_case(str(found["case_id"]))
    if case is None or not can_read(user, case):
        return _error(403, "this recording belongs to another queue or agent")
    name = str(found["path"])
    root = request.app[SETTINGS].recordings_path
    path = (root / name).resolve()
    if not _RECORDING_FILE.match(name) or not path.is_relative_to(root) or not path.is_file():
        return _error(404, "the recording's file is missing")
    kind = _AUDIO_TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream")
    return web.FileResponse(path, headers={"Content-Type": kind,
                                           "Cache-Control": "private, max-age=300"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/me", me)
    app.router.add_get("/api/recordings/{recording_id}", recording)
    app.router.add_get("/api/cases", list_cases)
    app.router.add_get("/api/cases/{case_id}", get_case)
    app.router.add_post("/api/cases/{case_id}", update_case)
    app.router.add_get("/api/calls", list_calls)
    app.router.add_get("/api/agents", agents)
