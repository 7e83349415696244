"""The web app: agent console, softphone, supervisor page and JSON API (aiohttp).

:func:`create_app` builds the application from injected parts; ``ivr serve`` runs it
with aiohttp's app runner on ``settings.host:settings.web_port``. The dispatcher's
PostgreSQL listener runs in ``cleanup_ctx``; open websockets are closed on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from ivr.calls import CallRecord
from ivr.channels.softphone import CallRunner
from ivr.clock import Clock
from ivr.config.settings import Settings
from ivr.flows.model import FlowSet
from ivr.metrics import NO_METRICS, MetricsHooks
from ivr.screenpop.builtin_queue import BuiltinQueue
from ivr.screenpop.callbacks import CallbackDialer, CallbackSettings, Originator
from ivr.screenpop.contracts import WebStore
from ivr.screenpop.desk import AgentDesk
from ivr.screenpop.dispatcher import Dispatcher
from ivr.store import Store
from ivr.store.desk import DeskStore
from ivr.web import (
    api,
    callbacks_api,
    desk_api,
    flow_graph,
    flows_api,
    operations,
    reports,
    selfservice,
    sockets,
    views,
)
from ivr.web.auth import LoginLimiter, secret_key
from ivr.web.keys import (
    AUDIO_DIR,
    CALLS,
    CATALOG,
    CLOCK,
    CODEC,
    DEMO_CALLERS,
    DIALER,
    DIRECTORY,
    DISPATCHER,
    ENGINE,
    FLOW_NAMES,
    FLOWS_VERSION,
    FLOWSET,
    LIMITER,
    METRICS,
    PRESENCE,
    PUBLISHER,
    QUEUE,
    REVOKED,
    SETTINGS,
    SOCKETS,
    STORE,
)
from ivr.web.middleware import security_headers, session_middleware
from ivr.web.sessions import SessionCodec

STATIC_DIR = Path(__file__).parent / "static"


def create_app(
    *,
    settings: Settings,
    store: WebStore,
    engine: CallRunner,
    catalog: Any,
    dispatcher: Dispatcher,
    clock: Clock,
    audio_dir: Path,
    builtin_queue: BuiltinQueue | None = None,
    flow_names: Callable[[], Sequence[str]] | None = None,
    demo_callers: Sequence[tuple[str, str]] | None = None,
    environ: dict[str, str] | None = None,
    metrics: MetricsHooks = NO_METRICS,
    flows_version: Callable[[], str] | None = None,
    flowset: Callable[[], FlowSet | None] | None = None,
    callback_ami: Originator | None = None,
    publisher: Any = None,
) -> web.Application:
    """The web application.

    ``store`` is an :class:`ivr.store.Store`, ``engine`` an :class:`ivr.engine.engine.Engine`
    (the softphone runs calls on it), ``catalog`` the :class:`PromptCatalog`.
    ``builtin_queue`` receives softphone transfers (made here when not given);
    ``flow_names`` lists the flows the softphone offers; ``demo_callers`` are caller
    numbers the softphone suggests as ``(number, label)`` (default: the phones of the
    documented demo accounts when the demo data is seeded).
    ``metrics`` is what ``/metrics`` serves; ``flows_version`` tells ``/healthz`` the
    flows version this node runs; ``flowset`` the flows themselves (the flow graph, the
    reports). ``callback_ami`` is the AMI client "call now" on the
    callback worklist originates through (the least-privilege ``callbacks:`` user);
    without it the worklist says calling back needs AMI.
    Users are the dispatcher's (build it with :func:`ivr.web.auth.web_users`), so the
    people who log in and the agents pops go to are one list.
    """
    env = dict(os.environ) if environ is None else environ
    app = web.Application(middlewares=[security_headers, session_middleware],
                          client_max_size=256 * 1024)
    app[SETTINGS] = settings
    app[STORE] = store
    app[ENGINE] = engine
    app[CATALOG] = catalog
    app[DISPATCHER] = dispatcher
    app[PRESENCE] = dispatcher.presence
    app[QUEUE] = builtin_queue or BuiltinQueue(dispatcher)
    app[CLOCK] = clock
    app[AUDIO_DIR] = audio_dir.resolve()
    app[DIRECTORY] = dispatcher.presence.directory
    app[CODEC] = SessionCodec(secret_key(settings.data_dir, env))
    app[LIMITER] = LoginLimiter()
    app[REVOKED] = {}
    app[SOCKETS] = weakref.WeakSet()
    app[CALLS] = set()
    app[FLOW_NAMES] = flow_names or (lambda: ())
    if demo_callers is None:
        demo_callers = _demo_callers() if settings.seed_demo else ()
    app[DEMO_CALLERS] = tuple(demo_callers)
    app[METRICS] = metrics
    app[FLOWS_VERSION] = flows_version
    app[FLOWSET] = flowset or (lambda: None)
    app[PUBLISHER] = publisher

    if isinstance(store, Store) and dispatcher.desk is None:
        # The agent's desk (issue 11): availability kept per agent, after-call work.
        dispatcher.desk = AgentDesk(dispatcher.presence, DeskStore(store))
    if dispatcher.desk is not None:
        app[DIALER] = CallbackDialer(dispatcher.desk.store, callback_ami,
                                     CallbackSettings.from_settings(settings),
                                     dispatcher.desk.tell)
        app.on_cleanup.append(_close_dialer)
    views.add_routes(app)
    api.add_routes(app)
    reports.add_routes(app)
    desk_api.add_routes(app)
    callbacks_api.add_routes(app)
    sockets.add_routes(app)
    operations.add_routes(app)
    selfservice.add_routes(app)
    flow_graph.add_routes(app)
    flows_api.add_routes(app)
    app.router.add_static("/static/", STATIC_DIR, name="static")

    app.cleanup_ctx.append(_dispatcher_ctx)
    app.cleanup_ctx.append(_softphone_calls_ctx)
    app.on_shutdown.append(_close_websockets)
    return app


def _demo_callers() -> tuple[tuple[str, str], ...]:
    from ivr.store.demo import DEMO_ACCOUNTS

    return tuple(
        (phone, f"{account.name} ({account.code[-4:]}): {account.shows}")
        for account in DEMO_ACCOUNTS
        for phone in account.phones
    )


async def _dispatcher_ctx(app: web.Application) -> AsyncIterator[None]:
    # The PostgreSQL listener (when there is one) lives exactly as long as the app.
    await app[DISPATCHER].start()
    yield
    await app[DISPATCHER].close()


async def _softphone_calls_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    # Calls still up at shutdown are cancelled; the engine saves their records first.
    running: set[asyncio.Task[CallRecord | None]] = app[CALLS]
    calls = [*running]
    for call in calls:
        call.cancel()
    for call in calls:
        with contextlib.suppress(asyncio.CancelledError):
            await call


async def _close_dialer(app: web.Application) -> None:
    await app[DIALER].close()  # a callback still ringing goes back on the worklist


async def _close_websockets(app: web.Application) -> None:
    open_sockets: weakref.WeakSet[web.WebSocketResponse] = app[SOCKETS]
    for ws in [*open_sockets]:
        await ws.close(code=1001, message=b"server shutting down")
