"""Composition: the one place that builds the running service from its parts.

Everything else receives what it needs (settings, store, clock, catalog) from here, so
the parts stay testable on their own and nothing reaches for globals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ivr.channels.channel import Channel
from ivr.clock import Clock, clock_from_env
from ivr.config.settings import Settings
from ivr.errors import IvrError
from ivr.lookups import LookupRegistry
from ivr.metrics import NO_METRICS, MetricsHooks

if TYPE_CHECKING:
    from aiohttp import web

    from ivr.agi.server import FastAgiServer
    from ivr.ami.client import AmiClient
    from ivr.engine.engine import Engine
    from ivr.flows.source import FlowSource, Live
    from ivr.prompts.catalog import PromptCatalog
    from ivr.publishing import Publisher
    from ivr.store import Store

log = logging.getLogger(__name__)

CallHandler = Callable[[Channel], Awaitable[object]]


class StartupError(IvrError):
    """The service cannot start; the message says why and what to fix."""

    def __init__(self, message: str, diagnostics: tuple[object, ...] = ()) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics
        """The flow compiler's diagnostics, when the flows file is what failed."""


@dataclass(slots=True)
class Core:
    """The parts every entry point (serve, classic AGI, simulate) shares."""

    settings: Settings
    clock: Clock
    store: Store
    lookups: LookupRegistry
    catalog: PromptCatalog
    flows: FlowSource
    engine: Engine
    metrics: MetricsHooks = NO_METRICS
    """What ``/metrics`` serves; ``ivr serve`` injects a :class:`ivr.metrics.Metrics`."""

    async def close(self) -> None:
        await self.store.close()


async def open_core(
    settings: Settings, environ: Mapping[str, str], *, degraded_ok: bool = True,
    metrics: MetricsHooks = NO_METRICS, prepare: bool = True,
) -> Core:
    """Open the store (migrating and seeding as configured), load prompts and flows;
    ``metrics`` is handed to every part that counts something.

    ``degraded_ok=False`` is for commands with nobody waiting on a call (``ivr
    simulate``): a database that cannot be reached raises its own error, which the CLI
    turns into one line, instead of serving degraded.

    ``prepare=False`` skips migrating, seeding and replaying spilled call records: an
    ``ivr serve --workers`` worker leaves them to its supervisor, which did them once
    before starting it (two processes replaying one spill file would save it twice).
    """
    from ivr.config.diagnostics import FlowError
    from ivr.engine.engine import Engine
    from ivr.flows.source import FlowSource, PromptsFile
    from ivr.prompts.catalog import CatalogError, PromptCatalog
    from ivr.store import Store
    from ivr.store.lookups import build_lookups

    try:
        clock = clock_from_env(environ)
    except ValueError as exc:
        raise StartupError(str(exc)) from None
    try:
        catalog = PromptCatalog.load(
            settings.prompts_path, prefix=settings.sounds_prefix, variant=settings.speech_variant
        )
    except CatalogError as exc:
        raise StartupError(str(exc)) from None
    except FileNotFoundError:
        raise StartupError(f"{settings.prompts_path}: prompts file not found") from None
    store = await Store.open(settings.database_url, clock=clock)
    store.health.watch_circuits(metrics.database_circuit)  # ivr_database_circuit_open
    try:
        if prepare:
            await _prepare_or_degrade(store, settings, degraded_ok=degraded_ok)
        lookups = build_lookups(store, metrics=metrics)

        def load_catalog(text: str, path: str) -> PromptCatalog:
            return PromptCatalog.parse(text, path, prefix=settings.sounds_prefix,
                                       variant=settings.speech_variant)

        # The flows and the prompts are one unit: a reload reads both (issue 13).
        prompts = PromptsFile(settings.prompts_path, load_catalog)
        try:
            flows = await asyncio.to_thread(
                FlowSource.load, settings.flows_path, lookups=lookups, catalog=catalog,
                metrics=metrics, prompts=prompts)
        except FlowError as exc:
            raise StartupError(str(exc), exc.diagnostics) from None
        except FileNotFoundError:
            raise StartupError(f"{settings.flows_path}: flows file not found") from None
        unsaved = settings.data_dir / UNSAVED_CALLS
        engine = Engine(flows, lookups, catalog, store, clock, unsaved_path=unsaved,
                        metrics=metrics, recordings_dir=str(settings.recordings_path))
        if prepare and store.health.unreachable_at_start is None:
            await engine.spill.replay(store)
    except BaseException:
        await store.close()
        raise
    return Core(settings, clock, store, lookups, catalog, flows, engine, metrics)


#: Where the engine spills call records it could not save (database down or stuck).
UNSAVED_CALLS = "unsaved-calls.jsonl"


