"""Errors of the AMI client, by who is at fault (see also ivr.ami.protocol's)."""

from __future__ import annotations

from ivr.errors import IvrError


class AmiError(IvrError):
    """Base of the AMI client's errors."""


class AmiNotConnected(AmiError):
    """No logged-in connection within the action's timeout."""


class AmiTimeout(AmiError, TimeoutError):
    """Asterisk did not answer an action in time."""


class AmiConnectionLost(AmiError):
    """The connection dropped while the action was waiting for its response."""


class AmiLoginError(AmiError):
    """Asterisk refused the login (wrong user/secret, or the host is not permitted)."""
