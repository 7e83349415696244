"""The command line met with what operators really type: a wrong database URL, a server
that is not there, a role that does not exist, a mistyped SQLite path, no password on
standard input, Ctrl-C at the keys prompt. Each is one line naming the problem (the
password hidden) and what to check; never a traceback."""

from __future__ import annotations

import contextlib
import io
import os
import pty
import select
import signal
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from ivr.cli import main

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-12-01T10:00:00+07:00"
URL_FORMS = ("use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DB "
             "(--db or IVR_DATABASE_URL)")
#: Nothing listens on port 1 of the loopback: the connection is refused at once.
REFUSED = "postgresql+asyncpg://postgres:s3cret@127.0.0.1:1/x"
REFUSED_SHOWN = "postgresql+asyncpg://postgres:***@127.0.0.1:1/x"

#: Every command that opens the database, as an operator would type it.
COMMANDS = {
    "db stats": ["db", "stats"],
    "db migrate": ["db", "migrate"],
    "db seed": ["db", "seed", "--no-progress", "--accounts", "10"],
    "simulate": ["simulate", "--keys", "-", "--record"],  # PostgreSQL: no throwaway copy
    "graph": ["graph", "--format", "dot"],
    "serve": ["serve", "--agi-port", "0", "--web-port", "0", "--no-prompt-build"],
}


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("IVR_NOW", NOW)
    monkeypatch.setenv("IVR_DATA_DIR", str(tmp_path / "var"))
    for name in ("IVR_DATABASE_URL", "IVR_DB", "IVR_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@pytest.mark.parametrize("command", COMMANDS)
def test_unknown_driver_is_one_line(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(capsys, [*COMMANDS[command], "--db", "foo://bar"])
    assert (code, err) == (2, f"ivr: error: database foo://bar: unknown database driver "
                              f"'foo': {URL_FORMS}\n")


def test_text_that_is_no_url_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(capsys, ["db", "migrate", "--db", "not a url"])
    assert (code, err) == (2, f"ivr: error: database URL 'not a url' is not a URL: {URL_FORMS}\n")


#: `ivr serve` starts degraded when the database is down (it comes back by itself); the
#: commands that need it now say why they cannot run.
NEED_THE_DATABASE = [name for name in COMMANDS if name != "serve"]


@pytest.mark.parametrize("command", NEED_THE_DATABASE)
def test_unreachable_postgres_names_it_without_the_password(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run(capsys, [*COMMANDS[command], "--db", REFUSED])
    assert (code, err) == (1, f"ivr: error: database {REFUSED_SHOWN}: connection refused by "
                              "127.0.0.1:1: check that PostgreSQL is running there and the "
                              "host and port in the URL\n")
    assert "s3cret" not in err


def test_driver_not_installed_says_which(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(capsys, ["db", "migrate", "--db", "mysql+nosuchdriver://u:pw@h/d"])
    assert code == 2
    assert err.startswith("ivr: error: database mysql+nosuchdriver://u:***@h/d: ")
    assert "pw@" not in err and len(err.splitlines()) == 1


@pytest.mark.postgres
@pytest.mark.parametrize("command", ["db stats", "db migrate", "simulate"])
def test_missing_role_says_check_the_user(
    command: str, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = make_url(postgres_url).set(username="nosuchrole", password="pw")
    code, err = run(capsys, [*COMMANDS[command], "--db", url.render_as_string(False)])
    assert code == 1
    assert err == (f"ivr: error: database {url.render_as_string(hide_password=True)}: role "
                   '"nosuchrole" does not exist: check the user name in the URL, and that the '
                   "role exists and may log in from here (pg_hba.conf)\n")


@pytest.mark.postgres
def test_missing_database_says_create_it(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = make_url(postgres_url).set(database="no_such_db_h8")
    code, err = run(capsys, ["db", "stats", "--db", url.render_as_string(False)])
    assert code == 1
    assert err.endswith(': database "no_such_db_h8" does not exist: check the database name '
                        "in the URL, or create the database (createdb NAME)\n")


# ---- read-only commands never create anything --------------------------------------


def test_stats_on_a_mistyped_sqlite_path_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nonexistent" / "dir" / "x.db"
    code, err = run(capsys, ["db", "stats", "--db", f"sqlite:///{missing}"])
    assert (code, err) == (1, f"ivr: error: database sqlite:///{missing}: {missing} does not "
                              "exist: check --db, IVR_DATABASE_URL or --data-dir (ivr db "
                              "migrate creates a database)\n")
    assert not (tmp_path / "nonexistent").exists()


def test_stats_without_a_database_in_the_data_dir_creates_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run(capsys, ["db", "stats"])
    assert code == 1 and "var/ivr.db does not exist" in err
    assert not (tmp_path / "var").exists()


def test_stats_on_a_database_without_tables_adds_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    code, err = run(capsys, ["db", "stats", "--db", f"sqlite:///{empty}"])
    assert (code, err) == (1, f"ivr: error: database sqlite:///{empty} has no ivr tables (or "
                              "older ones): ivr db migrate creates or upgrades them\n")
    with contextlib.closing(sqlite3.connect(empty)) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []


def test_stats_on_a_directory_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(capsys, ["db", "stats", "--db", f"sqlite:///{tmp_path}"])
    assert code == 1 and f"{tmp_path} is a directory, not a database file" in err


def test_migrate_into_a_directory_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run(capsys, ["db", "migrate", "--db", f"sqlite:///{tmp_path}"])
    assert (code, err) == (1, f"ivr: error: database sqlite:///{tmp_path}: {tmp_path}: Is a "
                              "directory\n")


def test_stats_reads_a_migrated_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'ivr.db'}"
    assert main(["db", "migrate", "--db", url]) == 0
    capsys.readouterr()
    assert main(["db", "stats", "--db", url]) == 0
    assert "accounts" in capsys.readouterr().out


# ---- the SQLite file is private --------------------------------------------------


async def test_sqlite_file_wal_and_shm_are_created_0600(tmp_path: Path) -> None:
    from ivr.store import Store

    path = tmp_path / "data" / "ivr.db"
    old = os.umask(0o022)  # the usual umask, which would give SQLite's files 0644
    try:
        store = await Store.open(f"sqlite+aiosqlite:///{path}")
        try:
            await store.migrate()
            await store.stats()  # a second connection in WAL mode: -wal and -shm are there
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
        finally:
            await store.close()
    finally:
        os.umask(old)
    assert modes == {"ivr.db": 0o600, "ivr.db-wal": 0o600, "ivr.db-shm": 0o600}


# ---- hash-password without input -------------------------------------------------


@pytest.mark.parametrize("stdin", [io.StringIO(""), io.StringIO("\n"), None])
def test_hash_password_stdin_without_a_password(
    stdin: io.StringIO | None, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", stdin)
    code, err = run(capsys, ["web", "hash-password", "--stdin"])
    assert (code, err) == (2, "ivr: error: no password on standard input (--stdin reads its "
                              "first line)\n")


@pytest.mark.parametrize("redirect", ["</dev/null", "<&-"])
def test_hash_password_with_no_terminal_says_use_stdin(redirect: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        ["sh", "-c", f'exec "$0" -m ivr web hash-password {redirect}', sys.executable],
        env=env, capture_output=True, text=True, timeout=60, start_new_session=True,
    )
    assert (proc.returncode, proc.stderr) == (
        2, "ivr: error: no terminal to ask for the password: pipe it in with --stdin\n")


# ---- Ctrl-C at the keys prompt ---------------------------------------------------


def test_simulate_interrupted_at_the_keys_prompt_ends_cleanly(tmp_path: Path) -> None:
    """SIGINT (what Ctrl-C sends) while the simulator waits for keys on a terminal."""
    primary, secondary = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "IVR_DATA_DIR": str(tmp_path),
           "IVR_NOW": NOW}
    proc = subprocess.Popen([sys.executable, "-m", "ivr", "simulate"], cwd=ROOT, env=env,
                            stdin=secondary, stdout=secondary, stderr=subprocess.PIPE)
    os.close(secondary)
    try:
        seen = b""
        while b"keys (" not in seen:  # the prompt: it is waiting on the terminal now
            ready, _, _ = select.select([primary], [], [], 60)
            assert ready, f"no keys prompt; output so far: {seen!r}"
            seen += os.read(primary, 4096)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
        assert proc.stderr is not None
        note, blank, interrupted = proc.stderr.read().decode().splitlines()
        assert note.startswith("simulate: on a throwaway demo database (")
        assert (blank, interrupted) == ("", "ivr: interrupted")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(primary)
        if proc.stderr is not None:
            proc.stderr.close()


def test_simulate_with_stdin_closed_hangs_up(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "IVR_DATA_DIR": str(tmp_path),
           "IVR_NOW": NOW}
    proc = subprocess.run(["sh", "-c", 'exec "$0" -m ivr simulate <&-', sys.executable],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("-- abandoned")
    assert "Traceback" not in proc.stderr


# ---- the translation keeps bugs as bugs ------------------------------------------


def test_a_query_the_database_rejects_is_not_translated() -> None:
    from sqlalchemy.exc import ProgrammingError

    from ivr.cli.database import explain

    bug = ProgrammingError("SELECT nonsense", {}, Exception("syntax error at or near"))
    assert explain("sqlite+aiosqlite:///x.db", bug) is None
    assert explain("sqlite+aiosqlite:///x.db", KeyError("x")) is None


def test_graph_on_a_database_without_tables_is_one_line_and_adds_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    code, err = run(capsys, ["graph", "--format", "dot", "--db", f"sqlite:///{empty}"])
    assert (code, err) == (1, f"ivr: error: database sqlite:///{empty} has no call records: "
                              "run ivr db migrate, or point --db at the database ivr serve "
                              "uses\n")
    with contextlib.closing(sqlite3.connect(empty)) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []
    code, err = run(capsys, ["graph", "--format", "dot", "--db", f"sqlite:///{tmp_path}/no.db"])
    assert code == 1 and "no.db does not exist" in err and not (tmp_path / "no.db").exists()
