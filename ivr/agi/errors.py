"""The two AGI protocol error families, by who is at fault (as h11 splits them)."""

from __future__ import annotations


class ProtocolError(Exception):
    """Base of both protocol error families."""


class LocalProtocolError(ProtocolError):
    """We misused the protocol (a command while another is in flight, a newline in an
    argument...): a bug on our side."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something Asterisk never sends: that connection cannot go on."""
