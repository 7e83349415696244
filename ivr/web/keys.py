"""Typed application and request state keys, shared by the web modules."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from ivr.calls import CallRecord
from ivr.channels.softphone import CallRunner
from ivr.clock import Clock
from ivr.config.settings import Settings, WebUser
from ivr.flows.model import FlowSet
from ivr.metrics import MetricsHooks
from ivr.screenpop.builtin_queue import BuiltinQueue
from ivr.screenpop.callbacks import CallbackDialer
from ivr.screenpop.contracts import WebStore
from ivr.screenpop.directory import UserDirectory
from ivr.screenpop.dispatcher import Dispatcher
from ivr.screenpop.presence import Presence
from ivr.web.auth import LoginLimiter
from ivr.web.sessions import Session, SessionCodec

SETTINGS = web.AppKey("settings", Settings)
STORE: web.AppKey[WebStore] = web.AppKey("store")
ENGINE: web.AppKey[CallRunner] = web.AppKey("engine")
CATALOG: web.AppKey[Any] = web.AppKey("catalog")
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
#: The dispatcher's: the agent consoles open on this node.
PRESENCE = web.AppKey("presence", Presence)
QUEUE = web.AppKey("builtin_queue", BuiltinQueue)
#: The callback worklist's dialer (AMI Originate); absent without the service's database.
DIALER = web.AppKey("callback_dialer", CallbackDialer)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
AUDIO_DIR = web.AppKey("audio_dir", Path)
DIRECTORY = web.AppKey("directory", UserDirectory)
CODEC = web.AppKey("session_codec", SessionCodec)
LIMITER = web.AppKey("login_limiter", LoginLimiter)
SOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("websockets")
CALLS: web.AppKey[set[asyncio.Task[CallRecord | None]]] = web.AppKey("softphone_calls")
FLOW_NAMES: web.AppKey[Callable[[], Sequence[str]]] = web.AppKey("flow_names")
DEMO_CALLERS: web.AppKey[tuple[tuple[str, str], ...]] = web.AppKey("demo_callers")
METRICS: web.AppKey[MetricsHooks] = web.AppKey("metrics")
#: The flows version new calls on this node run (None: the app serves no flows).
FLOWS_VERSION: web.AppKey[Callable[[], str] | None] = web.AppKey("flows_version")
#: The flows new calls on this node run (None: the app serves no flows).
FLOWSET: web.AppKey[Callable[[], FlowSet | None]] = web.AppKey("flowset")
#: The :class:`ivr.publishing.Publisher` behind ``/api/flows`` (None: no publishing here).
PUBLISHER: web.AppKey[Any] = web.AppKey("publisher")
#: Sessions ended by logout (CSRF token -> expiry): a copied cookie dies with the logout.
#: Kept per node; several nodes still honour a logged-out cookie until it expires.
REVOKED: web.AppKey[dict[str, int]] = web.AppKey("revoked_sessions")
#: Websocket item naming the session that opened it (closed when that session logs out).
WS_SESSION = web.ResponseKey("ivr_session_csrf", str)
#: The task closing a websocket whose session expired.
WS_CLOSER: web.ResponseKey[asyncio.Task[bool]] = web.ResponseKey("ivr_ws_closer")
#: Websocket close code for "this session ended" (logout or expiry; 4000-4999 are the
#: application's): the page goes to the login page instead of reconnecting.
LOGGED_OUT_CLOSE_CODE = 4401

#: Request state set by the session middleware (and by login/logout for the new cookie).
SESSION_KEY = web.RequestKey("ivr_session", Session)
USER_KEY: web.RequestKey[WebUser | None] = web.RequestKey("ivr_user")
NEW_SESSION_KEY = web.RequestKey("ivr_new_session", Session)


def current_user(request: web.Request) -> WebUser | None:
    return request.get(USER_KEY)


def current_session(request: web.Request) -> Session:
    return request[SESSION_KEY]
