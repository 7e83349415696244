"""Request plumbing: sessions, CSRF checks, who may see what, and security headers."""

from __future__ import annotations

import logging
import traceback
from urllib.parse import quote, urlencode

from aiohttp import web
from aiohttp.typedefs import Handler

from ivr.config.settings import WebUser
from ivr.masking import mask_digit_runs
from ivr.web.keys import (
    CODEC,
    DIRECTORY,
    NEW_SESSION_KEY,
    REVOKED,
    SESSION_KEY,
    SETTINGS,
    USER_KEY,
    current_user,
)
from ivr.web.sessions import (
    COOKIE_NAME,
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_LIFETIME,
    Session,
    csrf_ok,
    new_session,
    password_stamp,
)

log = logging.getLogger(__name__)

#: Browsers remember for a year to use only HTTPS (sent only when the site is on HTTPS).
HSTS = "max-age=31536000"
#: Longest client address kept from a proxy header (an IPv6 address is at most 45).
MAX_ADDRESS_LENGTH = 64
#: Methods that change nothing: no CSRF token needed.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Pages only load our own scripts, styles, audio and websocket (no inline script):
#: an injected string in a case note cannot run.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'; object-src 'none'; "
    # Trusted Types: the browser refuses any HTML string put into the DOM (innerHTML and
    # friends), so a later edit that renders caller text as HTML fails loudly.
    "require-trusted-types-for 'script'; trusted-types 'none'"
)


def https_only(request: web.Request) -> bool:
    """True over TLS, or when the config says a TLS proxy is in front (``web:
    secure_cookies: true``): aiohttp behind nginx sees plain HTTP, and a session cookie
    without ``Secure`` would also be sent over any plain-HTTP link to the host."""
    web_section = request.app[SETTINGS].extra.get("web") or {}
    return request.secure or web_section.get("secure_cookies") is True


def client_address(request: web.Request) -> str:
    """Who is asking, for the login limit. Behind a reverse proxy every request comes
    from the proxy, so one shared count would lock everyone out after a few bad
    passwords: with ``web: trusted_proxy: true`` the address the proxy appended to
    ``X-Forwarded-For`` (the last one; earlier ones are the client's to invent) is used."""
    web_section = request.app[SETTINGS].extra.get("web") or {}
    if web_section.get("trusted_proxy") is True:
        forwarded = request.headers.get("X-Forwarded-For", "").rsplit(",", 1)[-1].strip()
        if forwarded:
            return forwarded[:MAX_ADDRESS_LENGTH]
    return request.remote or "?"


def _set_cookie(response: web.StreamResponse, request: web.Request, session: Session) -> None:
    response.set_cookie(
        COOKIE_NAME,
        request.app[CODEC].encode(session),
        max_age=SESSION_LIFETIME,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=https_only(request),
    )


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/ws/")


def _bearer_api(request: web.Request) -> bool:
    """An ``/api/flows`` request carrying ``Authorization`` is authenticated by its bearer
    token (checked by the handler, ``ivr.web.flows_api``), not by the cookie, so no CSRF
    token is asked of it: a browser never adds that header to a forged request."""
    return request.path.startswith("/api/flows") and "Authorization" in request.headers


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    session = request.app[CODEC].decode(request.cookies.get(COOKIE_NAME))
    if session is not None and session.csrf in request.app[REVOKED]:
        session = None  # logged out: a copy of the old cookie opens nothing
    fresh = session is None
    if session is None:
        session = new_session()
    user = request.app[DIRECTORY].get(session.user) if session.user else None
    if session.user and (user is None  # the user was removed from the config
                         or session.stamp != password_stamp(user.password_hash)):
        session, fresh, user = new_session(), True, None  # ... or given a new password
    request[SESSION_KEY] = session
    request[USER_KEY] = user
    if request.method not in SAFE_METHODS and not _bearer_api(request):
        token = request.headers.get(CSRF_HEADER)
        if token is None and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            form = await request.post()
            field = form.get(CSRF_FIELD)
            token = field if isinstance(field, str) else None
        if not csrf_ok(session, token):
            if _is_api(request):
                return web.json_response(
                    {"error": "missing or wrong CSRF token; reload the page"}, status=403
                )
            return await _stale_form(request, session)
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects and errors raised by handlers
        _session_cookie(exc, request, session, fresh)
        raise
    _session_cookie(response, request, session, fresh)
    return response


