"""``ivr loadtest``: drive many scripted calls at a FastAGI server with the fake Asterisk.

$ ivr loadtest --calls 2000 --concurrency 200 --caller impatient --keys "1 01000123456#"
$ ivr loadtest --self --calls 5000       # against an in-process server, minimal handler
$ ivr loadtest --calls 2000 --hold --ramp 3 --callerid 0903456789 \
      --per-call calls.jsonl --db sqlite:///var/ivr.db     # a storm, call by call

Prints calls/s, AGI commands/s and the server's per-command latency (p50/p99).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ivr.cli import CliError, UsageError, event_loop
from ivr.cli.event_loop import LOOPS

if TYPE_CHECKING:
    from ivr.testing.load import LoadRun

CALLERS = ("impatient", "patient", "silent", "wrong", "hangup")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "loadtest",
        help="drive N concurrent scripted calls at a FastAGI server and measure it",
        description="Place scripted calls at a FastAGI server (ivr serve) with the built-in "
        "fake Asterisk (virtual time: prompts and timeouts are answered at once) and print "
        "calls/s, AGI commands/s and per-command latency. Only loopback targets unless "
        "--allow-remote.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="FastAGI host (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4573, help="FastAGI port (default 4573)")
    parser.add_argument("--self", dest="in_process", action="store_true",
                        help="start an in-process FastAGI server with a minimal handler "
                        "(measures the AGI layer alone) instead of connecting to --port")
    parser.add_argument("--calls", type=int, default=1000, metavar="N",
                        help="number of calls (default 1000)")
    parser.add_argument("--concurrency", type=int, default=100, metavar="C",
                        help="calls in progress at once (default 100)")
    parser.add_argument("--caller", choices=CALLERS, default="impatient",
                        help="scripted caller (default impatient)")
    parser.add_argument("--keys", default=None, help="keys the caller presses, in order; "
                        "spaces are ignored, '-' lets one wait time out")
    parser.add_argument("--hangup-after", type=int, default=5, metavar="K",
                        help="with --caller hangup: hang up during the K-th AGI command")
    parser.add_argument("--script", default="hotline", help="FastAGI URL path (flow name)")
    parser.add_argument("--callerid", default="0901234567", help="caller number")
    parser.add_argument("--extension", default="s", help="dialled extension (agi_extension)")
    parser.add_argument("--pace", type=float, default=0.0, metavar="SECONDS",
                        help="make each prompt, wait and application take this long, so "
                             "calls stay open like real ones (default 0: virtual time)")
    parser.add_argument("--ramp", type=float, default=0.0, metavar="SECONDS",
                        help="spread the call starts evenly over SECONDS (a storm arriving; "
                        "default 0: as fast as --concurrency allows)")
    parser.add_argument("--hold", action="store_true",
                        help="a storm's end: open all --calls at once, park each in a "
                        "prompt, then hang them all up together (Asterisk's 200 result=-1 "
                        "and HANGUP line)")
    parser.add_argument("--hold-at", type=int, default=1, metavar="K",
                        help="with --hold: park at the K-th prompt, wait or application "
                        "(default 1: the greeting)")
    parser.add_argument("--per-call", metavar="FILE",
                        help="write one JSON line per call to FILE ('-': standard output): "
                        "its id, prompts, commands, turn times; with --db also the "
                        "outcome, path and each lookup's status and time")
    parser.add_argument("--db", dest="db_url", metavar="URL",
                        help="the server's database, to read each call's record for "
                        "--per-call and the outcome counts")
    parser.add_argument("--transcript", metavar="FILE",
                        help="write the wire transcript of the first call to FILE "
                        "('-': standard output), in the recorded transcripts' format")
    parser.add_argument("--loop", choices=LOOPS, default="asyncio",
                        help="event loop of the load generator (and of --self's server)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a non-loopback --host (only your own test servers)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _check(args: argparse.Namespace) -> None:
    if args.calls < 1 or args.concurrency < 1:
        raise UsageError("--calls and --concurrency must be at least 1")
    if args.hold_at < 1:
        raise UsageError("--hold-at counts prompts from 1")
    if args.ramp < 0 or args.pace < 0:
        raise UsageError("--ramp and --pace cannot be negative")
    if args.hold:
        args.concurrency = args.calls  # every call open at once, or none could hang up
    if args.per_call == "-" and args.transcript == "-":
        raise UsageError("--per-call and --transcript cannot both write to standard output")
    if not args.allow_remote and args.host != "localhost":
        try:
            loopback = ipaddress.ip_address(args.host).is_loopback
        except ValueError:
            raise UsageError(f"--host {args.host!r} is not an IP address "
                             "(use --allow-remote for a host name)") from None
        if not loopback:
            raise UsageError(f"--host {args.host} is not a loopback address; a load test "
                             "must target your own server (--allow-remote to insist)")
    if args.keys is None:  # the minimal handler's longest path
        from ivr.testing.minimal import MINIMAL_KEYS

        args.keys = MINIMAL_KEYS
    keys = args.keys.replace(" ", "")
    if set(keys) - set("0123456789*#-"):
        raise UsageError(f"--keys may hold only 0-9 * # and -, got {args.keys!r}")
    args.keys = keys


def marked(script: str) -> str:
    """The FastAGI URL path with the mark that makes the server record the calls as
    synthetic (``ivr/channels/fastagi.py``), so they stay out of the reports."""
    return script if "synthetic=" in script else \
        f"{script}{'&' if '?' in script else '?'}synthetic=1"


def what_it_writes(args: argparse.Namespace) -> str:
    """One line for standard error: where the calls go and what they leave behind."""
    if args.in_process:
        return (f"loadtest: {args.calls} calls to an in-process FastAGI server with a minimal "
                "flow; nothing is written to any database")
    line = (f"loadtest: {args.calls} calls to agi://{args.host}:{args.port}/"
            f"{marked(args.script)}: the server keeps their call records and cases marked "
            "synthetic, left out of every report unless asked for (synthetic=include)")
    if args.db_url:
        from ivr.cli.database import shown

        line += f"; their records are read back from {shown(args.db_url)}"
    return line


def run(args: argparse.Namespace) -> int:
    _check(args)
    print(what_it_writes(args), file=sys.stderr)
    load, records = event_loop.run(_main(args), args.loop)
    summary = load.summary
    if args.transcript:
        _write(args.transcript, load.transcripts[0].text())
    if args.per_call:
        from ivr.testing.load import call_result

        _write(args.per_call, "".join(
            json.dumps(call_result(t, records.get(t.call_id) if records is not None else None),
                       ensure_ascii=False) + "\n"
            for t in load.transcripts))
    report = summary.as_json()
    if records is not None:
        report["outcomes"] = _count(r.get("outcome") for r in records.values())
        report["records"] = len(records)
    summary_out = sys.stderr if "-" in (args.per_call, args.transcript) else sys.stdout
    if args.json:
        print(json.dumps(report), file=summary_out)
    else:
        lines = summary.lines()
        if records is not None:
            lines.append(f"records        {len(records)} of {summary.calls} calls: "
                         + ", ".join(f"{k} {v}" for k, v in report["outcomes"].items()))
        print("\n".join(lines), file=summary_out)
    return 0 if summary.completed == summary.calls else 1


def _count(values: Iterable[object]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[str(value)] = counts.get(str(value), 0) + 1
    return dict(sorted(counts.items()))


def _write(target: str, text: str) -> None:
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        Path(target).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"{target}: cannot write: {exc.strerror}") from None


async def _main(args: argparse.Namespace) -> tuple[LoadRun, dict[str, dict[str, Any]] | None]:
    load = await _drive(args)
    if args.db_url is None:
        return load, None
    from ivr.cli.database import database_errors
    from ivr.testing.load import fetch_records

    with database_errors(args.db_url):
        records = await fetch_records(args.db_url, [t.call_id for t in load.transcripts])
    return load, records


async def _drive(args: argparse.Namespace) -> LoadRun:
    from tqdm import tqdm

    from ivr.testing import callers
    from ivr.testing.fake_asterisk import Hold
    from ivr.testing.load import drive_calls

    def factory(_i: int) -> callers.Caller:
        kind = args.caller
        if kind == "impatient":
            return callers.ImpatientCaller(args.keys)
        if kind == "patient":
            return callers.PatientCaller(args.keys)
        if kind == "silent":
            return callers.SilentCaller()
        if kind == "wrong":
            return callers.WrongKeysCaller("9", 2, args.keys)
        return callers.HangUpCaller(args.hangup_after, callers.ImpatientCaller(args.keys))

    server = None
    port = args.port
    if args.in_process:
        from ivr.agi.server import FastAgiServer
        from ivr.testing.minimal import minimal_handler

        server = FastAgiServer(minimal_handler, host="127.0.0.1", port=0)
        await server.start()
        port = server.port
    bar = tqdm(total=args.calls, unit="call", file=sys.stderr, disable=args.no_progress)
    try:
        load = await drive_calls(
            args.host, port, args.calls, concurrency=args.concurrency,
            caller_factory=factory, on_done=lambda _t: bar.update(), ramp=args.ramp,
            hold=Hold(args.calls, args.hold_at) if args.hold else None,
            record_first=bool(args.transcript), script=marked(args.script),
            callerid=args.callerid,
            extension=args.extension, pace=args.pace)
    finally:
        bar.close()
        if server is not None:
            await server.stop(grace=1.0)
    if load.summary.failed == load.summary.calls:  # nothing got through: say why, once
        raise UsageError(f"cannot reach FastAGI at {args.host}:{port}: "
                         f"{load.transcripts[0].error}")
    return load
