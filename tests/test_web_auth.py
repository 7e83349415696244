"""Users, passwords, demo credentials, the signing key, sessions and the login limiter."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.config.settings import Settings
from ivr.screenpop.directory import UserDirectory
from ivr.web.auth import (
    LoginLimiter,
    check_password,
    demo_users,
    hash_password,
    secret_key,
    web_users,
)
from ivr.web.sessions import SessionCodec, new_session


def test_demo_users_are_made_once_and_kept_private(tmp_path: Path) -> None:
    users, passwords = demo_users(tmp_path)
    assert [(u.name, u.role, u.interfaces) for u in users] == [
        ("agent1", "agent", ("Local/1001@agents",)),
        ("agent2", "agent", ("Local/1002@agents",)),
        ("supervisor", "supervisor", ()),
    ]
    assert all(u.queues == () for u in users)  # every queue
    path = tmp_path / "demo-credentials.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert all(check_password(passwords[u.name], u.password_hash) for u in users)
    again, same = demo_users(tmp_path)
    assert same == passwords  # a restart keeps the passwords
    assert again == users  # and their hashes, so sessions made before it stay valid
    assert stat.S_IMODE((tmp_path / "demo-password-hashes").stat().st_mode) == 0o600
    assert len(set(passwords.values())) == 3


def test_configured_users_win_over_demo_users(tmp_path: Path) -> None:
    configured = demo_users(tmp_path / "other")[0][:1]
    users, passwords = web_users(Settings(data_dir=tmp_path, users=configured))
    assert users == configured and passwords == {}
    assert not (tmp_path / "demo-credentials.txt").exists()


def test_passwords_hash_and_check() -> None:
    hashed = hash_password("mật khẩu đủ dài", rounds=4)
    assert hashed.startswith("$2b$04$")
    assert check_password("mật khẩu đủ dài", hashed)
    assert not check_password("mat khau", hashed)
    assert not check_password("x", "not a bcrypt hash")
    with pytest.raises(ValueError, match="too long"):
        hash_password("x" * 73)


def test_the_signing_key_comes_from_the_environment_or_a_private_file(tmp_path: Path) -> None:
    assert secret_key(tmp_path, {"IVR_SECRET_KEY": "from-env-0123456789"}) == b"from-env-0123456789"
    made = secret_key(tmp_path, {})
    assert len(made) == 64 and secret_key(tmp_path, {}) == made
    assert stat.S_IMODE((tmp_path / "secret-key").stat().st_mode) == 0o600


def test_sessions_are_signed_and_expire() -> None:
    codec = SessionCodec(b"k" * 32)
    session = new_session("agent1", now=1000)
    cookie = codec.encode(session)
    assert codec.decode(cookie, now=1001) == session
    assert codec.decode(cookie, now=session.expires + 1) is None
    body, signature = cookie.rsplit(".", 1)
    forged = SessionCodec(b"z" * 32).encode(new_session("boss", now=1000))
    assert codec.decode(forged, now=1001) is None
    assert codec.decode(body + "." + signature[::-1], now=1001) is None
    assert codec.decode("garbage", now=1001) is None
    assert codec.decode("a.b", now=1001) is None


def test_interfaces_map_to_users_case_insensitively(tmp_path: Path) -> None:
    users, _ = demo_users(tmp_path)
    directory = UserDirectory(users)
    agent = directory.by_interface(" local/1002@AGENTS ")
    assert agent is not None and agent.name == "agent2"
    web = directory.by_interface("Web/agent1")
    assert web is not None and web.name == "agent1"
    assert directory.by_interface("PJSIP/1001") is None
    with pytest.raises(ValueError, match="configured twice"):
        UserDirectory(users + users[:1])


def test_the_login_limiter_counts_failures_in_a_window() -> None:
    limiter = LoginLimiter(max_failures=2, window=60)
    limiter.failed("10.0.0.1", "agent1", now=0)
    limiter.failed("10.0.0.1", "agent1", now=10)
    assert limiter.blocked("10.0.0.1", "agent1", now=20)
    assert not limiter.blocked("10.0.0.2", "agent1", now=20)
    assert not limiter.blocked("10.0.0.1", "agent1", now=71)  # the window moved on
    limiter.failed("10.0.0.1", "agent2", now=0)
    limiter.succeeded("10.0.0.1", "agent2")
    assert not limiter.blocked("10.0.0.1", "agent2", now=1)


def test_hash_password_command_prints_a_usable_hash() -> None:
    done = subprocess.run([sys.executable, "-m", "ivr", "web", "hash-password", "--stdin"],
                          input="a long enough secret\n", capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert check_password("a long enough secret", done.stdout.strip())
    short = subprocess.run([sys.executable, "-m", "ivr", "web", "hash-password", "--stdin"],
                           input="short\n", capture_output=True, text=True, check=False)
    assert short.returncode == 2
    assert "at least 8 characters" in short.stderr


def test_the_login_limiter_counts_attempts_before_the_check_and_stays_small() -> None:
    limiter = LoginLimiter(max_failures=2, window=60, max_per_address=3, max_tracked=50)
    assert limiter.attempt("10.0.0.1", "agent1", now=0)
    assert limiter.attempt("10.0.0.1", "agent1", now=0)  # both still checking passwords
    assert not limiter.attempt("10.0.0.1", "agent1", now=0)
    limiter.succeeded("10.0.0.1", "agent1")  # one of them was right
    assert limiter.attempt("10.0.0.1", "agent1", now=1)
    assert limiter.attempt("10.0.0.1", "other", now=1)
    assert not limiter.attempt("10.0.0.1", "third", now=1)  # 3 failures from the address
    for i in range(1000):
        limiter.failed("10.0.0.9", f"name{i}", now=2)
    assert len(limiter._failures) <= 50
    assert limiter.blocked("10.0.0.1", "third", now=2)  # address counts outlive names
    assert limiter.blocked("10.0.0.9", "anyone", now=2)
    for i in range(1000):
        limiter.failed(f"10.1.{i // 250}.{i % 250}", "x", now=3)
    assert len(limiter._failures) <= 50
