"""``ivr simulate``: call a flow without Asterisk, keys scripted or typed, prompts as text."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from typing import Any

from ivr.cli import UsageError

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
    parser.add_argument("--flows", default=None, help="flows file (default: settings)")
    parser.add_argument("--prompts", default=None, help="prompts file (default: settings)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ivr.channels.simulator import quiet_broken_pipe

    try:
        return asyncio.run(simulate(args))
    except BrokenPipeError:  # `ivr simulate --json | head`: the reader has what it wanted
        quiet_broken_pipe(sys.stdout)
        return 0


async def simulate(args: argparse.Namespace) -> int:
    from ivr.calls import Outcome
    from ivr.channels.channel import CallInfo
    from ivr.channels.simulator import (
        EventPrinter,
        ScriptedKeys,
        SimulatorChannel,
        TerminalKeys,
        not_phone_keys,
    )
    from ivr.config.settings import SettingsError, load_settings
    from ivr.service import StartupError, open_core

    for group in (args.keys or "").split():
        problem = not_phone_keys(group)
        if problem is not None:
            raise UsageError(f"--keys: {problem}")
    try:
        settings = load_settings(os.environ, {"db_url": args.db, "flows_path": args.flows,
                                              "prompts_path": args.prompts})
        core = await open_core(settings, os.environ)
    except StartupError as exc:
        if not exc.diagnostics:
            raise UsageError(str(exc)) from None
        for d in exc.diagnostics:
            print(d, file=sys.stderr)
        return 1
    except (SettingsError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    try:
        flows = core.flows
        if args.flow not in flows.current.flows:
            raise UsageError(f"no flow {args.flow!r} in {settings.flows_path} (flows: "
                             f"{', '.join(flows.current.flows)})")
        info = CallInfo(call_id=f"sim-{uuid.uuid4().hex[:12]}", caller=args.caller,
                        dialled=args.dnid, flow=args.flow, language=args.lang)
        live = None if args.json else EventPrinter()

        def read_line() -> str:
            if live is not None:
                live.flush()  # the spoken value before the question, then the keys
            if not sys.stdin.isatty():  # piped keys: no prompt to clutter the transcript
                line = sys.stdin.readline()
                if not line:
                    raise EOFError
                return line
            return input("keys (- silence, h hang up)> ")

        keys = ScriptedKeys(args.keys) if args.keys is not None else TerminalKeys(read_line)
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
