"""``ivr agi FLOW``: run one call as a classic AGI script over stdin/stdout.

For sites that start AGI scripts from the dialplan instead of using FastAGI::

    exten => s,n,AGI(/usr/local/bin/ivr,agi,hotline)

The same engine, flows and database as ``ivr serve``; one process per call.
"""

from __future__ import annotations

import argparse
import os

from ivr.cli import UsageError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "agi",
        help="run one call as a classic AGI script (stdin/stdout, pyst2)",
        description="Run the call flow FLOW for one call, speaking classic AGI on "
        "stdin/stdout (start it from the dialplan with AGI(...)). Settings come from "
        "IVR_* environment variables or --config, as for 'ivr serve'. Exits 0 when the "
        "call ended normally or the caller hung up.",
    )
    parser.add_argument("flow", metavar="FLOW", help="flow name, e.g. hotline")
    parser.add_argument("--config", metavar="FILE", help="service config file (YAML)")
    parser.add_argument("--db", metavar="URL", help="SQLAlchemy database URL")
    parser.add_argument("--flows", metavar="PATH", help="flows file (default config/flows.yaml)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from ivr.channels.classic_agi import open_classic_channel, run_classic_call
    from ivr.cli.serve import require_files
    from ivr.config.settings import SettingsError, load_settings

    try:
        settings = load_settings(os.environ, {"config_path": args.config, "db_url": args.db,
                                              "flows_path": args.flows})
    except (SettingsError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    require_files(settings)
    # pyst2 must read the environment in the main thread (it installs a SIGHUP handler).
    channel = open_classic_channel(args.flow)

    async def main() -> int:
        from ivr.cli.database import database_errors
        from ivr.service import StartupError, build_call_handler

        try:
            with database_errors(settings.database_url):
                handler, close = await build_call_handler(settings, os.environ)
        except StartupError as exc:
            raise UsageError(str(exc)) from None
        try:
            return await run_classic_call(channel, handler)
        finally:
            await close()

    return asyncio.run(main())