async def _prepare_or_degrade(store: Store, settings: Settings, *, degraded_ok: bool) -> None:
    """Migrate and seed; with the database unreachable, start degraded (calls answered,
    lookups ``error``, records spilled, the watch task retrying) unless the settings
    require the database, then refuse to start with the same one line."""
    from ivr.store.health import describe_db_error
    from ivr.store.watch import DATABASE_ERRORS, prepare_database, unreachable_message

    try:
        await prepare_database(store, seed_demo=settings.seed_demo)
    except DATABASE_ERRORS as exc:
        if not degraded_ok:
            await store.close()
            raise
        message = unreachable_message(settings.database_url, exc)
        if settings.require_database:
            raise StartupError(f"{message} (require_database is set: not starting)") from None
        log.error("%s. Serving degraded: lookups answer error, call records go to %s, "
                  "retrying in the background", message, settings.data_dir / UNSAVED_CALLS)
        store.health.start_degraded(describe_db_error(exc))


async def build_call_handler(
    settings: Settings, environ: Mapping[str, str]
) -> tuple[CallHandler, Callable[[], Awaitable[None]]]:
    """A handler running the engine over a channel, and a closer (classic AGI)."""
    core = await open_core(settings, environ)

    async def handler(channel: Channel) -> object:
        return await core.engine.run(channel)

    return handler, core.close