async def _stale_form(request: web.Request, session: Session) -> web.StreamResponse:
    """A form posted with a dead token (the page sat open past the session, or another
    tab logged in or out meanwhile): nothing is done, and people are sent somewhere
    useful rather than to a bare 403."""
    if request.path == "/login":
        form = await request.post()
        target = form.get("next")
        query = {"expired": "1"}
        if isinstance(target, str) and target:
            query["next"] = target  # checked again when the form is posted
        raise web.HTTPSeeOther(f"/login?{urlencode(query)}")
    if request.path == "/logout" and not session.logged_in:
        raise web.HTTPSeeOther("/login")  # already logged out (in another tab)
    return web.Response(text="Forbidden: the form expired. Reload the page and try again.",
                        status=403)


def _session_cookie(response: web.StreamResponse, request: web.Request, session: Session,
                    fresh: bool) -> None:
    replaced = request.get(NEW_SESSION_KEY)
    if isinstance(replaced, Session):
        _set_cookie(response, request, replaced)
    elif fresh and not response.prepared:
        _set_cookie(response, request, session)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _secure(exc)
        if https_only(request):
            exc.headers.setdefault("Strict-Transport-Security", HSTS)
        raise
    except Exception as exc:  # a bug or a broken store: answer plainly, don't leak
        if request.headers.get("Upgrade", "").lower() == "websocket":
            raise  # the socket was (or is being) taken over: no page to send
        response = _internal_error(request, exc)
    if not response.prepared:
        _secure(response)
        if https_only(request):
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if _is_private(request) and "Cache-Control" not in response.headers:
            # Pages and API answers carry callers' names, numbers and balances: no copy in
            # the browser's disk cache or a proxy.
            response.headers["Cache-Control"] = "no-store"
    return response


def _is_private(request: web.Request) -> bool:
    return not request.path.startswith("/static/") and request.path != "/healthz"


def _internal_error(request: web.Request, exc: Exception) -> web.Response:
    """A plain 500: aiohttp's own page shows the traceback in debug mode, and exception
    text can hold numbers, account codes or a database URL. The log gets the traceback
    with digit runs masked."""
    log.error("%s on %s %s: %s\n%s", type(exc).__name__, request.method, request.path,
              mask_digit_runs(str(exc)), "".join(traceback.format_tb(exc.__traceback__)))
    if _is_api(request):
        return web.json_response({"error": "internal error; it has been logged"}, status=500)
    return web.Response(text="Something went wrong on the server; it has been logged. "
                             "Reload the page to try again.", status=500)


def _secure(response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")


def require_page_user(request: web.Request, role: str | None = None) -> WebUser:
    """The logged-in user, or a redirect to the login page (403 for the wrong role)."""
    user = current_user(request)
    if user is None:
        raise web.HTTPFound(f"/login?next={quote(request.path_qs, safe='/')}")
    if role is not None and user.role != role:
        raise web.HTTPForbidden(text=f"This page is for {role}s.")
    return user


def require_api_user(request: web.Request, role: str | None = None) -> WebUser:
    """The logged-in user, or 401 (403 for the wrong role), as JSON."""
    user = current_user(request)
    if user is None:
        raise web.HTTPUnauthorized(text='{"error": "log in first"}',
                                   content_type="application/json")
    if role is not None and user.role != role:
        raise web.HTTPForbidden(text=f'{{"error": "{role}s only"}}',
                                content_type="application/json")
    return user


def same_origin(request: web.Request) -> bool:
    """Websocket handshakes carry cookies from any site: accept only our own pages."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser (tests, curl): cookies were sent deliberately
    return origin in (f"{request.scheme}://{request.host}", f"http://{request.host}",
                      f"https://{request.host}")
