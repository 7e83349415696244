"""``GET /api/flows/{flow}/graph.svg?hours=N``: the flow graph with its traffic (supervisors).

The flow as this node runs it now, the figures from the call records of the last N hours
(``Store.node_traffic``), drawn by :mod:`ivr.flows.graph` and Graphviz. ``graph.dot``
gives the DOT text itself (no Graphviz needed). The supervisor page shows the SVG in an
``<img>``, where an SVG runs no script.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from aiohttp import web

from ivr.flows.graph import flow_dot
from ivr.graphviz import GraphvizError, GraphvizMissing, render
from ivr.web.keys import CLOCK, FLOWSET, STORE
from ivr.web.middleware import require_api_user

GRAPH_HOURS = 24
#: A month, as the call report.
MAX_GRAPH_HOURS = 720


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _dot(request: web.Request) -> str | web.Response:
    require_api_user(request, role="supervisor")
    raw = request.query.get("hours", str(GRAPH_HOURS))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_GRAPH_HOURS:
        return _error(400, f"hours must be a whole number from 1 to {MAX_GRAPH_HOURS}")
    hours = int(raw)
    flowset = request.app[FLOWSET]()
    if flowset is None:
        return _error(404, "this server runs no flows")
    name = request.match_info["flow"]
    if name not in flowset.flows:
        return _error(404, f"no flow {name!r} (flows: {', '.join(sorted(flowset.flows))})")
    since = request.app[CLOCK].now() - timedelta(hours=hours)
    traffic = await request.app[STORE].node_traffic(name, since=since)
    title = (f"flow {name} · {traffic.calls} calls in the last {hours} h"
             + (" · newest calls only" if traffic.limited else ""))
    return flow_dot(flowset.flows[name], traffic.nodes, title=title)


async def graph_svg(request: web.Request) -> web.Response:
    source = await _dot(request)
    if isinstance(source, web.Response):
        return source
    try:
        # dot is a child process: off the event loop, so calls are not held up.
        svg = await asyncio.to_thread(render, source, "svg")
    except GraphvizMissing as exc:
        return _error(503, str(exc))
    except GraphvizError as exc:
        return _error(500, str(exc))
    return web.Response(body=svg, content_type="image/svg+xml",
                        headers={"Cache-Control": "no-store"})


async def graph_dot(request: web.Request) -> web.Response:
    source = await _dot(request)
    if isinstance(source, web.Response):
        return source
    return web.Response(text=source, content_type="text/vnd.graphviz", charset="utf-8",
                        headers={"Cache-Control": "no-store"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/flows/{flow}/graph.svg", graph_svg)
    app.router.add_get("/api/flows/{flow}/graph.dot", graph_dot)


__all__ = ["add_routes", "graph_dot", "graph_svg"]
