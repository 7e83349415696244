"""Operational metrics: what a running node counts and times, for ``GET /metrics``.

One :class:`Metrics` object per service holds its own ``CollectorRegistry`` (never
prometheus_client's global one: tests and several services in one process would count
into each other). It is built once (``ivr serve``) and injected into the parts that
count: the engine (calls, spilled records), the FastAGI server (command latency), the
lookup registry, the screen-pop dispatcher and the flow source (reloads, live version).
Each of them takes ``metrics: MetricsHooks = NO_METRICS`` and calls one hook per event;
without one injected the hooks do nothing, so classic AGI, ``ivr simulate`` and unit
tests pay nothing (prometheus_client is imported only when a :class:`Metrics` is made).

Database circuit breaker: ``open_core`` (``ivr/service.py``) hands
``metrics.database_circuit`` to the store's ``DatabaseHealth.watch_circuits``, which
calls it with True when the read or the write circuit opens and False once both are
closed again (this module stays a leaf: the store never imports it).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

#: Content type of the Prometheus text format ``render`` writes (exposition 0.0.4).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: AGI replies: variables and HANGUP answer in milliseconds (the transcripts), a STREAM
#: FILE lasts as long as its prompt, an EXEC Queue as long as the caller waits and talks.
AGI_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
               10.0, 30.0, 60.0, 300.0, 900.0)
#: Lookups: a read times out after 2 s by default (ivr.lookups), a write later; the
#: interesting part is how close to that the slow ones come.
LOOKUP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0,
                  10.0)
#: Screen-pops: the agent's phone is ringing; past a second the card arrives late.
POP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: ``ivr_flow_reloads_total{result}``: every value starts at 0 so a rate is defined.
RELOAD_RESULTS = ("changed", "unchanged", "failed")


class MetricsHooks(Protocol):
    """What the instrumented parts call; :data:`NO_METRICS` or a :class:`Metrics`."""

    def call_started(self, flow: str) -> None: ...

    def call_ended(self, flow: str, outcome: str) -> None: ...

    def agi_command(self, verb: str) -> AbstractContextManager[object]:
        """Times the block (sending a command to its reply); only a reply is counted."""
        ...

    def lookup(self, action: str, status: str, seconds: float) -> None: ...

    def pop_delivered(self, state: str, seconds: float) -> None: ...

    def flows_reloaded(self, result: str) -> None: ...

    def flows_version(self, version: str) -> None: ...

    def record_spilled(self) -> None: ...

    def database_circuit(self, open: bool) -> None: ...

    def render(self) -> bytes:
        """The Prometheus text format of everything counted so far."""
        ...


_NOTHING = contextlib.nullcontext()


class _NoMetrics:
    """Every hook does nothing (the default wherever no Metrics is injected)."""

    __slots__ = ()

    def call_started(self, flow: str) -> None:
        pass

    def call_ended(self, flow: str, outcome: str) -> None:
        pass

    def agi_command(self, verb: str) -> AbstractContextManager[object]:
        return _NOTHING

    def lookup(self, action: str, status: str, seconds: float) -> None:
        pass

    def pop_delivered(self, state: str, seconds: float) -> None:
        pass

    def flows_reloaded(self, result: str) -> None:
        pass

    def flows_version(self, version: str) -> None:
        pass

    def record_spilled(self) -> None:
        pass

    def database_circuit(self, open: bool) -> None:
        pass

    def render(self) -> bytes:
        return b""


NO_METRICS: MetricsHooks = _NoMetrics()


class _Timed:
    """Observes the seconds a ``with`` block took, unless it raised: a command whose
    connection dropped or timed out has no reply latency to report."""

    __slots__ = ("_observe", "_started")

    def __init__(self, observe: Callable[[float], None]) -> None:
        self._observe = observe
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self._observe(time.perf_counter() - self._started)


class Metrics:
    """The metrics of one service, in a registry of its own."""

    def __init__(self) -> None:
        from prometheus_client import (
            CollectorRegistry,
            Counter,
            Gauge,
            Histogram,
            Info,
            PlatformCollector,
            ProcessCollector,
        )

        self.registry: CollectorRegistry = CollectorRegistry()
        reg = self.registry
        ProcessCollector(registry=reg)  # CPU, memory, open files of this process
        PlatformCollector(registry=reg)
        self._started = Counter("ivr_calls_started", "Calls started, by flow",
                                ["flow"], registry=reg)
        self._calls = Counter("ivr_calls", "Calls ended, by flow and outcome",
                              ["flow", "outcome"], registry=reg)
        self._in_progress = Gauge("ivr_calls_in_progress", "Calls running now", registry=reg)
        self._agi = Histogram("ivr_agi_command_seconds",
                              "Seconds from sending an AGI command to its reply, by verb",
                              ["command"], buckets=AGI_BUCKETS, registry=reg)
        self._agi_by_verb: dict[str, Callable[[float], None]] = {}
        self._lookups = Histogram("ivr_lookup_seconds", "Seconds a lookup took, by result",
                                  ["action", "status"], buckets=LOOKUP_BUCKETS, registry=reg)
        self._pops = Histogram("ivr_pop_seconds",
                               "Seconds from loading a screen-pop's case card to sending it "
                               "to the agent's consoles (count: pops delivered)",
                               ["state"], buckets=POP_BUCKETS, registry=reg)
        self._reloads = Counter("ivr_flow_reloads", "Flow reloads, by result", ["result"],
                                registry=reg)
        for result in RELOAD_RESULTS:
            self._reloads.labels(result)
        self._flows = Info("ivr_flows", "The flows version new calls run", registry=reg)
        self._spilled = Counter("ivr_unsaved_records",
                                "Call records written to the fallback file (database down)",
                                registry=reg)
        self._circuit = Gauge("ivr_database_circuit_open",
                              "1 while the database circuit breaker is open", registry=reg)

    def call_started(self, flow: str) -> None:
        self._started.labels(flow).inc()
        self._in_progress.inc()

    def call_ended(self, flow: str, outcome: str) -> None:
        self._calls.labels(flow, outcome).inc()
        self._in_progress.dec()

    def agi_command(self, verb: str) -> AbstractContextManager[object]:
        # Every AGI command passes here: the per-verb child is looked up once, not under
        # labels()'s lock each time (half the cost of a timed command).
        observe = self._agi_by_verb.get(verb)
        if observe is None:
            observe = self._agi_by_verb[verb] = self._agi.labels(verb).observe
        return _Timed(observe)

    def lookup(self, action: str, status: str, seconds: float) -> None:
        self._lookups.labels(action, status).observe(seconds)

    def pop_delivered(self, state: str, seconds: float) -> None:
        self._pops.labels(state).observe(seconds)

    def flows_reloaded(self, result: str) -> None:
        self._reloads.labels(result).inc()

    def flows_version(self, version: str) -> None:
        self._flows.info({"version": version})

    def record_spilled(self) -> None:
        self._spilled.inc()

    def database_circuit(self, open: bool) -> None:
        self._circuit.set(1 if open else 0)

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


__all__ = ["CONTENT_TYPE", "NO_METRICS", "Metrics", "MetricsHooks"]
