"""Group commit: many tasks hand over items, one writer writes them in batches.

When 10,000 held calls hang up at once, 10,000 call records want saving in the same
second. One transaction each queues them behind each other (on SQLite one writer at a
time; on PostgreSQL a pool of 10), and the last ones miss the engine's save timeout and
go to the spill file. Here one writer task takes whatever is queued (up to ``max_batch``)
and writes it in one transaction; while it commits, the next batch gathers. A caller's
``submit`` returns only once the transaction holding its item has committed, and raises
what the batch raised otherwise (the engine then spills the record): nothing is
acknowledged before it is durable.

``max_delay`` bounds how long the first item of a batch waits for company (a few
milliseconds: an idle hotline's record is written at once, give or take that).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")

#: Items per transaction at most: a 10,000-call hang-up is a handful of transactions,
#: each short enough not to hold SQLite's write lock long against the lookups' writes.
MAX_BATCH = 500
#: Seconds the first item of a batch waits for others before the batch is written.
MAX_DELAY = 0.005


class GroupCommit(Generic[T]):
    def __init__(
        self,
        write_batch: Callable[[list[T]], Awaitable[None]],
        *,
        max_batch: int = MAX_BATCH,
        max_delay: float = MAX_DELAY,
    ) -> None:
        self._write_batch = write_batch
        self.max_batch = max_batch
        self.max_delay = max_delay
        self._queue: list[tuple[T, asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        """Transactions written (tests and benchmarks: batching really batches)."""

    async def submit(self, item: T) -> None:
        """Queue ``item``; return once it is committed (raise if its batch failed)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((item, done))
        self._idle.clear()
        self._wake.set()
        # A caller that stops waiting (its timeout) leaves the item in its batch: it may
        # still be written, which the writes must tolerate (call records are upserts).
        await done

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if len(self._queue) < self.max_batch and self.max_delay > 0:
                await asyncio.sleep(self.max_delay)
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            if not self._queue:
                self._wake.clear()
            try:
                await self._write_batch([item for item, _ in batch])
            except asyncio.CancelledError:
                self._fail(batch, RuntimeError("the store closed before the batch was written"))
                raise
            except Exception as exc:
                self._fail(batch, exc)
            else:
                self.batches += 1
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
            if not self._queue:
                self._idle.set()

    @staticmethod
    def _fail(batch: list[tuple[T, asyncio.Future[None]]], exc: Exception) -> None:
        for _, done in batch:
            if not done.done():
                done.set_exception(exc)

    async def close(self) -> None:
        """Write what is queued, then stop the writer."""
        if self._task is None:
            return
        if not self._task.done():
            await self._idle.wait()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None
        self._fail(self._queue, RuntimeError("the store is closed"))
        self._queue = []
