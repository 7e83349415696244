"""Load generation with the fake Asterisk: many scripted calls, one summary.

Used by ``ivr loadtest`` and the benchmarks in ``bench/``. Latency is the server's turn
per AGI command: from the fake writing a reply to reading the next command. A storm is
played with ``ramp`` (the calls arrive spread over that many seconds) and a
:class:`~ivr.testing.fake_asterisk.Hold` (the callers wait in a prompt, then all hang
up at once); :func:`call_result` turns each call into one JSON-ready line.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ivr.testing.callers import Caller
from ivr.testing.fake_asterisk import CallTranscript, Hold, ServerSilent, run_call

#: Seconds a hold waits for every call to reach its prompt before hanging up the ones
#: that did (a call refused at connect never gets there).
HOLD_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True)
class LoadSummary:
    calls: int
    completed: int
    """Calls the server ended by closing the socket (the normal end)."""
    commands: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    failed: int = 0
    """Calls that could not connect or that the server left silent."""
    held: int = 0
    """Calls a hold parked in a prompt and hung up together."""
    drain_seconds: float = 0.0
    """From the hold's hang-up to the server closing the last of those calls."""

    @property
    def calls_per_second(self) -> float:
        return self.calls / self.seconds if self.seconds > 0 else 0.0

    @property
    def commands_per_second(self) -> float:
        return self.commands / self.seconds if self.seconds > 0 else 0.0

    def lines(self) -> list[str]:
        out = [
            f"calls          {self.calls} ({self.completed} ended by the server"
            + (f", {self.failed} failed" if self.failed else "") + ")",
            f"elapsed        {self.seconds:.2f} s",
            f"calls/s        {self.calls_per_second:,.0f}",
            f"AGI commands/s {self.commands_per_second:,.0f} ({self.commands} commands)",
            f"latency p50    {self.p50_ms:.3f} ms",
            f"latency p99    {self.p99_ms:.3f} ms",
            f"latency max    {self.max_ms:.3f} ms",
        ]
        if self.held:
            out.append(f"held           {self.held} calls hung up at once, all ended "
                       f"{self.drain_seconds:.2f} s later")
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls, "completed": self.completed, "failed": self.failed,
            "commands": self.commands, "seconds": round(self.seconds, 4),
            "calls_per_second": round(self.calls_per_second, 1),
            "commands_per_second": round(self.commands_per_second, 1),
            "p50_ms": round(self.p50_ms, 4), "p99_ms": round(self.p99_ms, 4),
            "max_ms": round(self.max_ms, 4), "held": self.held,
            "drain_seconds": round(self.drain_seconds, 4),
        }


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(math.ceil(q / 100 * len(sorted_values)), 1)
    return sorted_values[rank - 1]


def summarize(transcripts: Sequence[CallTranscript], seconds: float,
              hold: Hold | None = None) -> LoadSummary:
    # The first "latency" of a call is env-to-first-command (the handler's start), the
    # others are per command; both are the server's turn, so all count.
    latencies = sorted(x for t in transcripts for x in t.latencies)
    held = [t for t in transcripts if t.parked]
    drain = 0.0
    if hold is not None and held and hold.released_at:
        drain = max(t.ended_at for t in held) - hold.released_at
    return LoadSummary(
        calls=len(transcripts),
        completed=sum(t.closed_by_server for t in transcripts),
        commands=sum(t.command_count for t in transcripts),
        seconds=seconds,
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        max_ms=(latencies[-1] * 1000) if latencies else 0.0,
        failed=sum(bool(t.error) for t in transcripts),
        held=len(held),
        drain_seconds=max(drain, 0.0),
    )


@dataclass(frozen=True, slots=True)
class LoadRun:
    summary: LoadSummary
    transcripts: list[CallTranscript]
    """In the order the calls were placed; the first is recorded in full when asked."""


