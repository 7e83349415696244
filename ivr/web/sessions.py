"""Signed session cookies and CSRF tokens.

A session is a small JSON payload (user name, CSRF token, expiry) signed with
HMAC-SHA256; nothing is kept in server memory, so any web node with the same key can
serve any request. Every visitor, logged in or not, gets a CSRF token (the login form
needs one too); state-changing requests must echo it in the ``X-CSRF-Token`` header or a
``csrf_token`` form field.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, replace

COOKIE_NAME = "ivr_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
#: An agent's shift plus margin: a console left open over a 12-hour shift stays logged in.
SESSION_LIFETIME = 14 * 3600
#: Cookies longer than this are not ours (browsers cap cookies near 4 KB anyway).
MAX_COOKIE_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class Session:
    user: str | None
    csrf: str
    expires: int
    stamp: str = ""
    """Fingerprint of the user's password hash at login (:func:`password_stamp`): a new
    password (or hash) in the config ends the sessions made with the old one."""

    @property
    def logged_in(self) -> bool:
        return self.user is not None


def new_session(user: str | None = None, *, now: float | None = None) -> Session:
    now = time.time() if now is None else now
    return Session(user=user, csrf=secrets.token_urlsafe(24), expires=int(now) + SESSION_LIFETIME)


def login_session(session: Session, user: str, *, stamp: str = "") -> Session:
    """A fresh session for ``user``: new CSRF token, so a token seen before login is dead."""
    return replace(new_session(user), stamp=stamp)


def password_stamp(password_hash: str) -> str:
    """A short one-way fingerprint of a password hash, for :attr:`Session.stamp`."""
    return _b64(hashlib.sha256(b"ivr-stamp:" + password_hash.encode("utf-8")).digest()[:9])


def logout_session(session: Session) -> Session:
    """An anonymous session with a fresh CSRF token (the old one dies with the login)."""
    return new_session(None)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    """Turns sessions into signed cookie values and back."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("session signing key too short (need at least 16 bytes)")
        self._key = hashlib.sha256(b"ivr-session:" + key).digest()

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest())

    def encode(self, session: Session) -> str:
        payload = {"u": session.user, "c": session.csrf, "e": session.expires,
                   "s": session.stamp}
        body = _b64(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
        return f"{body}.{self._sign(body)}"

    def decode(self, value: str | None, *, now: float | None = None) -> Session | None:
        """The session in a cookie value, or None if it is missing, forged or expired."""
        if not value or len(value) > MAX_COOKIE_LENGTH or "." not in value:
            return None
        body, signature = value.rsplit(".", 1)
        try:
            if not hmac.compare_digest(self._sign(body), signature):
                return None
            payload = json.loads(_unb64(body))
        except (ValueError, UnicodeError, binascii.Error):
            return None
        if not isinstance(payload, dict):
            return None
        user, csrf, expires = payload.get("u"), payload.get("c"), payload.get("e")
        stamp = payload.get("s", "")
        if not isinstance(csrf, str) or not isinstance(expires, int):
            return None
        if not isinstance(stamp, str):
            return None
        if user is not None and not isinstance(user, str):
            return None
        now = time.time() if now is None else now
        if expires < now:
            return None
        return Session(user=user, csrf=csrf, expires=expires, stamp=stamp)


def csrf_ok(session: Session, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(session.csrf, token or "")
