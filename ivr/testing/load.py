"""Load generation with the fake Asterisk: many scripted calls, one summary.

Used by ``ivr loadtest`` and ``bench/agi_throughput.py``. Latency is the server's turn
per AGI command: from the fake writing a reply to reading the next command.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ivr.testing.callers import Caller
from ivr.testing.fake_asterisk import CallTranscript, run_many


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

    @property
    def calls_per_second(self) -> float:
        return self.calls / self.seconds if self.seconds > 0 else 0.0

    @property
    def commands_per_second(self) -> float:
        return self.commands / self.seconds if self.seconds > 0 else 0.0

    def lines(self) -> list[str]:
        return [
            f"calls          {self.calls} ({self.completed} ended by the server)",
            f"elapsed        {self.seconds:.2f} s",
            f"calls/s        {self.calls_per_second:,.0f}",
            f"AGI commands/s {self.commands_per_second:,.0f} ({self.commands} commands)",
            f"latency p50    {self.p50_ms:.3f} ms",
            f"latency p99    {self.p99_ms:.3f} ms",
            f"latency max    {self.max_ms:.3f} ms",
        ]


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(math.ceil(q / 100 * len(sorted_values)), 1)
    return sorted_values[rank - 1]


def summarize(transcripts: Sequence[CallTranscript], seconds: float) -> LoadSummary:
    # The first "latency" of a call is env-to-first-command (the handler's start), the
    # others are per command; both are the server's turn, so all count.
    latencies = sorted(x for t in transcripts for x in t.latencies)
    return LoadSummary(
        calls=len(transcripts),
        completed=sum(t.closed_by_server for t in transcripts),
        commands=sum(t.command_count for t in transcripts),
        seconds=seconds,
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        max_ms=(latencies[-1] * 1000) if latencies else 0.0,
    )


async def drive(host: str, port: int, calls: int, *, concurrency: int,
                caller_factory: Callable[[int], Caller],
                on_done: Callable[[CallTranscript], None] | None = None,
                **call_options: object) -> LoadSummary:
    """Place ``calls`` calls against ``host:port`` and summarise them."""
    start = time.perf_counter()
    transcripts = await run_many(host, port, calls, concurrency=concurrency,
                                 caller_factory=caller_factory, on_done=on_done,
                                 record=False, **call_options)
    return summarize(transcripts, time.perf_counter() - start)
