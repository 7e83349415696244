"""``ivr prompts build|check``: prompt audio for Asterisk and a check that none is missing.

ivr prompts build                    render/convert what changed into var/prompts
ivr prompts build --install /var/lib/asterisk/sounds
ivr prompts check                    exit 1 if a prompt lacks text or audio
ivr prompts check --sounds-dir /var/lib/asterisk/sounds   ... as installed for Asterisk
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ivr.cli import UsageError

if TYPE_CHECKING:
    from ivr.config.settings import Settings
    from ivr.prompts.catalog import PromptCatalog


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "prompts",
        help="build prompt audio (espeak-ng, recordings) and check it",
        description="Build and check the audio Asterisk plays: every flow prompt and every "
        "spoken-value word, in Vietnamese and English, as 8 kHz mono 16-bit .wav and .ulaw "
        "laid out as <out>/<prefix>/<lang>/<id>. A recording in <recorded>/<lang>/<id>."
        "(wav|m4a|mp3) wins over text-to-speech.",
    )
    actions = parser.add_subparsers(dest="prompts_command", metavar="ACTION")
    actions.required = True

    build = actions.add_parser(
        "build",
        help="render what changed (content hash), optionally install",
        description="Render prompts whose text, recording or settings changed since the "
        "last build (all with --force) and optionally copy them into Asterisk's sounds dir.",
    )
    _common(build)
    build.add_argument(
        "--install",
        metavar="DIR",
        type=Path,
        help="then copy <out>/<prefix>/ into this Asterisk sounds dir "
        "(e.g. /var/lib/asterisk/sounds)",
    )
    build.add_argument("--force", action="store_true", help="rebuild everything")
    build.add_argument("--no-progress", action="store_true", help="no progress bar")
    build.set_defaults(func=run_build)

    check = actions.add_parser(
        "check",
        help="list prompts missing text or audio, and audio in a wrong format (exit 1 if any)",
        description="List prompts the flows play that are missing from the catalog, lack a "
        "language or audio, have stale audio, or audio that is not 8000 Hz mono 16-bit; "
        "exit 1 if there is any.",
    )
    _common(check)
    check.add_argument(
        "--flows",
        metavar="FILE",
        type=Path,
        help="flows file (default: settings, config/flows.yaml)",
    )
    check.add_argument(
        "--sounds-dir",
        metavar="DIR",
        type=Path,
        help="check the audio installed in this Asterisk sounds dir (e.g. "
        "/var/lib/asterisk/sounds) instead of the build dir",
    )
    check.set_defaults(func=run_check)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="service config file (YAML)")
    parser.add_argument(
        "--prompts", metavar="FILE", type=Path, help="prompts file (default config/prompts.yaml)"
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        type=Path,
        help="build dir (default <data_dir>/prompts = var/prompts)",
    )
    parser.add_argument(
        "--recorded", metavar="DIR", type=Path, help="recordings dir (default prompts/recorded)"
    )


def _load(args: argparse.Namespace) -> tuple[Settings, PromptCatalog, Path]:
    from ivr.config.settings import SettingsError, load_settings
    from ivr.prompts.catalog import CatalogError, PromptCatalog

    overrides = {
        "config_path": args.config,
        "prompts_path": args.prompts,
        "recorded_prompts_dir": args.recorded,
        "flows_path": getattr(args, "flows", None),
    }
    try:
        settings = load_settings(os.environ, overrides)
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
    try:
        catalog = PromptCatalog.load(
            settings.prompts_path, prefix=settings.sounds_prefix, variant=settings.speech_variant
        )
    except CatalogError as exc:
        raise UsageError(str(exc)) from None
    return settings, catalog, args.out or settings.prompt_build_dir


def run_build(args: argparse.Namespace) -> int:
    from ivr.prompts.build import build_prompts, install

    settings, catalog, out_dir = _load(args)
    report = build_prompts(
        catalog,
        out_dir,
        settings.recorded_prompts_dir,
        progress=not args.no_progress,
        force=args.force,
    )
    for note in report.notes:
        print(f"ivr: {note}", file=sys.stderr)
    for failure in report.failed:
        print(f"{failure.file_name}: {failure.reason}", file=sys.stderr)
    print(report.summary())
    if args.install is not None:
        try:
            copied = install(out_dir, args.install, catalog.prefix)
        except OSError as exc:
            raise UsageError(f"cannot install into {args.install}: {exc}") from None
        print(f"installed {copied} files into {args.install / catalog.prefix}")
        from ivr.prompts.asterisk_sounds import install_asterisk_names

        try:
            named = install_asterisk_names(out_dir, args.install, catalog, catalog.prefix)
        except OSError as exc:
            raise UsageError(f"cannot install into {args.install}: {exc}") from None
        print(f"installed {named} files under Asterisk's own names (queue announcements "
              f"<lang>/{catalog.prefix}/queue-*, Vietnamese digits vi/digits/*)")
    return 0 if report.ok else 1


def run_check(args: argparse.Namespace) -> int:
    from ivr.prompts.check import check_prompts
    from ivr.prompts.flow_refs import referenced_prompts

    settings, catalog, out_dir = _load(args)
    sounds_dir: Path | None = args.sounds_dir
    if sounds_dir is not None and not sounds_dir.is_dir():
        raise UsageError(f"{sounds_dir}: no such sounds directory (--sounds-dir)")
    referenced, note = referenced_prompts(settings.flows_path, catalog)
    if note:
        print(f"ivr: {note}", file=sys.stderr)
    try:
        problems = check_prompts(catalog, out_dir, settings.recorded_prompts_dir,
                                 referenced=referenced, sounds_dir=sounds_dir)
    except OSError as exc:  # a sounds dir this user may not read, say
        raise UsageError(f"cannot check {sounds_dir or out_dir}: {exc}") from None
    for problem in problems:
        print(problem)
    checked = len(referenced) if referenced is not None else len(catalog.flow_prompt_ids())
    print(
        f"{len(problems)} problem(s); {checked} flow prompts and {len(catalog.word_ids())} "
        f"words checked in {', '.join(catalog.languages)} against {sounds_dir or out_dir}",
        file=sys.stderr,
    )
    return 1 if problems else 0
