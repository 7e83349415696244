"""Constants and the database handle shared by the store tests (no fixtures here, so
test modules can import it while ``pytest_plugins`` loads ``store_fixtures``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ivr.clock import DEFAULT_TZ, FixedClock
from ivr.store import Store

#: The instant every store test lives at (IVR_NOW for subprocesses).
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=DEFAULT_TZ)
#: Small but with every demo account: seeding stays well under a second.
TEST_ACCOUNTS = 120


@dataclass(frozen=True, slots=True)
class Db:
    kind: str
    url: str
    schema: str | None = None

    async def open(self, **kwargs: object) -> Store:
        return await Store.open(
            self.url,
            clock=FixedClock(NOW),
            schema=self.schema,
            **kwargs,  # type: ignore[arg-type]
        )
