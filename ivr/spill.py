"""The spill file: call records the database could not take, kept until it can.

The engine appends a record (one JSON line) when saving it fails; the service replays
the file at start, after a degraded start once the database is back, and whenever a
broken circuit closes again. Appends and replays of one file go through one
:class:`SpillFile`, so a record spilled while a replay runs is neither lost nor saved
twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

from ivr.calls import CallStore, record_from_json
from ivr.failures import describe

log = logging.getLogger(__name__)


class SpillFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    @property
    def claimed(self) -> Path:
        """Where a replay moves the lines it is saving (picked up by the next replay
        if this one dies half-way)."""
        return self.path.with_name(f"{self.path.name}.replaying")

    @property
    def failed(self) -> Path:
        """Lines that can never be saved (not a call record), kept for an operator."""
        return self.path.with_name(f"{self.path.name}.failed")

    def pending(self) -> bool:
        return self.path.exists() or self.claimed.exists()

    async def append(self, line: str) -> None:
        async with self._lock:
            await asyncio.to_thread(_append, self.path, [line])

    async def replay(self, store: CallStore) -> int:
        """Save every spilled record; returns how many were saved.

        Saving is idempotent per call id. A line that is not a record goes to
        :attr:`failed`; when the database fails again half-way, the lines not yet
        saved go back to the spill file for the next replay.
        """
        async with self._lock:
            lines = await asyncio.to_thread(_claim, self.path, self.claimed)
            saved, unreadable, left = 0, [], list(lines)
            while left:
                line = left[0]
                try:
                    record = record_from_json(json.loads(line))
                except (ValueError, KeyError, TypeError) as exc:
                    log.error("spilled call record not replayed (%s): %s", describe(exc),
                              line[:200])
                    unreadable.append(left.pop(0))
                    continue
                try:
                    await store.save_call(record)
                except asyncio.CancelledError:
                    # A stopping server: put the rest back now (no await left to lose).
                    _finish(self, unreadable, left)
                    raise
                except Exception as exc:  # the database failed again: keep the rest
                    log.warning("replay of %s stopped (%s); %d records kept for later",
                                self.path, describe(exc), len(left))
                    break
                saved += 1
                left.pop(0)
            await asyncio.to_thread(_finish, self, unreadable, left)
        if lines:
            log.warning("replayed %d call records spilled to %s", saved, self.path)
        return saved


def _claim(path: Path, claimed: Path) -> list[str]:
    """Move the spill file's lines to ``claimed`` (new spills start a new file) and
    return every claimed line, a ``.replaying`` file left by a run that died included."""
    lines: list[str] = []
    if claimed.exists():
        lines += claimed.read_text(encoding="utf-8").splitlines()
    if path.exists():
        lines += path.read_text(encoding="utf-8").splitlines()
        with claimed.open("w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
        path.unlink()
    return [line for line in lines if line.strip()]


def _finish(spill: SpillFile, unreadable: list[str], left: list[str]) -> None:
    _append(spill.failed, unreadable)
    _append(spill.path, left)
    spill.claimed.unlink(missing_ok=True)


def _append(path: Path, lines: list[str]) -> None:
    if not lines:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in lines))
