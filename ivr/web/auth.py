"""Web users: bcrypt passwords, the demo users, the signing key and a login rate limit.

Who is who for the screen-pop (users by name and by queue-member interface) is
:mod:`ivr.screenpop.directory`; this module is only about logging in.

Users come from the service config file (``web.users`` with bcrypt hashes printed by
``ivr web hash-password``). A demo install has none, so :func:`demo_users` makes
``agent1``, ``agent2`` and ``supervisor`` with random passwords, generated once and kept
in ``<data_dir>/demo-credentials.txt`` (mode 0600) so a restart does not change them.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt

from ivr.config.settings import Settings, WebUser

DEMO_CREDENTIALS_FILE = "demo-credentials.txt"
DEMO_HASHES_FILE = "demo-password-hashes"
SECRET_KEY_FILE = "secret-key"  # noqa: S105 (a file name, not a secret)
#: bcrypt cost: 12 is bcrypt's default, about 0.25 s a check on a small server, which
#: slows guessing without making a login feel slow.
BCRYPT_ROUNDS = 12
#: Demo passwords are checked the same way but hashed at a lower cost: they are made at
#: every start and are random 16-character strings, so guessing is not the threat.
DEMO_BCRYPT_ROUNDS = 8
#: The demo agents answer every queue and stand for the Asterisk queue members the
#: transcripts use (``Local/1001@agents``), so AMI pops work in the demo too.
DEMO_AGENTS: tuple[tuple[str, str], ...] = (
    ("agent1", "Local/1001@agents"),
    ("agent2", "Local/1002@agents"),
)
#: Bytes of randomness in a generated signing key (HMAC-SHA256 wants at least 32).
SECRET_KEY_BYTES = 32
#: Failed logins allowed per client address and user name within the window below;
#: enough for typos, too few for guessing.
LOGIN_MAX_FAILURES = 5
LOGIN_FAILURE_WINDOW = 300.0
#: Failed logins allowed per client address over all user names in that window: trying
#: one password on many names (spraying) is guessing too.
LOGIN_MAX_FAILURES_PER_ADDRESS = 20
#: (address, name) pairs remembered at most; beyond this the oldest are forgotten first.
LOGIN_MAX_TRACKED = 10_000
#: Longest user name or password we look at; longer input is refused without hashing
#: (bcrypt only reads 72 bytes anyway).
MAX_CREDENTIAL_LENGTH = 200


def hash_password(password: str, *, rounds: int = BCRYPT_ROUNDS) -> str:
    """bcrypt hash of ``password`` for the service config file."""
    data = password.encode("utf-8")
    if len(data) > 72:
        raise ValueError("password too long for bcrypt (more than 72 bytes)")
    return bcrypt.hashpw(data, bcrypt.gensalt(rounds)).decode("ascii")


def check_password(password: str, password_hash: str) -> bool:
    """True when ``password`` matches; a malformed hash is a mismatch, not a crash."""
    data = password.encode("utf-8")
    if len(data) > 72:
        return False
    try:
        return bcrypt.checkpw(data, password_hash.encode("ascii"))
    except ValueError:
        return False


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(path, 0o600)


def _read_credentials(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return found
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        name, password = line.split(":", 1)
        found[name.strip()] = password.strip()
    return found


def demo_users(data_dir: Path) -> tuple[tuple[WebUser, ...], dict[str, str]]:
    """The demo users and their plain passwords (``name -> password``).

    Passwords are generated on first use and read back afterwards from
    ``<data_dir>/demo-credentials.txt`` (0600), so ``ivr serve`` can print them.
    """
    path = data_dir / DEMO_CREDENTIALS_FILE
    passwords = _read_credentials(path)
    names = [name for name, _ in DEMO_AGENTS] + ["supervisor"]
    if any(not passwords.get(name) for name in names):
        for name in names:
            passwords.setdefault(name, secrets.token_urlsafe(12))
        lines = ["# ivr demo web users (name: password); delete this file to make new ones"]
        lines += [f"{name}: {passwords[name]}" for name in names]
        _write_private(path, "\n".join(lines) + "\n")
    hashes = _demo_hashes(data_dir, {name: passwords[name] for name in names})
    users = [
        WebUser(name=name, role="agent", password_hash=hashes[name], interfaces=(interface,))
        for name, interface in DEMO_AGENTS
    ]
    users.append(WebUser(name="supervisor", role="supervisor",
                         password_hash=hashes["supervisor"]))
    return tuple(users), {name: passwords[name] for name in names}


def _demo_hashes(data_dir: Path, passwords: Mapping[str, str]) -> dict[str, str]:
    """The demo passwords' hashes, kept in ``<data_dir>/demo-password-hashes`` (0600):
    a session remembers its password's hash, so hashes made afresh (new salt) at every
    start would log everybody out at each restart."""
    path = data_dir / DEMO_HASHES_FILE
    kept = _read_credentials(path)
    hashes = {name: kept[name] for name, password in passwords.items()
              if kept.get(name) and check_password(password, kept[name])}
    if len(hashes) < len(passwords):
        for name, password in passwords.items():
            hashes.setdefault(name, hash_password(password, rounds=DEMO_BCRYPT_ROUNDS))
        lines = ["# bcrypt hashes of the demo passwords (made again if they do not match)"]
        lines += [f"{name}: {hashes[name]}" for name in passwords]
        _write_private(path, "\n".join(lines) + "\n")
    return hashes


def web_users(settings: Settings) -> tuple[tuple[WebUser, ...], dict[str, str]]:
    """The configured users, or the demo users and their passwords when none are."""
    if settings.users:
        return settings.users, {}
    return demo_users(settings.data_dir)


def secret_key(data_dir: Path, environ: Mapping[str, str]) -> bytes:
    """Key that signs session cookies: ``IVR_SECRET_KEY``, else ``<data_dir>/secret-key``.

    The file is made with a random key on first use (0600) so sessions survive restarts;
    several web nodes behind one balancer must share ``IVR_SECRET_KEY``.
    """
    from_env = environ.get("IVR_SECRET_KEY", "").strip()
    if from_env:
        return from_env.encode("utf-8")
    path = data_dir / SECRET_KEY_FILE
    try:
        stored = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        stored = ""
    if len(stored) < SECRET_KEY_BYTES:
        stored = secrets.token_hex(SECRET_KEY_BYTES)
        _write_private(path, stored + "\n")
    return stored.encode("ascii")


@dataclass
class LoginLimiter:
    """Counts failed logins per (address, name) and per address in a sliding window.

    :meth:`attempt` counts an attempt as failed *before* the password is checked and
    :meth:`succeeded` takes it back: a burst of parallel guesses (each waiting on bcrypt)
    cannot all pass the check before the first failure is recorded.
    """

    max_failures: int = LOGIN_MAX_FAILURES
    window: float = LOGIN_FAILURE_WINDOW
    max_per_address: int = LOGIN_MAX_FAILURES_PER_ADDRESS
    max_tracked: int = LOGIN_MAX_TRACKED
    _failures: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        times = [t for t in self._failures.get(key, []) if now - t < self.window]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def blocked(self, address: str, name: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        return (len(self._recent((address, name), now)) >= self.max_failures
                or len(self._recent((address, ""), now)) >= self.max_per_address)

    def failed(self, address: str, name: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for key in {(address, name), (address, "")}:
            self._failures[key] = [*self._recent(key, now), now]
        self._bound(now)

    def attempt(self, address: str, name: str, now: float | None = None) -> bool:
        """False if blocked; otherwise the attempt is counted as failed until
        :meth:`succeeded` says otherwise."""
        now = time.monotonic() if now is None else now
        if self.blocked(address, name, now):
            return False
        self.failed(address, name, now)
        return True

    def succeeded(self, address: str, name: str) -> None:
        self._failures.pop((address, name), None)
        times = self._failures.get((address, ""))
        if times:
            times.pop()  # the attempt counted in advance was not a failure

    def _bound(self, now: float) -> None:
        # Random user names must not grow the table without end: drop what has aged out,
        # then the oldest per-name entries, then (many addresses) the oldest addresses.
        if len(self._failures) <= self.max_tracked:
            return
        for key in [*self._failures]:
            self._recent(key, now)
        for per_name in (True, False):
            excess = len(self._failures) - self.max_tracked
            if excess <= 0:
                return
            by_age = sorted((times[-1], key) for key, times in self._failures.items()
                            if bool(key[1]) is per_name)
            for _, key in by_age[:excess]:
                del self._failures[key]