async def cancel_and_wait(*tasks: asyncio.Task[object]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Service:
    """``ivr serve``: FastAGI, the web app, the AMI feed and hot reload in one process."""

    def __init__(
        self, core: Core, environ: Mapping[str, str], *, build_prompts: bool = True,
        reuse_port: bool = False,
    ) -> None:
        self.core = core
        self._reuse_port = reuse_port
        """Share the FastAGI and web ports with other workers (SO_REUSEPORT)."""
        self._want_prompts = build_prompts
        self._environ = environ
        self._tasks: list[asyncio.Task[object]] = []
        self._reloads: set[asyncio.Task[object]] = set()
        """SIGHUP reloads in progress (a set: each removes itself when done)."""
        self._cancel_build = threading.Event()
        self.demo_credentials: dict[str, str] = {}
        self.agi: FastAgiServer | None = None
        self.web_port = 0
        self._runner: web.AppRunner | None = None
        self._ami: AmiClient | None = None
        self._callback_ami: AmiClient | None = None
        self.database_settled = asyncio.Event()
        """Set while the database is healthy and no spilled record waits (the watch)."""
        self._building = asyncio.Lock()
        """One prompt build at a time: a publish during a build waits, then builds."""
        self.prompt_builds: list[asyncio.Task[object]] = []
        """Builds started by a new version going live (tests wait for them)."""
        self.publisher: Publisher | None = None
        """Versions: publish, history, rollback, and the other nodes' publishes."""

    @property
    def agi_port(self) -> int:
        return self.agi.port if self.agi else 0


    async def start(self) -> None:
        from aiohttp import web

        from ivr.agi.server import FastAgiServer
        from ivr.screenpop.ami_feed import run_ami_feed
        from ivr.screenpop.builtin_queue import BuiltinQueue
        from ivr.screenpop.dispatcher import build_dispatcher
        from ivr.store.watch import watch_database
        from ivr.web.app import create_app
        from ivr.web.auth import web_users

        core, settings = self.core, self.core.settings
        users, self.demo_credentials = web_users(settings)
        self.publisher = self._publisher()
        await self.publisher.start()
        dispatcher = build_dispatcher(settings, core.store, core.clock, users, core.metrics)
        from ivr.screenpop.card import CardWords  # the card's path in words (issue 11)
        dispatcher.words = CardWords(lambda: core.flows.current, core.catalog)
        queue = BuiltinQueue.from_settings(dispatcher, settings, catalog=core.catalog)
        if settings.ami_enabled:  # "call now" on the callback worklist (issue 11)
            from ivr.ami.client import AmiClient
            from ivr.screenpop.callbacks import CallbackSettings

            cb = CallbackSettings.from_settings(settings)  # the least-privilege AMI user
            self._ami = AmiClient.from_settings(settings)
            if (cb.ami_username, cb.ami_secret) != (settings.ami_username, settings.ami_secret):
                self._callback_ami = AmiClient(settings.ami_host, settings.ami_port,
                                               cb.ami_username, cb.ami_secret,
                                               events=("call",))
        app = create_app(
            settings=settings,
            store=core.store,
            engine=core.engine,
            catalog=core.catalog,
            dispatcher=dispatcher,
            clock=core.clock,
            audio_dir=settings.prompt_build_dir,
            builtin_queue=queue,
            flow_names=lambda: sorted(core.flows.current.flows),
            environ=dict(self._environ),
            metrics=core.metrics,
            flows_version=lambda: core.flows.current.version,
            flowset=lambda: core.flows.current,
            callback_ami=self._callback_ami or self._ami,  # one session when one user
            publisher=self.publisher,
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, settings.host, settings.web_port,
                           reuse_port=self._reuse_port or None)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise StartupError(
                f"web: cannot listen on {settings.host}:{settings.web_port}: {exc.strerror}"
            ) from None
        self.web_port = _bound_port(self._runner)

        # The bound method, not a wrapping coroutine: one frame less on every call.
        self.agi = FastAgiServer(core.engine.run, host=settings.host, port=settings.agi_port,
                                 reuse_port=self._reuse_port, metrics=core.metrics)
        try:
            await self.agi.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise StartupError(
                f"FastAGI: cannot listen on {settings.host}:{settings.agi_port}: {exc.strerror}"
            ) from None

        if settings.ami_enabled:
            from ivr.ami.client import AmiClient

            self._ami = self._ami or AmiClient.from_settings(settings)
            await self._ami.start()
            self._spawn(run_ami_feed(self._ami, dispatcher), "ami-feed")
        if self._callback_ami is not None:
            await self._callback_ami.start()
        self._spawn(core.flows.watch(), "flows-watch")
        self._spawn(watch_database(core.store, core.engine.spill, seed_demo=settings.seed_demo,
                                   settled=self.database_settled), "database-watch")
        if self._want_prompts:
            from ivr.prompts.ready import PromptAudio

            # Until the build reaches a prompt, a call that needs it renders it there and
            # then (or apologises): never a prompt whose audio is missing.
            core.engine.audio = PromptAudio(settings.prompt_build_dir,
                                            settings.recorded_prompts_dir,
                                            variant=settings.speech_variant)
            self._spawn(self._build_prompts(), "prompt-build")
        core.flows.listeners.append(self._new_version_live)

    def _publisher(self) -> Publisher:
        from ivr.publishing import FLOWS_CHANNEL, Publisher, scenario_check
        from ivr.screenpop.pgbus import PostgresPopBus
        from ivr.store.engine import asyncpg_dsn

        settings = self.core.settings
        dsn = asyncpg_dsn(settings.database_url)
        scenarios = settings.flows_path.parent / "scenarios.yaml"
        return Publisher(self.core.flows, self.core.store,
                         scenarios=scenario_check(scenarios, sorted(self.core.lookups.names())),
                         bus=PostgresPopBus(dsn, FLOWS_CHANNEL) if dsn else None)

    def _spawn(self, coro: Awaitable[object], name: str) -> None:
        self._tasks.append(asyncio.create_task(self._guarded(coro, name), name=name))

    @staticmethod
    async def _guarded(coro: Awaitable[object], name: str) -> object:
        try:
            return await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background task %s failed", name)
            return None

    async def _build_prompts(self, catalog: PromptCatalog | None = None) -> None:
        """Render missing prompt audio so the softphone (and a local Asterisk) can play it."""
        from ivr.prompts.build import build_prompts
        from ivr.prompts.catalog import PromptCatalog

        settings = self.core.settings
        async with self._building:
            live = self.core.flows.catalog
            chosen = catalog or (live if isinstance(live, PromptCatalog) else self.core.catalog)
            report = await asyncio.to_thread(
                build_prompts,
                chosen,
                settings.prompt_build_dir,
                settings.recorded_prompts_dir,
                cancel=self._cancel_build,
            )
        # Routine unless something failed: an operator reads WARNING as "look at me".
        quiet = report.ok and not report.notes
        (log.info if quiet else log.warning)("prompts: %s", report.summary())

    def _new_version_live(self, live: Live, origin: str) -> None:
        """A new version went live (a reload, a publish, another node's publish): build
        its prompts' audio in the background (only what changed is rebuilt)."""
        from ivr.prompts.catalog import PromptCatalog

        if self._want_prompts and isinstance(live.catalog, PromptCatalog):
            log.info("prompts: building audio for version %s in the background", live.version)
            task = asyncio.get_running_loop().create_task(
                self._guarded(self._build_prompts(live.catalog), "prompt-build"),
                name="prompt-build")
            self.prompt_builds.append(task)
            self._tasks.append(task)

    def reload_flows(self) -> asyncio.Task[object]:
        """SIGHUP: compile the flows file again, off the event loop (calls keep running);
        a broken file keeps the last good one. The task is returned for those who want
        to wait for it (tests); a signal handler does not."""
        task = asyncio.get_running_loop().create_task(
            self._guarded(self.core.flows.reload_async(), "flows-reload"), name="flows-reload")
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)
        return task

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting calls, let calls in progress finish (or record them), close."""
        self._cancel_build.set()
        if self.agi is not None:
            await self.agi.stop(grace)
        if self._ami is not None:
            await self._ami.close()
        if self._callback_ami is not None:
            await self._callback_ami.close()
        await cancel_and_wait(*self._tasks, *self._reloads)
        if self.publisher is not None:
            await self.publisher.close()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.core.close()


def _bound_port(runner: web.AppRunner) -> int:
    for site_address in runner.addresses:
        if isinstance(site_address, tuple):
            return int(site_address[1])
    return 0
