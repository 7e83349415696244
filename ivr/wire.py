"""What the two sans-IO protocol cores (``ivr/agi/protocol.py``, ``ivr/ami/protocol.py``)
share: the protocol errors, split by who is at fault as h11 splits them, and the one
"feed me more bytes" answer of ``next_event``.

Nothing here touches a socket or asyncio; both cores import it, it imports only the
error root.
"""

from __future__ import annotations

from enum import Enum

from ivr.errors import IvrError


class ProtocolError(IvrError):
    """Base of both protocol error families."""


class LocalProtocolError(ProtocolError):
    """We misused the protocol (a command while another is in flight, CR/LF in an
    argument or header...): a bug on our side."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something Asterisk never sends (or is no Asterisk): that connection
    cannot go on."""


class NeedData(Enum):
    NEED_DATA = "NEED_DATA"


NEED_DATA = NeedData.NEED_DATA
"""Returned by either core's ``next_event`` when more bytes are needed."""
