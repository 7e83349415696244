"""What the screen-pop and the web app need from the parts around them, as protocols
(the real ones are :class:`ivr.store.Store` and :class:`ivr.screenpop.pgbus.PostgresPopBus`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from ivr.calls import NodeTraffic


class PopStore(Protocol):
    """What the dispatcher needs from :class:`ivr.store.Store`."""

    async def get_case(self, case_id: str) -> dict[str, Any] | None: ...

    async def list_cases(
        self,
        *,
        caller: str | None = None,
        account: str | None = None,
        queue: str | None = None,
        limit: int = 50,
        synthetic: bool = False,
    ) -> list[dict[str, Any]]: ...

    async def update_case(
        self,
        case_id: str,
        *,
        notes: str | None = None,
        disposition: str | None = None,
        agent: str | None = None,
        status: str | None = None,
    ) -> dict[str, Any] | None: ...

    async def add_case_event(
        self, case_id: str, event: str, *, agent: str | None = None, detail: str = ""
    ) -> None:
        """Raises :class:`ivr.store.UnknownCase` for an id no case has."""
        ...

    async def accounts_for_phone(self, phone: str) -> list[dict[str, Any]]: ...


class WebStore(PopStore, Protocol):
    """What the web app needs from :class:`ivr.store.Store` beyond the dispatcher's part."""

    async def list_calls(self, *, limit: int = 50,
                         synthetic: bool = False) -> list[dict[str, Any]]: ...

    async def call_report(self, *, since: datetime,
                          until: datetime | None = None,
                          synthetic: bool = False) -> dict[str, Any]: ...

    async def report(self, name: str, *, since: datetime, until: datetime,
                     survey_questions: frozenset[tuple[str, str]] = frozenset(),
                     synthetic: bool = False) -> dict[str, Any]: ...

    async def node_traffic(self, flow: str, *, since: datetime) -> NodeTraffic: ...

    async def get_recording(self, recording_id: int) -> dict[str, Any] | None:
        """A caller's recording: ``{"id", "path", "seconds", "case_id"}`` or None."""
        ...

    def database_health(self) -> dict[str, Any]:
        """``{"state": "ok"}``, or the state and why (``/healthz``)."""
        ...


class PopBus(Protocol):
    """Fan-out between web nodes: every published message reaches every node's callback."""

    async def start(self, on_message: Callable[[str], None]) -> None: ...

    async def publish(self, payload: str) -> None: ...

    async def close(self) -> None: ...
