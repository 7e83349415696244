"""``ivr validate [PATH] [--prompts FILE] [--config FILE]``: check the files the server
reads (flows, prompts, the service config file); every problem as PATH:LINE:COL."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ivr.cli import UsageError


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "validate",
        help="check a flows file, its prompts and the service config file (exit 1 on any "
        "error)",
        description="Compile a flows file, read its prompts file (and the service config "
        "file with --config) and print every problem as PATH:LINE:COL: error|warning: "
        "message. Exits 1 if there is any error.",
    )
    parser.add_argument("path", nargs="?", default=None,
                        help="flows file (default: the config file's flows_path, else "
                        "config/flows.yaml, else the demo that ships with ivr)")
    parser.add_argument("--prompts", default=None,
                        help="prompts file the prompt ids are checked against (default: the "
                        "config file's prompts_path, else prompts.yaml beside the flows "
                        "file, else config/prompts.yaml)")
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="also check this service config file (what ivr serve --config "
                        "reads)")
    parser.set_defaults(func=run)


def _prompts_path(flows: Path, given: str | None, configured: Path | None) -> Path:
    if given:
        return Path(given)
    if configured is not None:
        return configured
    # Not the packaged demo's prompts: a supervisor's own flows checked against them
    # would report the demo's gaps, not theirs.
    beside = flows.parent / "prompts.yaml"
    return beside if beside.is_file() else Path("config/prompts.yaml")


def run(args: argparse.Namespace) -> int:
    from ivr.config.diagnostics import has_errors
    from ivr.config.loader import read_flows_file
    from ivr.config.settings import read_config_file, shipped_default
    from ivr.flows.compile.driver import compile_flows
    from ivr.flows.source import unit_version
    from ivr.prompts.catalog import CatalogError, PromptCatalog
    from ivr.store.lookups import known_lookups

    config_failed = False
    configured: dict[str, Any] = {}
    if args.config:
        configured, problems = read_config_file(Path(args.config))
        for d in problems:
            print(d)
        config_failed = has_errors(problems)
        print(f"{args.config}: " + (f"{len(problems)} error(s)" if config_failed else "ok"),
              file=sys.stderr)
    if args.path:
        path = Path(args.path)
    else:
        path = configured.get("flows_path") or shipped_default(Path("config/flows.yaml"))
    path_text = str(path)
    try:
        data = read_flows_file(path)
    except OSError as exc:
        raise UsageError(f"{path_text}: cannot read: {exc.strerror or exc}") from None
    prompts = _prompts_path(path, args.prompts, configured.get("prompts_path"))
    if not prompts.is_file():
        raise UsageError(f"{prompts}: no prompts file to check the prompt ids against: put "
                         "prompts.yaml beside the flows file or give --prompts PATH")
    try:
        catalog = PromptCatalog.load(prompts)
    except CatalogError as exc:
        for line in exc.errors:
            print(line)
        print(f"{prompts}: {len(exc.errors)} error(s)", file=sys.stderr)
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
    return 1 if config_failed else 0
