"""Websockets: ``/ws/agent`` (pops, availability, answer/end) and ``/ws/softphone``."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from typing import Any

from aiohttp import WSMsgType, web

from ivr.channels.softphone import (
    SoftphoneInputError,
    WebSoftphoneChannel,
    audio_url_for,
    call_info_from,
    run_softphone_call,
)
from ivr.screenpop.events import PopState
from ivr.web.keys import (
    AUDIO_DIR,
    CALLS,
    DISPATCHER,
    ENGINE,
    FLOW_NAMES,
    LOGGED_OUT_CLOSE_CODE,
    PRESENCE,
    QUEUE,
    SOCKETS,
    WS_CLOSER,
    WS_SESSION,
    current_session,
)
from ivr.web.middleware import require_api_user, same_origin

log = logging.getLogger(__name__)

#: Seconds between websocket pings: a console on a dead network is noticed (and its
#: agent marked away) within about a minute.
HEARTBEAT = 30.0
#: Softphone calls one user may have up at once: a person tests with one or two tabs;
#: each call runs the engine and writes to the store, so one login must not start
#: hundreds.
MAX_SOFTPHONE_CALLS_PER_USER = 5
#: Browser messages are tiny (a key, an availability flag); anything big is garbage.
MAX_MESSAGE = 16 * 1024


async def _open(request: web.Request) -> web.WebSocketResponse:
    if not same_origin(request):
        raise web.HTTPForbidden(text="websocket from another site")
    session = current_session(request)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=MAX_MESSAGE)
    ws[WS_SESSION] = session.csrf  # logout closes it
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    # A console left open must not outlive its session: it closes when the session
    # expires (the page then asks for a new login).
    # The timer holds only a weak reference, so a socket closed long before is not kept.
    asyncio.get_running_loop().call_later(
        max(0.0, session.expires - time.time()), _close_expired, weakref.ref(ws))
    return ws


def _close_expired(ref: weakref.ref[web.WebSocketResponse]) -> None:
    ws = ref()
    if ws is not None and not ws.closed:
        # Kept on the socket so the task is not collected before it ran.
        ws[WS_CLOSER] = asyncio.create_task(
            ws.close(code=LOGGED_OUT_CLOSE_CODE, message=b"session expired"))


async def _next_json(ws: web.WebSocketResponse) -> dict[str, Any] | None:
    """The next JSON object from the browser; None once the socket closed."""
    while True:
        msg = await ws.receive()
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return None
        if msg.type != WSMsgType.TEXT:
            continue
        try:
            data = json.loads(msg.data)
        except ValueError:
            continue  # a broken message from a browser is ignored, not fatal
        if isinstance(data, dict):
            return data


async def agent_ws(request: web.Request) -> web.WebSocketResponse:
    user = require_api_user(request)
    ws = await _open(request)
    presence = request.app[PRESENCE]
    queue = request.app[QUEUE]
    desk = request.app[DISPATCHER].desk
    sock = presence.attach(user.name, ws.send_json)
    try:
        # Availability (and after-call work) as the agent left it, on any node.
        state = await desk.restore(user.name) if desk is not None else None
        await ws.send_json({"type": "hello", "agent": user.name, "role": user.role,
                            "available": presence.is_available(user.name),
                            "queues": list(user.queues),
                            "state": presence.state(user.name),
                            "case_id": state["case_id"] if state else None})
        current = queue.current(user.name)
        wrap_up = presence.wrap_up_case(user.name)
        if current is None and wrap_up is not None:
            current = (wrap_up, PopState.COMPLETED)  # the card stays until "ready"
        if current is not None:  # a reloaded console gets back the call it is on
            case_id, pop_state = current
            pop = await request.app[DISPATCHER].message_for(user, pop_state, case_id)
            if pop is not None:
                await ws.send_json(pop)
        while (message := await _next_json(ws)) is not None:
            kind = message.get("type")
            case_id = str(message.get("case_id", ""))
            if kind == "availability":
                wanted = bool(message.get("available"))
                if desk is not None:
                    await desk.set_available(user.name, wanted)
                else:
                    presence.set_available(user.name, wanted)
                await ws.send_json({"type": "availability",
                                    "available": presence.is_available(user.name)})
            elif kind == "ready" and desk is not None:
                await desk.ready(user.name)
            elif kind == "answer":
                await ws.send_json({"type": "answer", "case_id": case_id,
                                    "ok": queue.answer(user.name, case_id)})
            elif kind == "end":
                await ws.send_json({"type": "end", "case_id": case_id,
                                    "ok": queue.end(user.name, case_id)})
    except (ConnectionError, RuntimeError) as exc:
        log.info("agent console of %s closed: %s", user.name, exc)
    finally:
        presence.detach(sock)
    return ws


async def softphone_ws(request: web.Request) -> web.WebSocketResponse:
    user = require_api_user(request)
    ws = await _open(request)
    start = await _next_json(ws)
    if start is None:
        return ws
    try:
        if start.get("type") != "start":
            raise SoftphoneInputError("the first message must be 'start'")
        info = call_info_from(start, flows=list(request.app[FLOW_NAMES]()), user=user.name)
        mine = f" by {user.name}"
        if sum(t.get_name().endswith(mine) for t in request.app[CALLS]) >= (
                MAX_SOFTPHONE_CALLS_PER_USER):
            raise SoftphoneInputError(
                f"you already have {MAX_SOFTPHONE_CALLS_PER_USER} softphone calls up; "
                "hang one up first")
    except SoftphoneInputError as exc:
        await ws.send_json({"type": "error", "message": str(exc)})
        await ws.close()
        return ws
    channel = WebSoftphoneChannel(info, ws.send_json, request.app[QUEUE],
                                  audio_url_for(request.app[AUDIO_DIR]))
    await ws.send_json({"type": "started", "call_id": info.call_id})
    # aiohttp cancels a websocket handler when the browser goes away; the call itself
    # must not be cancelled with it (the caller hung up: the engine records that), so it
    # runs in its own task, which the app cancels only when it shuts down.
    call = asyncio.create_task(
        run_softphone_call(channel, request.app[ENGINE], lambda: _next_json(ws)),
        name=f"softphone {info.call_id} by {user.name}",  # counted per user above
    )
    calls = request.app[CALLS]
    calls.add(call)
    call.add_done_callback(calls.discard)
    try:
        record = await asyncio.shield(call)
    except asyncio.CancelledError:
        channel.caller_hung_up()
        raise
    if not ws.closed:
        outcome = record.outcome.value if record is not None else "failed"
        await ws.send_json({"type": "ended", "outcome": outcome,
                            "case_id": record.case_id if record is not None else None})
        await ws.close()
    return ws


def add_routes(app: web.Application) -> None:
    app.router.add_get("/ws/agent", agent_ws)
    app.router.add_get("/ws/softphone", softphone_ws)
