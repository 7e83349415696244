"""Where the engine gets its flows: the current compiled FlowSet, with hot reload.

A reload that fails keeps the last good FlowSet (and logs why); a good one replaces the
reference for calls that start afterwards. Calls in progress hold the FlowSet object
they started with, so they finish on it.

In a server, reading and compiling run in a worker thread (:meth:`FlowSource.reload_async`):
a big file must not stall the calls the event loop is serving. Only the swap of the
reference happens on the loop, so a call never waits for a reload.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from ivr.config.diagnostics import Diagnostic, FlowError, Mark, Severity, has_errors
from ivr.config.loader import read_flows_file
from ivr.flows.compile.driver import LookupsLike, PromptIds, compile_flows
from ivr.flows.model import FlowSet
from ivr.metrics import NO_METRICS, MetricsHooks

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Compiled:
    """One read and compile of the file, done anywhere; applied on the loop."""

    flowset: FlowSet | None
    diagnostics: list[Diagnostic]
    mtime: float | None
    """The file's mtime before it was read; None when it could not be read."""


class FlowSource:
    def __init__(self, path: Path, flowset: FlowSet, *, lookups: LookupsLike,
                 catalog: PromptIds, mtime: float = 0.0,
                 metrics: MetricsHooks = NO_METRICS) -> None:
        self.path = path
        self.current: FlowSet = flowset
        self._metrics = metrics
        metrics.flows_version(flowset.version)
        self._lookups = lookups
        self._catalog = catalog
        self._mtime = mtime
        self._reloading = asyncio.Lock()

    @classmethod
    def load(cls, path: Path, *, lookups: LookupsLike, catalog: PromptIds,
             metrics: MetricsHooks = NO_METRICS) -> FlowSource:
        """Compile ``path``; raises :class:`FlowError` with every diagnostic if it fails
        (and FileNotFoundError if there is no file)."""
        mtime = path.stat().st_mtime
        data = read_flows_file(path)
        flowset, diags = compile_flows(data, str(path), catalog=catalog, lookups=lookups)
        if flowset is None:
            raise FlowError(diags)
        for d in diags:
            log.warning("%s", d)
        return cls(path, flowset, lookups=lookups, catalog=catalog, mtime=mtime,
                   metrics=metrics)

    def compile_file(self) -> Compiled:
        """Read and compile the file as it is now. Changes nothing here, so it may run in
        any thread; :meth:`apply` makes the result current."""
        try:
            mtime = self.path.stat().st_mtime
            data = read_flows_file(self.path)
        except OSError as exc:
            diag = Diagnostic(Mark(str(self.path), 1, 1), Severity.ERROR,
                              f"cannot read the flows file: {exc.strerror or exc}")
            return Compiled(None, [diag], None)
        flowset, diags = compile_flows(data, str(self.path), catalog=self._catalog,
                                       lookups=self._lookups)
        return Compiled(flowset, diags, mtime)

    def apply(self, compiled: Compiled) -> list[Diagnostic]:
        """Swap in a compiled file if it has no error (else keep the current one and log
        why). Returns its diagnostics."""
        diags = compiled.diagnostics
        if compiled.mtime is not None:
            self._mtime = compiled.mtime
        if compiled.flowset is None or has_errors(diags):
            for d in diags:  # a warning stays a warning, so errors stand out in the log
                (log.error if d.is_error else log.warning)("%s", d)
            log.error("flows not reloaded: keeping version %s", self.current.version)
            self._metrics.flows_reloaded("failed")
            return diags
        for d in diags:
            log.warning("%s", d)
        changed = compiled.flowset.version != self.current.version
        if changed:
            log.info("flows reloaded: version %s -> %s", self.current.version,
                     compiled.flowset.version)
            self.current = compiled.flowset
            self._metrics.flows_version(compiled.flowset.version)
        else:
            log.info("flows unchanged: version %s", self.current.version)
        self._metrics.flows_reloaded("changed" if changed else "unchanged")
        return diags

    def reload(self) -> list[Diagnostic]:
        """Compile the file again in this thread; swap it in only if it has no error.
        Returns diagnostics. A server uses :meth:`reload_async`."""
        return self.apply(self.compile_file())

    async def reload_async(self) -> list[Diagnostic]:
        """:meth:`reload` with the reading and compiling in a worker thread, so the event
        loop (and every call on it) keeps running while a big file compiles. Reloads
        asked for at once (a SIGHUP while the watcher reloads) run one after the other."""
        async with self._reloading:
            return self.apply(await asyncio.to_thread(self.compile_file))

    def _mtime_now(self) -> float | None:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return None

    def changed(self) -> bool:
        mtime = self._mtime_now()
        return mtime is not None and mtime != self._mtime

    async def watch(self, interval: float = 1.0) -> None:
        """Poll the file's mtime and reload when it changes; runs until cancelled.

        Supervised: whatever a reload raises is logged and the watching goes on, so one
        bad edit (or a bug) never stops later good edits from going live. The new mtime
        is noted before the reload, so a file that makes it fail is not retried until
        it changes again."""
        while True:
            await asyncio.sleep(interval)
            mtime = self._mtime_now()
            if mtime is None or mtime == self._mtime:
                continue
            self._mtime = mtime
            try:
                await self.reload_async()
            except Exception:  # CancelledError is not an Exception: stopping still works
                log.exception("flows reload of %s failed; still watching it", self.path)
