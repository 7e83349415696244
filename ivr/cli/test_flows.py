"""``ivr test-flows``: run the golden scenarios offline; each failure as a diff."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from ivr.cli import UsageError

DEFAULT_FLOWS = "config/flows.yaml"


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "test-flows",
        help="run the golden scenarios against the flows (exit 1 on a failure)",
        description="Run every scenario of the scenarios file through the engine, offline, "
        "on a throwaway copy of the demo data at the scenario's pinned time. Prints each "
        "failure as expected vs heard with the scenario's PATH:LINE, then 'N passed, M "
        "failed'. Problems in the scenarios file itself are PATH:LINE:COL: error: lines.",
    )
    parser.add_argument("--flows", default=DEFAULT_FLOWS,
                        help=f"flows file (default: {DEFAULT_FLOWS})")
    parser.add_argument("--scenarios", default=None,
                        help="scenarios file (default: scenarios.yaml beside the flows file)")
    parser.add_argument("--prompts", default=None,
                        help="prompts file (default: prompts.yaml beside the flows file, else "
                        "config/prompts.yaml)")
    parser.add_argument("-k", dest="only", metavar="NAME", default=None,
                        help="only the scenarios whose name contains NAME (any case)")
    parser.add_argument("--coverage", action="store_true",
                        help="also print the nodes and exits no scenario reaches "
                        "(any makes the run fail)")
    parser.set_defaults(func=run)


def _beside(flows: Path, name: str, fallback: str | None) -> Path:
    beside = flows.parent / name
    return beside if beside.is_file() or fallback is None else Path(fallback)


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path}: no {what} file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text: {exc.reason}") from None


def run(args: argparse.Namespace) -> int:
    from ivr.flows.compile.driver import compile_flows
    from ivr.flows.coverage import coverage
    from ivr.flows.scenarios import load_scenarios
    from ivr.prompts.catalog import CatalogError, PromptCatalog
    from ivr.scenario_runner import run_scenarios
    from ivr.store.lookups import known_lookups

    flows_path = Path(args.flows)
    scenarios_path = Path(args.scenarios) if args.scenarios else \
        _beside(flows_path, "scenarios.yaml", None)
    prompts_path = Path(args.prompts) if args.prompts else \
        _beside(flows_path, "prompts.yaml", "config/prompts.yaml")
    flows_text = _read(flows_path, "flows")
    scenarios_text = _read(scenarios_path, "scenarios")
    try:
        catalog = PromptCatalog.load(prompts_path)
    except CatalogError as exc:
        for line in exc.errors:
            print(line)
        print(f"{scenarios_path}: not run: the prompts file has errors", file=sys.stderr)
        return 1
    lookups = known_lookups()
    flowset, diags = compile_flows(flows_text.encode("utf-8"), str(flows_path),
                                   catalog=catalog, lookups=lookups)
    if flowset is None:
        for d in diags:
            if d.is_error:
                print(d)
        print(f"{scenarios_path}: not run: the flows file has errors", file=sys.stderr)
        return 1
    scenarios, problems = load_scenarios(scenarios_text, str(scenarios_path), flowset=flowset,
                                         catalog=catalog, lookups=lookups.names())
    if scenarios is None:
        for d in problems:
            print(d)
        print(f"{scenarios_path}: {sum(d.is_error for d in problems)} error(s)", file=sys.stderr)
        return 1
    if not scenarios.select(args.only):
        raise UsageError(f"-k {args.only}: no scenario's name contains it")
    report = asyncio.run(run_scenarios(flowset, scenarios, catalog=catalog, only=args.only))
    for failure in report.failures():
        print(failure)
        print()
    code = 0 if report.ok else 1
    if args.coverage:
        cover = coverage(flowset, (r.heard for r in report.results))
        for gap in cover.unreached:
            print(gap)
        print(cover.summary())
        code = code or (0 if cover.complete else 1)
    print(report.summary())
    return code
