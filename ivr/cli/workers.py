"""``ivr serve --workers N``: N worker processes sharing the FastAGI and web ports.

One asyncio process holds about one core; a box with more cores runs several. The
supervisor (the process the operator started) does what must happen once (migrate, seed,
replay spilled call records, make the cookie key and demo logins), then starts each worker
as ``ivr serve --worker-of <pid>`` in a new process (fork + exec: nothing of the
supervisor's loop or connections is inherited). Every worker binds the same ports with
SO_REUSEPORT, so the kernel spreads new connections between them; a worker that dies is
started again, SIGTERM/SIGINT stop them all and SIGHUP reloads the flows in each.

With SQLite the workers share one file: WAL lets readers go on during a write, and
``busy_timeout`` makes a writer wait for another process's write. The store's own write
queue (one writer at a time, in arrival order) is per process, so across workers the
order is SQLite's lock, not a queue; ``tests/test_serve_workers.py`` runs two workers
writing at once. Screen-pops reach an agent's browser on another worker through
PostgreSQL (LISTEN/NOTIFY) or through each worker's own AMI feed; the built-in agent
queue (no AMI) knows only the agents connected to its own worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from ivr.cli import CliError

log = logging.getLogger("ivr.serve")

#: The line a worker prints once it listens (ivr/cli/serve.py _serve_as_worker).
READY = "ready: FastAGI port"
#: Seconds before a dead worker is started again; doubled for each quick death (a
#: worker that cannot stay up must not spin a core), up to MAX_RESTART_DELAY.
RESTART_DELAY = 1.0
MAX_RESTART_DELAY = 30.0
#: A worker up this long had a good run: its next restart waits RESTART_DELAY again.
STABLE_SECONDS = 30.0
#: Seconds a worker gets after SIGTERM (its calls get SHUTDOWN_GRACE of it) before
#: SIGKILL.
STOP_TIMEOUT = 30.0
#: Seconds a worker may take to open its store and listen before it counts as failed.
START_TIMEOUT = 120.0


def supervise(settings: Any, *, verbose: int, build_prompts: bool) -> int:
    """Prepare once, run ``settings.workers`` workers until SIGTERM/SIGINT."""
    return asyncio.run(_supervise(settings, verbose, build_prompts))


def _reserve(host: str, port: int) -> tuple[int, socket.socket | None]:
    """The port the workers share; for port 0 a free one, held by a bound (never
    listening) SO_REUSEPORT socket so nothing else takes it while workers come and go."""
    if port != 0:
        return port, None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, 0))
    return int(sock.getsockname()[1]), sock


async def _prepare(settings: Any) -> tuple[str, dict[str, str]]:
    """What must happen once, before any worker: migrate, seed, replay spilled records,
    the cookie key and demo logins (two workers making them at once would each keep
    their own). Returns the flows line and the demo logins."""
    from ivr.cli import UsageError
    from ivr.cli.database import database_errors
    from ivr.service import StartupError, open_core
    from ivr.web.auth import secret_key, web_users

    try:
        with database_errors(settings.database_url):
            core = await open_core(settings, os.environ)
    except StartupError as exc:
        raise UsageError(str(exc)) from None
    try:
        flows = core.flows.current
        line = f"{settings.flows_path} version {flows.version} ({', '.join(sorted(flows.flows))})"
    finally:
        await core.close()
    secret_key(settings.data_dir, os.environ)
    _users, demo = web_users(settings)
    return line, demo


def _worker_env(settings: Any, agi_port: int, web_port: int) -> dict[str, str]:
    """The supervisor's settings, as environment the worker reads (over its config file;
    a database password in the environment, not in ``ps`` output)."""
    env = {**os.environ,
           "IVR_HOST": settings.host, "IVR_AGI_PORT": str(agi_port),
           "IVR_WEB_PORT": str(web_port), "IVR_LOOP": settings.loop,
           "IVR_FLOWS": str(Path(settings.flows_path).resolve()),
           "IVR_PROMPTS": str(Path(settings.prompts_path).resolve()),
           "IVR_DATA_DIR": str(Path(settings.data_dir).resolve()),
           "IVR_SEED_DEMO": "0", "IVR_WORKERS": "1"}
    if settings.db_url:
        env["IVR_DATABASE_URL"] = env["IVR_DB"] = settings.database_url
    else:  # the default file, which the worker finds from IVR_DATA_DIR
        env.pop("IVR_DATABASE_URL", None)
        env.pop("IVR_DB", None)
    if settings.config_path is not None:
        env["IVR_CONFIG"] = str(Path(settings.config_path).resolve())
    return env


class _Workers:
    """The worker processes: start, restart, signal, stop."""

    def __init__(self, count: int, argv: list[str], env: dict[str, str],
                 build_prompts: bool) -> None:
        self.count = count
        self._argv = argv
        self._env = env
        self._build_prompts = build_prompts
        self.procs: dict[int, asyncio.subprocess.Process] = {}
        self.stopping = False
        self.ready = [asyncio.Event() for _ in range(count)]
        self.failed: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def _command(self, index: int) -> list[str]:
        cmd = [*self._argv, "--worker-of", str(os.getpid()), "--worker-index", str(index)]
        if index > 0 or not self._build_prompts:
            cmd.append("--no-prompt-build")  # one worker renders missing prompt audio
        return cmd

    async def run(self, index: int) -> None:
        """Keep worker ``index`` running until the supervisor stops."""
        delay = RESTART_DELAY
        while not self.stopping:
            proc = await asyncio.create_subprocess_exec(
                *self._command(index), env=self._env, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE)  # its stdin: EOF when we are gone
            self.procs[index] = proc
            started = time.monotonic()
            assert proc.stdout is not None
            async for raw in proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if READY in line:
                    self.ready[index].set()
                print(line, flush=True)
            code = await proc.wait()
            if self.stopping:
                return
            if not self.ready[index].is_set():
                # Never listened: a port in use, a database that does not answer. Its own
                # error line is on stderr; restarting would only repeat it.
                if not self.failed.done():
                    self.failed.set_result(f"worker {index} exited with code {code} "
                                           "before it was ready (its error is above)")
                return
            up = time.monotonic() - started
            delay = RESTART_DELAY if up >= STABLE_SECONDS else min(delay * 2, MAX_RESTART_DELAY)
            log.warning("worker %d (pid %d) exited with code %s after %.0f s; starting it "
                        "again in %g s", index, proc.pid, code, up, delay)
            await asyncio.sleep(delay)

    def signal(self, sig: signal.Signals) -> None:
        for proc in self.procs.values():
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)

    async def stop(self) -> None:
        self.stopping = True
        self.signal(signal.SIGTERM)
        for proc in list(self.procs.values()):
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                log.error("worker pid %d did not stop in %g s; killing it", proc.pid,
                          STOP_TIMEOUT)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()


async def _supervise(settings: Any, verbose: int, build_prompts: bool) -> int:
    from ivr.cli.database import shown

    flows_line, demo = await _prepare(settings)
    agi_port, agi_hold = _reserve(settings.host, settings.agi_port)
    web_port, web_hold = _reserve(settings.host, settings.web_port)
    argv = [sys.executable, "-m", "ivr", *(["-" + "v" * verbose] if verbose else []), "serve"]
    workers = _Workers(settings.workers, argv, _worker_env(settings, agi_port, web_port),
                       build_prompts)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, workers.signal, signal.SIGHUP)
    runs = [asyncio.create_task(workers.run(i)) for i in range(workers.count)]
    try:
        all_ready: asyncio.Future[Any] = asyncio.ensure_future(
            asyncio.gather(*(e.wait() for e in workers.ready)))
        stopped: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        failed: asyncio.Future[Any] = workers.failed
        async with asyncio.timeout(START_TIMEOUT):
            await asyncio.wait([all_ready, failed, stopped], return_when=asyncio.FIRST_COMPLETED)
        if workers.failed.done():
            raise CliError(workers.failed.result())
        if not stop.is_set():
            _announce(settings, shown(settings.database_url), flows_line, demo, agi_port,
                      web_port, workers)
            await asyncio.wait([failed, stopped], return_when=asyncio.FIRST_COMPLETED)
            if workers.failed.done():
                raise CliError(workers.failed.result())
    except TimeoutError:
        raise CliError(f"workers not ready within {START_TIMEOUT:g} s") from None
    finally:
        print(f"ivr: stopping {workers.count} workers", file=sys.stderr, flush=True)
        await workers.stop()
        for task in runs:
            task.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
        for held in (agi_hold, web_hold):
            if held is not None:
                held.close()
    return 0


def _announce(settings: Any, database: str, flows_line: str, demo: dict[str, str],
              agi_port: int, web_port: int, workers: _Workers) -> None:
    pids = ", ".join(str(workers.procs[i].pid) for i in sorted(workers.procs))
    print(f"ivr: flows {flows_line}", flush=True)
    print(f"ivr: database {database}", flush=True)
    print(f"ivr: {workers.count} workers (pids {pids}), loop {settings.loop}", flush=True)
    print(f"ivr: FastAGI listening on {settings.host}:{agi_port} "
          f"(dialplan: AGI(agi://{settings.host}:{agi_port}/hotline))", flush=True)
    print(f"ivr: web app on http://{settings.host}:{web_port}/", flush=True)
    if not settings.ami_enabled:
        print("ivr: AMI not configured: the built-in agent queue of each worker sees only "
              "the agents whose browsers are on that worker", flush=True)
    for name, password in sorted(demo.items()):
        print(f"ivr: demo login {name} / {password}", flush=True)
