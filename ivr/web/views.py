"""HTML pages (login, agent console, softphone, supervisor), prompt audio and /healthz.

Pages are small server-rendered shells; the live parts (pop cards, the keypad) are
vanilla JavaScript in ``static/`` talking to the websockets and the JSON API.
"""

from __future__ import annotations

import asyncio
import html
import re
import string
import time
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from ivr.config.settings import WebUser
from ivr.web.auth import MAX_CREDENTIAL_LENGTH, check_password
from ivr.web.keys import (
    AUDIO_DIR,
    DEMO_CALLERS,
    DIRECTORY,
    FLOW_NAMES,
    FLOWS_VERSION,
    LIMITER,
    LOGGED_OUT_CLOSE_CODE,
    NEW_SESSION_KEY,
    REVOKED,
    SOCKETS,
    STORE,
    WS_CLOSER,
    WS_SESSION,
    current_session,
    current_user,
)
from ivr.web.middleware import client_address, require_page_user
from ivr.web.sessions import CSRF_FIELD, login_session, logout_session, password_stamp

TEMPLATES = Path(__file__).parent / "templates"
#: Audio paths: ``<prefix>/<lang>/<id>.wav`` and nothing that could climb out.
_AUDIO_PATH = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*\.wav$")
#: A ``next=`` target: a path on this site, printable ASCII without backslashes.
_LOCAL_PATH = re.compile(r"/[\x21-\x5b\x5d-\x7e]*")
#: A bcrypt check costs the same for a wrong user, so timing does not reveal names.
_DUMMY_HASH = "$2b$12$E2.pbT8ZRCcAl6oWdTpY8OQLmjv9DWq32VTDQatvbi6IOT5hTqTMy"


def _template(name: str) -> string.Template:
    return string.Template((TEMPLATES / name).read_text(encoding="utf-8"))


def render(request: web.Request, template: str, *, title: str, script: str = "",
           status: int = 200, **values: str) -> web.Response:
    """Fill ``templates/<name>`` into the base layout; every value is HTML-escaped."""
    user = current_user(request)
    csrf = current_session(request).csrf
    safe = {k: html.escape(v) for k, v in values.items()}
    body = _template(template).safe_substitute(safe, csrf=html.escape(csrf))
    page = _template("base.html").safe_substitute(
        title=html.escape(title),
        csrf=html.escape(csrf),
        nav=_nav(user, request.path, csrf),
        body=body,
        script=(
            '<script src="/static/common.js" defer></script>'
            f'<script src="/static/{html.escape(script)}" defer></script>'
        ) if script else "",
        user=html.escape(user.name if user else ""),
        role=html.escape(user.role if user else ""),
    )
    return web.Response(text=page, content_type="text/html", charset="utf-8", status=status)


def _nav(user: WebUser | None, path: str, csrf: str) -> str:
    if user is None:
        return ""
    links = [("/agent", "Agent console"), ("/softphone", "Softphone")]
    if user.role == "supervisor":
        links.append(("/supervisor", "Supervisor"))
        links.append(("/supervisor/flows", "Flows"))
    active = ' class="active"'
    items = "".join(
        f'<a href="{href}"{active if path == href else ""}>{label}</a>'
        for href, label in links
    )
    return (
        f'<nav>{items}</nav><div class="who"><span>{html.escape(user.name)} '
        f'<small>{html.escape(user.role)}</small></span>'
        f'<form method="post" action="/logout"><input type="hidden" name="{CSRF_FIELD}" '
        f'value="{html.escape(csrf)}"><button class="link" type="submit">Log out</button>'
        "</form></div>"
    )


def _safe_next(target: str) -> str:
    """Only local paths: a login link must not bounce the user to another site.

    Browsers read ``/\\evil.example`` as ``//evil.example`` and drop tabs and newlines
    from URLs, so backslashes and control characters are refused outright, not parsed.
    """
    if not _LOCAL_PATH.fullmatch(target):
        return ""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return ""
    return target


def _stand_in_hash(request: web.Request) -> str:
    """Hash checked for an unknown name: a configured user's, so the check costs exactly
    what a real one does (demo users are hashed at a lower cost than the fixed dummy, and
    the difference told which names exist). ``ok`` stays false: there is no user."""
    users = request.app[DIRECTORY].users
    return users[0].password_hash if users else _DUMMY_HASH


def _home(user: WebUser) -> str:
    return "/supervisor" if user.role == "supervisor" else "/agent"


async def healthz(request: web.Request) -> web.Response:
    """200 ``{"status": "ok"}``, or 503 saying what is wrong (a load balancer or monitor
    reads the status; an operator reads the JSON), with the flows version this node runs
    (nodes disagree after a bad push)."""
    body: dict[str, object] = {"status": "ok"}
    version = request.app.get(FLOWS_VERSION)
    if version is not None:
        body["flows_version"] = version()
    database = request.app[STORE].database_health()
    if database.get("state") == "ok":
        return web.json_response(body)
    body.update(status="degraded", database=database)
    return web.json_response(body, status=503)


async def index(request: web.Request) -> web.Response:
    user = require_page_user(request)
    raise web.HTTPFound(_home(user))


