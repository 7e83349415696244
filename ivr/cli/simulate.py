"""``ivr simulate``: call a flow without Asterisk, keys scripted or typed, prompts as text."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sqlite3
import stat
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ivr.cli import UsageError

if TYPE_CHECKING:
    from ivr.config.settings import Settings

#: The documented demo caller (docs/demo-data.md): one account, unpaid bill, HCMC.
DEFAULT_CALLER = "0901234567"
#: EVNHCMC's hotline, whose prefix (PE) matches the demo accounts.
DEFAULT_DNID = "1900545454"


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "simulate",
        help="call a flow from the terminal, without Asterisk",
        description="Run one call through the engine. Without --keys, prompts are printed "
        "and keys are read from the terminal (one line per question; '-' or an empty line "
        "is silence, 'h' hangs up). With --keys, space-separated groups answer successive "
        "questions ('-' = silent until the timeout); when they run out the caller hangs up.",
    )
    parser.add_argument("--flow", default="hotline", help="flow to run (default: hotline)")
    parser.add_argument("--caller", default=DEFAULT_CALLER,
                        help=f"caller's number (default: demo caller {DEFAULT_CALLER})")
    parser.add_argument("--dnid", default=DEFAULT_DNID,
                        help=f"hotline number dialled (default: {DEFAULT_DNID})")
    parser.add_argument("--keys", default=None, help='scripted keys, e.g. "- 2 1 2 4"')
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    parser.add_argument("--lang", choices=("vi", "en"), default=None,
                        help="caller's language at the start (default: the flow's)")
    parser.add_argument("--patient", action="store_true",
                        help="key only after each prompt ends (default: barge in)")
    parser.add_argument("--db", default=None, help="database URL (default: settings)")
    parser.add_argument("--record", action="store_true",
                        help="write the call's record, cases and tickets into the database "
                        "(default: the call runs on a throwaway copy of an SQLite database "
                        "and leaves it as it was)")
    parser.add_argument("--flows", default=None, help="flows file (default: settings)")
    parser.add_argument("--prompts", default=None, help="prompts file (default: settings)")
    parser.set_defaults(func=run)


#: Bytes read from standard input at a time (a typed line is far shorter).
READ_CHUNK = 4096
KEYS_PROMPT = "keys (- silence, h hang up)> "


class StdinLines:
    """Lines of keys from standard input, awaited in the event loop rather than in a
    thread: Ctrl-C cancels the call at once, where a thread blocked in ``input()``
    would hold ``asyncio.run``'s exit until Enter."""

    def __init__(self, live: Any) -> None:
        self._live = live
        self._fd = _fileno(sys.stdin)
        self._tty = self._fd is not None and os.isatty(self._fd)
        self._buffer = b""
        self._eof = sys.stdin is None  # closed (`<&-`): the caller hangs up at once

    async def readline(self) -> str:
        if self._live is not None:
            self._live.flush()  # the spoken value before the question, then the keys
        if self._tty:  # piped keys: no prompt to clutter the transcript
            print(KEYS_PROMPT, end="", flush=True)
        while b"\n" not in self._buffer and not self._eof:
            chunk = await self._read()
            self._eof = not chunk
            self._buffer += chunk
        if not self._buffer:
            raise EOFError
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", "replace")

    async def _read(self) -> bytes:
        fd = self._fd
        if fd is None:  # a stream with no descriptor (a test's StringIO): it never blocks
            return str(sys.stdin.readline()).encode()
        if stat.S_ISREG(os.fstat(fd).st_mode):  # a file never blocks, and cannot be polled
            return os.read(fd, READ_CHUNK)
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, wake)
        try:
            await ready
        finally:
            loop.remove_reader(fd)
        return os.read(fd, READ_CHUNK)


def _fileno(stream: Any) -> int | None:
    try:
        return int(stream.fileno())
    except (AttributeError, OSError, ValueError):  # None, closed, or no descriptor
        return None


