"""``GET /metrics``: the node's metrics in the Prometheus text format, for operators.

Open to this host (the loopback addresses: 127.0.0.0/8 and ::1) and to any host that
sends ``Authorization: Bearer <token>`` with the service config's ``metrics: token:``
(or ``IVR_METRICS_TOKEN``); 401 otherwise. Behind a reverse proxy (``web:
trusted_proxy: true``) the address the proxy appended to ``X-Forwarded-For`` must be
loopback too, as the login limit reads it, so a proxy on this host does not make every
client "local"; and the connection itself must come from this host, so a client on the
LAN (``ivr serve --host`` binds FastAGI and the web app to one address) cannot claim to
be local by sending the header itself.
"""

from __future__ import annotations

import hmac
import ipaddress

from aiohttp import web

from ivr.metrics import CONTENT_TYPE
from ivr.web.keys import METRICS, SETTINGS
from ivr.web.middleware import client_address

BEARER = "bearer "


def is_loopback(address: str) -> bool:
    """Whether ``address`` is this host: all of 127.0.0.0/8 (Linux routes the whole block
    to ``lo``), ``::1``, and IPv4 loopback written as IPv6 (``::ffff:127.0.0.1``)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # "?" (no peer address) or a proxy header that is not an address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def metrics_allowed(peer: str, client: str, authorization: str | None, token: str) -> bool:
    """The access rule for ``/metrics``: ``peer`` is the connection's address, ``client``
    the one the trusted proxy forwarded (``peer`` again without a proxy)."""
    if authorization is not None:
        # A credential that is sent is checked, from loopback too: a stale token on a
        # local scraper fails now, not the day the scraper moves to another host.
        if not token or authorization[:len(BEARER)].lower() != BEARER:
            return False
        given = authorization[len(BEARER):].strip().encode()
        return hmac.compare_digest(given, token.encode())
    return is_loopback(peer) and is_loopback(client)


async def metrics(request: web.Request) -> web.Response:
    token = request.app[SETTINGS].metrics_token
    if not metrics_allowed(request.remote or "?", client_address(request),
                           request.headers.get("Authorization"), token):
        raise web.HTTPUnauthorized(
            text="metrics are served to this host, or to a bearer token set under "
                 "metrics: token: in the service config\n",
            headers={"WWW-Authenticate": 'Bearer realm="ivr metrics"'})
    return web.Response(body=request.app[METRICS].render(),
                        headers={"Content-Type": CONTENT_TYPE})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics)