async def login_page(request: web.Request) -> web.Response:
    user = current_user(request)
    if user is not None:  # logged in already (another tab): straight on to the page
        raise web.HTTPFound(_safe_next(request.query.get("next", "")) or _home(user))
    expired = "The form had expired; please log in again." if "expired" in request.query else ""
    return render(request, "login.html", title="Log in", error=expired,
                  next=_safe_next(request.query.get("next", "")), name="")


async def login_post(request: web.Request) -> web.Response:
    form = await request.post()
    name = str(form.get("name", "")).strip()[:MAX_CREDENTIAL_LENGTH]
    password = str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "")))
    address = client_address(request)
    limiter = request.app[LIMITER]
    # Counted before bcrypt runs, so parallel guesses cannot all slip past the limit.
    if not limiter.attempt(address, name):
        return render(request, "login.html", title="Log in", status=429, next=target, name=name,
                      error="Too many failed attempts. Wait a few minutes and try again.")
    user = request.app[DIRECTORY].get(name)
    ok = False
    if len(password) <= MAX_CREDENTIAL_LENGTH:
        # bcrypt takes ~0.25 s: off the event loop so calls and pops keep flowing.
        hashed = user.password_hash if user else _stand_in_hash(request)
        ok = await asyncio.to_thread(check_password, password, hashed) and user is not None
    if not ok or user is None:
        return render(request, "login.html", title="Log in", status=401, next=target, name=name,
                      error="Wrong user name or password.")
    limiter.succeeded(address, name)
    request[NEW_SESSION_KEY] = login_session(current_session(request), user.name,
                                             stamp=password_stamp(user.password_hash))
    raise web.HTTPFound(target or _home(user))


async def logout(request: web.Request) -> web.Response:
    """End the session here and now: the cookie is revoked (a copy of it opens nothing)
    and the consoles and softphones that session opened are closed."""
    session = current_session(request)
    if session.logged_in:
        revoked = request.app[REVOKED]
        now = time.time()
        for token in [t for t, expires in revoked.items() if expires < now]:
            del revoked[token]  # expired cookies are refused anyway
        revoked[session.csrf] = session.expires
        for ws in [*request.app[SOCKETS]]:
            if ws.get(WS_SESSION) == session.csrf and not ws.closed:
                # Not awaited: a tab on a dead network must not hold up the logout.
                ws[WS_CLOSER] = asyncio.create_task(
                    ws.close(code=LOGGED_OUT_CLOSE_CODE, message=b"logged out"))
    request[NEW_SESSION_KEY] = logout_session(session)
    raise web.HTTPFound("/login")


async def agent_page(request: web.Request) -> web.Response:
    user = require_page_user(request)
    return render(request, "agent.html", title="Agent console", script="agent.js",
                  queues=", ".join(user.queues) or "all queues")


async def softphone_page(request: web.Request) -> web.Response:
    require_page_user(request)
    flows = list(request.app[FLOW_NAMES]())
    options = "".join(f'<option value="{html.escape(f)}">{html.escape(f)}</option>'
                      for f in flows) or '<option value="">(default flow)</option>'
    callers = "".join(
        f'<option value="{html.escape(number)}">{html.escape(label)}</option>'
        for number, label in request.app[DEMO_CALLERS]
    )
    first = request.app[DEMO_CALLERS][0][0] if request.app[DEMO_CALLERS] else ""
    page = render(request, "softphone.html", title="Softphone", script="softphone.js",
                  caller=first)
    assert page.text is not None
    page.text = page.text.replace("<!--FLOW_OPTIONS-->", options).replace(
        "<!--CALLER_OPTIONS-->", callers)
    return page


async def supervisor_page(request: web.Request) -> web.Response:
    user = require_page_user(request)
    if user.role != "supervisor":  # a page with the menu and a way back, not bare text
        return render(request, "forbidden.html", title="Supervisors only", status=403,
                      message="This page is for supervisors.", home=_home(user))
    # The flow graph's choice of flows; render() escapes it into a data attribute.
    flows = ",".join(request.app[FLOW_NAMES]())
    return render(request, "supervisor.html", title="Supervisor", script="supervisor.js",
                  graph_flows=flows)


async def flows_page(request: web.Request) -> web.Response:
    """The flow editor: edit, validate, try, publish, history and rollback (flows.js
    over ``/api/flows``)."""
    user = require_page_user(request)
    if user.role != "supervisor":
        return render(request, "forbidden.html", title="Supervisors only", status=403,
                      message="This page is for supervisors.", home=_home(user))
    return render(request, "flows.html", title="Flows", script="flows.js")


async def audio(request: web.Request) -> web.FileResponse:
    """Built prompt audio (``var/prompts/<prefix>/<lang>/<id>.wav``), logged-in users only."""
    require_page_user(request)
    relative = request.match_info["path"]
    if not _AUDIO_PATH.match(relative):
        raise web.HTTPNotFound()
    root = request.app[AUDIO_DIR]
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Content-Type": "audio/wav",
                                           "Cache-Control": "private, max-age=300"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/", index)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_post)
    app.router.add_post("/logout", logout)
    app.router.add_get("/agent", agent_page)
    app.router.add_get("/softphone", softphone_page)
    app.router.add_get("/supervisor", supervisor_page)
    app.router.add_get("/supervisor/flows", flows_page)
    app.router.add_get("/audio/{path:.+}", audio)