@contextlib.asynccontextmanager
async def database_for(settings: Settings, *,
                       record: bool) -> AsyncIterator[tuple[Settings, str]]:
    """The settings a simulated call runs with, and the line that says where it writes:
    the database itself with ``--record``, else a throwaway copy of it (an SQLite file;
    one that is not there yet is a fresh demo database), so a try-out never counts in
    the reports nor files a ticket on a customer. The copy's data directory is
    throwaway too: the real spill file is neither written nor replayed. PostgreSQL has
    no cheap copy: it takes ``--record``."""
    from ivr.cli.database import shown
    from ivr.store.engine import normalise_url, sqlite_file

    url = settings.database_url
    try:
        backend = normalise_url(url).get_backend_name()
    except ValueError:  # not a URL: said as the store opens it
        backend = ""
    if record or backend not in ("sqlite", "postgresql"):  # another driver: said at open
        yield settings, f"simulate: the call's record, cases and tickets are written to " \
            f"{shown(url)}"
        return
    if backend == "postgresql":
        raise UsageError(f"simulate: {shown(url)} is not an SQLite file a throwaway copy "
                         "can be made of: give --record to write the call into it, or "
                         "--db sqlite+aiosqlite:///PATH")
    source = sqlite_file(url)
    with tempfile.TemporaryDirectory(prefix="ivr-simulate-") as scratch:
        copy = Path(scratch) / "ivr.db"
        if source is not None and source.is_file():
            await asyncio.to_thread(_copy_sqlite, source, copy)
            note = (f"simulate: on a throwaway copy of {source}; nothing is written there "
                    "(--record writes the call)")
        else:
            note = (f"simulate: on a throwaway demo database ({source or url} is not a file "
                    "there); nothing is kept (--record keeps the call)")
        yield replace(settings, db_url=f"sqlite+aiosqlite:///{copy}",
                      data_dir=Path(scratch)), note


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy (SQLite's backup API: the WAL included, a writer not in the
    way), read through a read-only connection so the source is never changed."""
    try:
        with contextlib.closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro",
                                                uri=True)) as src, \
                contextlib.closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
    except sqlite3.Error as exc:  # not a database, locked for good, unreadable
        raise UsageError(f"simulate: cannot copy {source}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    from ivr.channels.simulator import quiet_broken_pipe

    try:
        return asyncio.run(simulate(args))
    except BrokenPipeError:  # `ivr simulate --json | head`: the reader has what it wanted
        quiet_broken_pipe(sys.stdout)
        return 0


async def simulate(args: argparse.Namespace) -> int:
    from ivr.cli.database import database_errors
    from ivr.cli.serve import require_files
    from ivr.config.settings import SettingsError, load_settings
    from ivr.phone import not_phone_keys

    for group in (args.keys or "").split():
        problem = not_phone_keys(group)
        if problem is not None:
            raise UsageError(f"--keys: {problem}")
    try:
        settings = load_settings(os.environ, {"db_url": args.db, "flows_path": args.flows,
                                              "prompts_path": args.prompts})
        require_files(settings)
    except (SettingsError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    with database_errors(settings.database_url):
        async with database_for(settings, record=args.record) as (used, note):
            return await _call(args, used, note)


async def _call(args: argparse.Namespace, settings: Settings, note: str) -> int:
    from ivr.calls import Outcome
    from ivr.channels.channel import CallInfo
    from ivr.channels.simulator import (
        EventPrinter,
        ScriptedKeys,
        SimulatorChannel,
        TerminalKeys,
    )
    from ivr.cli.database import database_errors
    from ivr.config.settings import SettingsError
    from ivr.service import StartupError, open_core

    try:
        with database_errors(settings.database_url):
            core = await open_core(settings, os.environ, degraded_ok=False)
    except StartupError as exc:
        if not exc.diagnostics:
            raise UsageError(str(exc)) from None
        for d in exc.diagnostics:
            print(d, file=sys.stderr)
        return 1
    except (SettingsError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    print(note, file=sys.stderr)  # once the database is open: where the call writes
    try:
        flows = core.flows
        if args.flow not in flows.current.flows:
            raise UsageError(f"no flow {args.flow!r} in {settings.flows_path} (flows: "
                             f"{', '.join(flows.current.flows)})")
        info = CallInfo(call_id=f"sim-{uuid.uuid4().hex[:12]}", caller=args.caller,
                        dialled=args.dnid, flow=args.flow, language=args.lang)
        live = None if args.json else EventPrinter()

        keys = (ScriptedKeys(args.keys) if args.keys is not None
                else TerminalKeys(read_line_async=StdinLines(live).readline))
        channel = SimulatorChannel(info, keys, patient=args.patient, on_event=live)
        record = await core.engine.run(channel)
    finally:
        await core.close()
    transfer = None
    if channel.transfers:
        last = channel.transfers[-1]
        transfer = {"queue": last.queue, "priority": last.priority, "case_id": last.case_id,
                    "status": record.transfer_status}
    if args.json:
        events = [{k: v for k, v in e.items() if k != "language"} for e in channel.events]
        print(json.dumps({
            "events": events,
            "outcome": record.outcome.value,
            "case_id": record.case_id,
            "transfer": transfer,
            "flow_version": record.flow_version,
            "path": [f"{s.flow}.{s.node}" for s in record.path],
            "error": record.error or None,
        }, ensure_ascii=False, indent=None))
    else:
        if live is not None:
            live.flush()
        case = f", case {record.case_id}" if record.case_id else ""
        print(f"-- {record.outcome.value}{case} ({len(record.path)} steps, flow version "
              f"{record.flow_version})")
    return 0 if record.outcome is not Outcome.FAILED else 1
