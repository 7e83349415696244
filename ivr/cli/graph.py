"""``ivr graph``: a flow as a graph of its nodes and exits, with a period's traffic.

ivr graph                                  the default flow, last 24 h, SVG on stdout
ivr graph --flow hotline --hours 168 --out hotline.svg
ivr graph --out hotline.dot                DOT text (no Graphviz needed), e.g. for review

The figures (reached, hung up there, to an agent from there, failed lookups) come from
the call records in the database (``--db``, as ``ivr serve``'s); the colours show the
drop-off. The same graph is ``GET /api/flows/{flow}/graph.svg`` on the supervisor page.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ivr.cli import CliError, UsageError

if TYPE_CHECKING:
    from ivr.calls import NodeTraffic
    from ivr.clock import Clock

#: Longest period offered, as the web report's (a year of hours).
MAX_HOURS = 24 * 366


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "graph",
        help="draw a flow's nodes and exits with their traffic (SVG or DOT)",
        description="Draw a flow of the flows file as a graph (Graphviz): every node and "
        "exit, each node with the calls that reached it, hung up there, went to an agent "
        "from there and its failed lookups over the last N hours, filled by drop-off.",
    )
    parser.add_argument("--flow", metavar="F", help="flow name (default: the default flow)")
    parser.add_argument("--hours", metavar="N", type=int, default=24,
                        help="period: calls started in the last N hours (default 24)")
    parser.add_argument("--out", metavar="FILE", type=Path,
                        help="write here (.svg, .png, .pdf or .dot; default: SVG on stdout)")
    parser.add_argument("--format", choices=("svg", "png", "pdf", "dot"),
                        help="output format (default: from --out's suffix, else svg)")
    parser.add_argument("--db", metavar="URL", help="SQLAlchemy database URL")
    parser.add_argument("--config", metavar="FILE", help="service config file (YAML)")
    parser.add_argument("--flows", metavar="PATH", help="flows file (default config/flows.yaml)")
    parser.set_defaults(func=run)


def _format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    suffix = args.out.suffix.lower().lstrip(".") if args.out is not None else ""
    if suffix in ("svg", "png", "pdf", "dot"):
        return suffix
    if suffix == "gv":
        return "dot"
    if args.out is not None:
        raise UsageError(f"{args.out}: say the format with --format (svg, png, pdf or dot) "
                         "or use one of those suffixes")
    return "svg"


def run(args: argparse.Namespace) -> int:
    from ivr.clock import clock_from_env
    from ivr.config.diagnostics import FlowError
    from ivr.config.settings import SettingsError, load_settings
    from ivr.flows.source import FlowSource
    from ivr.prompts.catalog import CatalogError, PromptCatalog
    from ivr.store.lookups import known_lookups

    if not 1 <= args.hours <= MAX_HOURS:
        raise UsageError(f"--hours must be a whole number from 1 to {MAX_HOURS}")
    fmt = _format(args)
    try:
        settings = load_settings(os.environ, {"config_path": args.config, "db_url": args.db,
                                              "flows_path": args.flows})
        clock = clock_from_env(os.environ)
    except (SettingsError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    try:
        catalog = PromptCatalog.load(settings.prompts_path, prefix=settings.sounds_prefix,
                                     variant=settings.speech_variant)
        flowset = FlowSource.load(settings.flows_path, lookups=known_lookups(),
                                  catalog=catalog).current
    except FileNotFoundError as exc:
        raise UsageError(f"{exc.filename}: file not found") from None
    except CatalogError as exc:
        raise UsageError(str(exc)) from None
    except FlowError as exc:
        first = exc.diagnostics[0] if exc.diagnostics else "does not compile"
        raise UsageError(f"{first} (and {len(exc.diagnostics) - 1} more: ivr validate "
                         f"{settings.flows_path})" if len(exc.diagnostics) > 1
                         else str(first)) from None
    name = args.flow or flowset.default_flow
    if name not in flowset.flows:
        from ivr.config.diagnostics import did_you_mean

        choices = sorted(flowset.flows)
        hint = did_you_mean(name, choices) or f" (flows: {', '.join(choices)})"
        raise UsageError(f"no flow {name!r} in {settings.flows_path}{hint}")
    since = clock.now() - timedelta(hours=args.hours)
    traffic = asyncio.run(_traffic(settings.database_url, clock, name, since))

    from ivr.flows.graph import flow_dot
    from ivr.graphviz import GraphvizError, render

    title = (f"flow {name} · {traffic.calls} calls in the last {args.hours} h "
             f"(since {since.strftime('%Y-%m-%d %H:%M %z')})"
             + (" · newest calls only" if traffic.limited else ""))
    source = flow_dot(flowset.flows[name], traffic.nodes, title=title)
    if fmt == "dot":
        data = source.encode("utf-8")
    else:
        try:
            data = render(source, fmt)
        except GraphvizError as exc:
            raise CliError(str(exc) + (" (--out FILE.dot)" if "not installed" in str(exc)
                                       else "")) from None
    if args.out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        try:
            args.out.write_bytes(data)
        except OSError as exc:
            raise CliError(f"{args.out}: cannot write: {exc.strerror or exc}") from None
        print(f"flow {name}: {len(flowset.flows[name].nodes)} nodes, {traffic.calls} calls "
              f"in the last {args.hours} h -> {args.out}", file=sys.stderr)
    return 0


async def _traffic(url: str, clock: Clock, flow: str, since: datetime) -> NodeTraffic:
    """Read the figures; never creates a database or tables (a read-only command)."""
    from sqlalchemy.exc import SQLAlchemyError

    from ivr.cli.database import database_errors, shown
    from ivr.store import Store
    from ivr.store.engine import sqlite_file

    path = sqlite_file(url)
    if path is not None and not path.is_file():
        raise CliError(f"database {shown(url)}: {path} does not exist: check --db or "
                       "IVR_DATABASE_URL (ivr serve creates it)")
    with database_errors(url):
        store = await Store.open(url, clock=clock)
    try:
        with database_errors(url):
            try:
                return await store.node_traffic(flow, since=since)
            except SQLAlchemyError as exc:
                if "no such table" in str(exc) or "does not exist" in str(exc):
                    raise CliError(f"database {shown(url)} has no call records: run ivr db "
                                   "migrate, or point --db at the database ivr serve uses"
                                   ) from None
                raise
    finally:
        await store.close()
