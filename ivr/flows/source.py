"""Where the engine gets its flows: the current compiled FlowSet, with hot reload.

A reload that fails keeps the last good FlowSet (and logs why); a good one replaces the
reference for calls that start afterwards. Calls in progress hold the FlowSet object
they started with, so they finish on it.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from ivr.config.diagnostics import Diagnostic, FlowError, Mark, Severity, has_errors
from ivr.flows.compile.driver import ActionsLike, PromptIds, compile_flows
from ivr.flows.model import FlowSet
from ivr.metrics import NO_METRICS, MetricsHooks

log = logging.getLogger(__name__)


class FlowSource:
    def __init__(self, path: Path, flowset: FlowSet, *, actions: ActionsLike,
                 catalog: PromptIds, mtime: float = 0.0,
                 metrics: MetricsHooks = NO_METRICS) -> None:
        self.path = path
        self.current: FlowSet = flowset
        self._metrics = metrics
        metrics.flows_version(flowset.version)
        self._actions = actions
        self._catalog = catalog
        self._mtime = mtime

    @classmethod
    def load(cls, path: Path, *, actions: ActionsLike, catalog: PromptIds,
             metrics: MetricsHooks = NO_METRICS) -> FlowSource:
        """Compile ``path``; raises :class:`FlowError` with every diagnostic if it fails
        (and FileNotFoundError if there is no file)."""
        data = path.read_bytes()
        mtime = path.stat().st_mtime
        flowset, diags = compile_flows(data, str(path), catalog=catalog, actions=actions)
        if flowset is None:
            raise FlowError(diags)
        for d in diags:
            log.warning("%s", d)
        return cls(path, flowset, actions=actions, catalog=catalog, mtime=mtime,
                   metrics=metrics)

    def reload(self) -> list[Diagnostic]:
        """Compile the file again; swap it in only if it has no error. Returns diagnostics."""
        try:
            data = self.path.read_bytes()
            self._mtime = self.path.stat().st_mtime
        except OSError as exc:
            diag = Diagnostic(Mark(str(self.path), 1, 1), Severity.ERROR,
                              f"cannot read the flows file: {exc.strerror or exc}")
            log.error("flows not reloaded, keeping version %s: %s", self.current.version, diag)
            self._metrics.flows_reloaded("failed")
            return [diag]
        flowset, diags = compile_flows(data, str(self.path), catalog=self._catalog,
                                       actions=self._actions)
        if flowset is None or has_errors(diags):
            for d in diags:  # a warning stays a warning, so errors stand out in the log
                (log.error if d.is_error else log.warning)("%s", d)
            log.error("flows not reloaded: keeping version %s", self.current.version)
            self._metrics.flows_reloaded("failed")
            return diags
        for d in diags:
            log.warning("%s", d)
        changed = flowset.version != self.current.version
        if changed:
            log.warning("flows reloaded: version %s -> %s", self.current.version,
                        flowset.version)
            self.current = flowset
            self._metrics.flows_version(flowset.version)
        self._metrics.flows_reloaded("changed" if changed else "unchanged")
        return diags

    def changed(self) -> bool:
        try:
            return self.path.stat().st_mtime != self._mtime
        except OSError:
            return False

    async def watch(self, interval: float = 1.0) -> None:
        """Poll the file's mtime and reload when it changes; runs until cancelled."""
        while True:
            await asyncio.sleep(interval)
            if self.changed():
                self.reload()
