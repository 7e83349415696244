"""``ivr serve``: FastAGI, the web app and the AMI feed in one asyncio process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.cli import event_loop
from ivr.cli.event_loop import LOOPS, loop_factory

log = logging.getLogger("ivr.serve")

#: Seconds calls in progress get to finish on SIGTERM before they are cut (and recorded).
SHUTDOWN_GRACE = 5.0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="run FastAGI, the web app and the AMI client",
        description=(
            "Serve the call flows to Asterisk over FastAGI, the agent console and browser "
            "softphone over HTTP, and follow queue events over AMI (when configured). "
            "With no options: SQLite in var/, demo data, config/flows.yaml (else the demo "
            "hotline that ships with ivr), 127.0.0.1 only. "
            "SIGHUP reloads the flows file (it is also watched); SIGTERM/SIGINT stop cleanly."
        ),
    )
    add_service_options(p)
    p.add_argument("--agi-port", type=int, help="FastAGI port (IVR_AGI_PORT, default 4573)")
    p.add_argument("--web-port", type=int, help="web app port (IVR_WEB_PORT, default 8080)")
    p.add_argument("--no-seed", action="store_true",
                   help="do not seed demo data into an empty database (IVR_SEED_DEMO=0)")
    p.add_argument("--require-database", action="store_true",
                   help="refuse to start when the database is unreachable "
                        "(IVR_REQUIRE_DATABASE=1; default: start degraded and retry)")
    p.add_argument("--no-prompt-build", action="store_true",
                   help="do not render missing prompt audio in the background at start "
                        "(when prompts are built and installed separately)")
    p.add_argument("--log-format", choices=("text", "json"),
                   help="log lines as text or as one JSON object per line "
                        "(IVR_LOG_FORMAT, default text)")
    p.add_argument("--loop", choices=LOOPS,
                   help="event loop: asyncio (the stdlib's) or uvloop, less CPU per call "
                        "(IVR_LOOP, default asyncio; uvloop: pip install 'ivr[uvloop]')")
    p.add_argument("--workers", type=int, metavar="N",
                   help="run N processes sharing the FastAGI and web ports, for a machine "
                        "with more cores than one process can use; a supervisor restarts "
                        "a worker that dies (IVR_WORKERS, default 1); see docs/configuration.md")
    # A worker of a supervisor (ivr/cli/workers.py): the supervisor's pid and the
    # worker's number. Not for operators, hence hidden.
    p.add_argument("--worker-of", type=int, help=argparse.SUPPRESS)
    p.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def add_service_options(p: argparse.ArgumentParser) -> None:
    """Options every command that opens the service's parts shares."""
    p.add_argument("--host", help="address to bind (IVR_HOST, default 127.0.0.1)")
    p.add_argument("--db", dest="db_url", metavar="URL",
                   help="SQLAlchemy database URL (IVR_DATABASE_URL, default SQLite var/ivr.db)")
    p.add_argument("--flows", dest="flows_path", type=Path, metavar="PATH",
                   help="flows file (IVR_FLOWS, default config/flows.yaml, else the demo)")
    p.add_argument("--prompts", dest="prompts_path", type=Path, metavar="PATH",
                   help="prompt texts (IVR_PROMPTS, default config/prompts.yaml, else the demo)")
    p.add_argument("--config", dest="config_path", type=Path, metavar="FILE",
                   help="service config file with secrets: AMI, web users (IVR_CONFIG); "
                        "paths in it are relative to it")
    p.add_argument("--data-dir", dest="data_dir", type=Path, metavar="DIR",
                   help="where the SQLite file, built prompts and keys live (IVR_DATA_DIR, var)")


def settings_from_args(args: argparse.Namespace) -> Any:
    from ivr.cli import UsageError
    from ivr.config.settings import SettingsError, load_settings

    overrides = {
        name: getattr(args, name, None)
        for name in ("host", "agi_port", "web_port", "db_url", "flows_path", "prompts_path",
                     "config_path", "data_dir", "log_format", "loop", "workers")
    }
    if getattr(args, "no_seed", False):
        overrides["seed_demo"] = False
    if getattr(args, "require_database", False):
        overrides["require_database"] = True
    try:
        return load_settings(os.environ, overrides)
    except SettingsError as exc:
        raise UsageError(str(exc)) from None


#: The files a running service reads at start, and where an operator names them.
SERVICE_FILES = (
    ("flows_path", "flows file", "--flows, IVR_FLOWS or flows_path in the config file"),
    ("prompts_path", "prompts file", "--prompts, IVR_PROMPTS or prompts_path in the config "
     "file"),
)


def require_files(settings: Any) -> None:
    """One line naming a flows or prompts file that is not there, and where it was set."""
    from ivr.cli import UsageError

    for name, what, where in SERVICE_FILES:
        path: Path = getattr(settings, name)
        if not path.is_file():
            place = "" if path.is_absolute() else f" in {Path.cwd()}"
            raise UsageError(f"{path}: {what} not found{place} (set by {where})")


