"""``ivr validate [PATH]``: check a flows file; every problem as PATH:LINE:COL."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ivr.cli import UsageError


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "validate",
        help="check a flows file (exit 1 on any error)",
        description="Compile a flows file and print every problem as "
        "PATH:LINE:COL: error|warning: message. Exits 1 if there is any error.",
    )
    parser.add_argument("path", nargs="?", default=None,
                        help="flows file (default: config/flows.yaml, else the demo that "
                        "ships with ivr)")
    parser.add_argument("--prompts", default=None,
                        help="prompts file the prompt ids are checked against "
                        "(default: prompts.yaml beside the flows file, else config/prompts.yaml)")
    parser.set_defaults(func=run)


def _prompts_path(flows: Path, given: str | None) -> Path:
    if given:
        return Path(given)
    # Not the packaged demo's prompts: a supervisor's own flows checked against them
    # would report the demo's gaps, not theirs.
    beside = flows.parent / "prompts.yaml"
    return beside if beside.is_file() else Path("config/prompts.yaml")


def run(args: argparse.Namespace) -> int:
    from ivr.config.diagnostics import has_errors
    from ivr.config.loader import read_flows_file
    from ivr.config.settings import shipped_default
    from ivr.flows.compile.driver import compile_flows
    from ivr.flows.source import unit_version
    from ivr.prompts.catalog import CatalogError, PromptCatalog
    from ivr.store.lookups import known_lookups

    path = Path(args.path) if args.path else shipped_default(Path("config/flows.yaml"))
    path_text = str(path)
    try:
        data = read_flows_file(path)
    except OSError as exc:
        raise UsageError(f"{path_text}: cannot read: {exc.strerror or exc}") from None
    prompts = _prompts_path(path, args.prompts)
    if not prompts.is_file():
        raise UsageError(f"{prompts}: no prompts file to check the prompt ids against: put "
                         "prompts.yaml beside the flows file or give --prompts PATH")
    try:
        catalog = PromptCatalog.load(prompts)
    except CatalogError as exc:
        for line in exc.errors:
            print(line)
        print(f"{path_text}: not checked: the prompts file has errors", file=sys.stderr)
        return 1
    flowset, diags = compile_flows(data, path_text, catalog=catalog, lookups=known_lookups())
    for d in diags:
        print(d)
    errors = sum(1 for d in diags if d.is_error)
    warnings = len(diags) - errors
    if has_errors(diags) or flowset is None:
        print(f"{path_text}: {errors} error(s), {warnings} warning(s)", file=sys.stderr)
        return 1
    nodes = sum(len(f.nodes) for f in flowset.flows.values())
    flows = len(flowset.flows)
    # The version `ivr serve` will run and /healthz report: both files' hash.
    version = unit_version(data.decode("utf-8"), prompts.read_text(encoding="utf-8"))
    print(f"{path_text}: ok, {flows} flow{'s' if flows != 1 else ''}, {nodes} node"
          f"{'s' if nodes != 1 else ''}, version "
          f"{version}" + (f", {warnings} warning(s)" if warnings else ""),
          file=sys.stderr)
    return 0
