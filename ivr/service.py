"""Composition: the one place that builds the running service from its parts.

Everything else receives what it needs (settings, store, clock, catalog) from here, so
the parts stay testable on their own and nothing reaches for globals.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from ivr.calls import record_from_json
from ivr.channels.channel import Channel
from ivr.clock import Clock, clock_from_env
from ivr.config.settings import Settings
from ivr.lookups import ActionRegistry

if TYPE_CHECKING:
    from aiohttp import web

    from ivr.agi.server import FastAgiServer
    from ivr.ami.client import AmiClient
    from ivr.engine.engine import Engine
    from ivr.flows.source import FlowSource
    from ivr.prompts.catalog import PromptCatalog
    from ivr.store import Store

log = logging.getLogger(__name__)

CallHandler = Callable[[Channel], Awaitable[object]]


class StartupError(Exception):
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
    actions: ActionRegistry
    catalog: PromptCatalog
    flows: FlowSource
    engine: Engine

    async def close(self) -> None:
        await self.store.close()


async def open_core(settings: Settings, environ: Mapping[str, str], *,
                    prepare: bool = True) -> Core:
    """Open the store (migrating and seeding as configured), load prompts and flows.

    ``prepare=False`` skips migrating, seeding and replaying spilled call records: an
    ``ivr serve --workers`` worker leaves them to its supervisor, which did them once
    before starting it (two processes replaying one spill file would save it twice).
    """
    from ivr.config.diagnostics import FlowError
    from ivr.engine.engine import Engine
    from ivr.flows.source import FlowSource
    from ivr.prompts.catalog import CatalogError, PromptCatalog
    from ivr.store import Store
    from ivr.store.lookups import build_actions

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
    try:
        if prepare:
            await store.migrate()
            if settings.seed_demo:
                await store.seed_demo_if_empty()
        actions = build_actions(store)
        try:
            flows = FlowSource.load(settings.flows_path, actions=actions, catalog=catalog)
        except FlowError as exc:
            raise StartupError(str(exc), exc.diagnostics) from None
        except FileNotFoundError:
            raise StartupError(f"{settings.flows_path}: flows file not found") from None
        unsaved = settings.data_dir / UNSAVED_CALLS
        if prepare:
            await replay_unsaved_calls(store, unsaved)
        engine = Engine(flows, actions, catalog, store, clock, unsaved_path=unsaved)
    except BaseException:
        await store.close()
        raise
    return Core(settings, clock, store, actions, catalog, flows, engine)


#: Where the engine spills call records it could not save (database down or stuck).
UNSAVED_CALLS = "unsaved-calls.jsonl"


def _claim_spilled(path: Path) -> tuple[Path, list[str]]:
    """Move the spill file aside (new spills start a new file) and read its lines; a
    ``.replaying`` file left by a run that died mid-replay is picked up too."""
    claimed = path.with_name(f"{path.name}.replaying")
    lines: list[str] = []
    if claimed.exists():
        lines += claimed.read_text(encoding="utf-8").splitlines()
    if path.exists():
        lines += path.read_text(encoding="utf-8").splitlines()
        with claimed.open("w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
        path.unlink()
    return claimed, [line for line in lines if line.strip()]


def _finish_replay(claimed: Path, failed: list[str]) -> None:
    if failed:
        with claimed.with_name(claimed.name.replace(".replaying", ".failed")).open(
            "a", encoding="utf-8"
        ) as out:
            out.write("\n".join(failed) + "\n")
    claimed.unlink(missing_ok=True)


async def replay_unsaved_calls(store: Store, path: Path) -> int:
    """Save the records an earlier run had to spill to ``path``; returns how many.

    The spill file is removed only once every line is in the database (saving is
    idempotent per call id); a line that cannot be saved is kept in ``<path>.failed``.
    """
    claimed, lines = await asyncio.to_thread(_claim_spilled, path)
    if not lines:
        await asyncio.to_thread(_finish_replay, claimed, [])
        return 0
    saved, failed = 0, []
    for line in lines:
        try:
            await store.save_call(record_from_json(json.loads(line)))
            saved += 1
        except (ValueError, KeyError, TypeError, SQLAlchemyError) as exc:
            log.error("spilled call record not replayed (%s): %s", exc, line[:200])
            failed.append(line)
    await asyncio.to_thread(_finish_replay, claimed, failed)
    log.warning("replayed %d call records spilled to %s", saved, path)
    return saved


async def build_call_handler(
    settings: Settings, environ: Mapping[str, str]
) -> tuple[CallHandler, Callable[[], Awaitable[None]]]:
    """A handler running the engine over a channel, and a closer (classic AGI)."""
    core = await open_core(settings, environ)

    async def handler(channel: Channel) -> object:
        return await core.engine.run(channel, kind="agi")

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
        self._cancel_build = threading.Event()
        self.demo_credentials: dict[str, str] = {}
        self.agi: FastAgiServer | None = None
        self.web_port = 0
        self._runner: web.AppRunner | None = None
        self._ami: AmiClient | None = None

    @property
    def agi_port(self) -> int:
        return self.agi.port if self.agi else 0


    async def start(self) -> None:
        from aiohttp import web

        from ivr.agi.server import FastAgiServer
        from ivr.screenpop.builtin_queue import BuiltinQueue
        from ivr.screenpop.dispatch import build_dispatcher, run_ami_feed
        from ivr.web.app import create_app
        from ivr.web.auth import web_users

        core, settings = self.core, self.core.settings
        users, self.demo_credentials = web_users(settings)
        dispatcher = build_dispatcher(settings, core.store, core.clock, users)
        queue = BuiltinQueue.from_settings(dispatcher, settings)
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

        # A partial, not a wrapping coroutine: one frame less on every call in progress.
        handler = functools.partial(core.engine.run, kind="fastagi")
        self.agi = FastAgiServer(handler, host=settings.host, port=settings.agi_port,
                                 reuse_port=self._reuse_port)
        try:
            await self.agi.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise StartupError(
                f"FastAGI: cannot listen on {settings.host}:{settings.agi_port}: {exc.strerror}"
            ) from None

        if settings.ami_enabled:
            from ivr.ami.client import AmiClient

            self._ami = AmiClient.from_settings(settings)
            await self._ami.start()
            self._spawn(run_ami_feed(self._ami, dispatcher), "ami-feed")
        self._spawn(core.flows.watch(), "flows-watch")
        if self._want_prompts:
            self._spawn(self._build_prompts(), "prompt-build")

    def _spawn(self, coro: Awaitable[object], name: str) -> None:
        async def guarded() -> object:
            try:
                return await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task %s failed", name)
                return None

        self._tasks.append(asyncio.create_task(guarded(), name=name))

    async def _build_prompts(self) -> None:
        """Render missing prompt audio so the softphone (and a local Asterisk) can play it."""
        from ivr.prompts.build import build_prompts

        settings = self.core.settings
        report = await asyncio.to_thread(
            build_prompts,
            self.core.catalog,
            settings.prompt_build_dir,
            settings.recorded_prompts_dir,
            cancel=self._cancel_build,
        )
        # Routine unless something failed: an operator reads WARNING as "look at me".
        quiet = report.ok and not report.notes
        (log.info if quiet else log.warning)("prompts: %s", report.summary())

    def reload_flows(self) -> None:
        """SIGHUP: compile the flows file again; a broken file keeps the last good one."""
        before = self.core.flows.current.version
        diagnostics = self.core.flows.reload()
        after = self.core.flows.current.version
        if after != before:
            log.info("flows reloaded: version %s -> %s", before, after)
        elif not diagnostics:
            log.info("flows unchanged: version %s", after)

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting calls, let calls in progress finish (or record them), close."""
        self._cancel_build.set()
        if self.agi is not None:
            await self.agi.stop(grace)
        if self._ami is not None:
            await self._ami.close()
        await cancel_and_wait(*self._tasks)
        if self._runner is not None:
            await self._runner.cleanup()
        await self.core.close()


def _bound_port(runner: web.AppRunner) -> int:
    for site_address in runner.addresses:
        if isinstance(site_address, tuple):
            return int(site_address[1])
    return 0