def run(args: argparse.Namespace) -> int:
    from ivr.cli import UsageError

    settings = settings_from_args(args)
    require_files(settings)
    loop_factory(settings.loop)  # an unknown loop or a missing uvloop: one line, now
    if settings.workers < 1:
        raise UsageError(f"--workers {settings.workers}: at least 1")
    if args.verbose == 0:
        logging.getLogger("ivr").setLevel(logging.INFO)
    from ivr.logs import use_log_format

    use_log_format(settings.log_format)
    build = not args.no_prompt_build
    if args.worker_of is not None:
        worker = Worker(args.worker_index, args.worker_of)
        worker.configure_logging()
        return event_loop.run(_serve(settings, build_prompts=build, worker=worker),
                              settings.loop)
    if settings.workers > 1:
        from ivr.cli.workers import supervise

        return supervise(settings, verbose=args.verbose, build_prompts=build)
    return event_loop.run(_serve(settings, build_prompts=build), settings.loop)


@dataclass(frozen=True, slots=True)
class Worker:
    """This process is worker ``index`` of the supervisor ``parent`` (``--workers``)."""

    index: int
    parent: int

    def configure_logging(self) -> None:
        """Say which worker wrote each log line; leave Ctrl-C to the supervisor, which
        stops every worker with SIGTERM (a worker gone on SIGINT would be restarted)."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        fmt = (f"%(asctime)s %(levelname)s worker {self.index} pid %(process)d "
               "%(name)s: %(message)s")
        for handler in logging.getLogger().handlers:
            handler.setFormatter(logging.Formatter(fmt))

    def watch_parent(self, stop: asyncio.Event) -> None:
        """Stop when the supervisor is gone, even by SIGKILL (which it cannot forward):
        it holds the other end of this process's stdin, so its death reads as EOF."""
        loop = asyncio.get_running_loop()
        fd = sys.stdin.fileno()

        def readable() -> None:
            if not os.read(fd, 512):
                loop.remove_reader(fd)
                log.warning("supervisor %d is gone; stopping", self.parent)
                stop.set()

        loop.add_reader(fd, readable)


async def open_service(settings: Any, *, build_prompts: bool, worker: Worker | None) -> Any:
    """Open the core and start the service; startup errors as one UsageError line."""
    from ivr.cli import UsageError
    from ivr.cli.database import database_errors
    from ivr.config.settings import SettingsError
    from ivr.metrics import Metrics
    from ivr.service import Service, StartupError, open_core

    try:
        with database_errors(settings.database_url):
            core = await open_core(settings, os.environ, metrics=Metrics(),
                                   prepare=worker is None)
    except StartupError as exc:
        raise UsageError(str(exc)) from None
    service = Service(core, os.environ, build_prompts=build_prompts,
                      reuse_port=worker is not None)
    try:
        await service.start()
    except (StartupError, SettingsError) as exc:
        await core.close()
        raise UsageError(str(exc)) from None
    return service


async def _serve(settings: Any, *, build_prompts: bool = True,
                 worker: Worker | None = None) -> int:
    from ivr.cli.database import shown

    service = await open_service(settings, build_prompts=build_prompts, worker=worker)
    if worker is not None:
        return await _serve_as_worker(service, worker)
    core = service.core
    flows = core.flows.current
    print(f"ivr: flows {settings.flows_path} version {flows.version} "
          f"({', '.join(sorted(flows.flows))})", flush=True)
    print(f"ivr: database {shown(settings.database_url)}", flush=True)
    print(f"ivr: FastAGI listening on {settings.host}:{service.agi_port} "
          f"(dialplan: AGI(agi://{settings.host}:{service.agi_port}/hotline))", flush=True)
    print(f"ivr: web app on http://{settings.host}:{service.web_port}/", flush=True)
    print("ivr: AMI " + (f"{settings.ami_host}:{settings.ami_port} as {settings.ami_username}"
                         if settings.ami_enabled else "not configured (built-in agent queue)"),
          flush=True)
    for name, password in sorted(service.demo_credentials.items()):
        print(f"ivr: demo login {name} / {password}", flush=True)

    await _run_until_stopped(service, (signal.SIGTERM, signal.SIGINT))
    return 0


async def _serve_as_worker(service: Any, worker: Worker) -> int:
    # The supervisor waits for this line (ivr/cli/workers.py READY).
    print(f"ivr: worker {worker.index} pid {os.getpid()} ready: FastAGI port "
          f"{service.agi_port}, web port {service.web_port}", flush=True)
    await _run_until_stopped(service, (signal.SIGTERM,), worker)
    return 0


async def _run_until_stopped(service: Any, stop_signals: tuple[signal.Signals, ...],
                             worker: Worker | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in stop_signals:
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, service.reload_flows)
    if worker is not None:
        worker.watch_parent(stop)
    try:
        await stop.wait()
    finally:
        who = f"ivr: worker {worker.index}" if worker is not None else "ivr"
        stopping = f"stopping (calls in progress get {SHUTDOWN_GRACE:g}s, then are recorded)"
        if service.core.settings.log_format == "json":  # stderr is JSON lines: no bare text
            log.info("%s", stopping)
        else:
            print(f"{who}: {stopping}", file=sys.stderr, flush=True)
        await service.stop(SHUTDOWN_GRACE)

