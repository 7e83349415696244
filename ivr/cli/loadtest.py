"""``ivr loadtest``: drive many scripted calls at a FastAGI server with the fake Asterisk.

$ ivr loadtest --calls 2000 --concurrency 200 --caller impatient --keys "1 01000123456#"
$ ivr loadtest --self --calls 5000       # against an in-process server, minimal handler

Prints calls/s, AGI commands/s and the server's per-command latency (p50/p99).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from typing import TYPE_CHECKING

from ivr.cli import UsageError

if TYPE_CHECKING:
    from ivr.testing.load import LoadSummary

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
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow a non-loopback --host (only your own test servers)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _check(args: argparse.Namespace) -> None:
    if args.calls < 1 or args.concurrency < 1:
        raise UsageError("--calls and --concurrency must be at least 1")
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


def run(args: argparse.Namespace) -> int:
    import asyncio

    _check(args)
    summary = asyncio.run(_main(args))
    if args.json:
        print(json.dumps({
            "calls": summary.calls, "completed": summary.completed,
            "commands": summary.commands, "seconds": round(summary.seconds, 4),
            "calls_per_second": round(summary.calls_per_second, 1),
            "commands_per_second": round(summary.commands_per_second, 1),
            "p50_ms": round(summary.p50_ms, 4), "p99_ms": round(summary.p99_ms, 4),
        }))
    else:
        print("\n".join(summary.lines()))
    return 0 if summary.completed == summary.calls else 1


async def _main(args: argparse.Namespace) -> LoadSummary:
    from tqdm import tqdm

    from ivr.testing import callers
    from ivr.testing.load import drive

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
        return await drive(args.host, port, args.calls, concurrency=args.concurrency,
                           caller_factory=factory, on_done=lambda _t: bar.update(),
                           script=args.script, callerid=args.callerid,
                           extension=args.extension, pace=args.pace)
    except OSError as exc:
        raise UsageError(f"cannot reach FastAGI at {args.host}:{port}: {exc}") from None
    finally:
        bar.close()
        if server is not None:
            await server.stop(grace=1.0)