async def drive_calls(host: str, port: int, calls: int, *, concurrency: int,
                      caller_factory: Callable[[int], Caller],
                      on_done: Callable[[CallTranscript], None] | None = None,
                      ramp: float = 0.0, hold: Hold | None = None,
                      record_first: bool = False, hold_timeout: float = HOLD_TIMEOUT,
                      **call_options: Any) -> LoadRun:
    """Place ``calls`` calls against ``host:port``, at most ``concurrency`` at once.

    ``ramp`` spreads the call starts evenly over that many seconds. A call that cannot
    connect (or that the server leaves silent) is counted with its ``error`` instead of
    ending the run: in a storm some are refused.
    """
    if calls < 0 or concurrency < 1:
        raise ValueError("calls must be >= 0 and concurrency >= 1")
    if hold is not None and concurrency < hold.expected:
        raise ValueError("a hold needs every call it waits for open at once")
    gate = asyncio.Semaphore(concurrency)
    start = time.perf_counter()
    step = ramp / calls if calls else 0.0

    async def one(i: int) -> CallTranscript:
        if step:
            await asyncio.sleep(max(start + i * step - time.perf_counter(), 0.0))
        async with gate:
            try:
                t = await run_call(host, port, caller_factory(i), hold=hold,
                                   record=record_first and i == 0, **call_options)
            except (OSError, ServerSilent) as exc:
                t = CallTranscript(error=f"{type(exc).__name__}: {exc}".splitlines()[0])
        if hold is not None and not t.parked:
            hold.give_up_one()  # it will never park: do not wait for it
        if on_done is not None:
            on_done(t)
        return t

    watchdog = asyncio.create_task(_release_late(hold, hold_timeout)) if hold else None
    try:
        transcripts = list(await asyncio.gather(*(one(i) for i in range(calls))))
    finally:
        if watchdog is not None:
            watchdog.cancel()
    return LoadRun(summarize(transcripts, time.perf_counter() - start, hold), transcripts)


async def _release_late(hold: Hold | None, timeout: float) -> None:
    if hold is None:
        return
    try:
        await asyncio.wait_for(hold.all_parked.wait(), timeout)
    except TimeoutError:
        hold.release()


async def drive(host: str, port: int, calls: int, *, concurrency: int,
                caller_factory: Callable[[int], Caller],
                on_done: Callable[[CallTranscript], None] | None = None,
                **call_options: Any) -> LoadSummary:
    """Place ``calls`` calls against ``host:port`` and summarise them."""
    run = await drive_calls(host, port, calls, concurrency=concurrency,
                            caller_factory=caller_factory, on_done=on_done, **call_options)
    return run.summary


def call_result(t: CallTranscript, record: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One call as a JSON-ready dict: what the wire showed, and with the server's call
    ``record`` (from its database) the outcome, the path and each lookup's status."""
    turns = sorted(t.latencies)
    out: dict[str, Any] = {
        "call_id": t.call_id,
        "closed_by_server": t.closed_by_server,
        "hung_up": t.hung_up,
        "parked": t.parked,
        "commands": t.command_count,
        "seconds": round(t.seconds, 4),
        "turn_p50_ms": round(percentile(turns, 50) * 1000, 3),
        "turn_max_ms": round(turns[-1] * 1000, 3) if turns else 0.0,
        "prompts": list(t.streamed),
    }
    if t.error:
        out["error"] = t.error
    if record is not None:
        out["outcome"] = record.get("outcome")
        out["path"] = [step.get("node") for step in record.get("path") or ()]
        out["lookups"] = [
            {"lookup": step.get("action"), "status": step.get("status"),
             "ms": step.get("elapsed_ms"), "node": step.get("node")}
            for step in record.get("lookups") or ()
        ]
        if record.get("error"):
            out["server_error"] = record["error"]
    return out


async def fetch_records(db_url: str, call_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The server's call records for ``call_ids``, read from its database."""
    from ivr.store import Store

    wanted = set(call_ids)
    store = await Store.open(db_url)
    try:
        # The newest records first; other traffic during the run may sit between ours.
        rows = await store.list_calls(limit=max(2 * len(wanted), len(wanted) + 1000),
                                      synthetic=True)  # ours are marked so
    finally:
        await store.close()
    return {str(r["call_id"]): r for r in rows if r["call_id"] in wanted}
