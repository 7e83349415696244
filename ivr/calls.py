"""What a call leaves behind: the call record and the case handed to an agent.

The engine fills these in as a call runs; the store persists them. They are plain
frozen data so that every channel, the simulator and the store agree on one shape;
:func:`jsonable` turns them (and lookup results) into JSON, :func:`record_from_json`
reads a record back.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Protocol

from ivr.phone import TransferResult


class Outcome(enum.Enum):
    SELF_SERVED = "self_served"
    """The IVR answered and the call ended without an agent."""
    TRANSFERRED = "transferred"
    ABANDONED = "abandoned"
    """The caller hung up before the flow finished (including while queued)."""
    FAILED = "failed"
    """Something broke on our side (channel error, no flow, unrecoverable)."""


@dataclass(frozen=True, slots=True)
class PathStep:
    flow: str
    node: str
    at: datetime


@dataclass(frozen=True, slots=True)
class InputStep:
    """One answer to one question; ``digits`` is already masked when sensitive."""

    flow: str
    node: str
    digits: str
    result: str
    """``ok``, ``no_input``, ``no_match`` or ``key:<k>`` for a flow-wide key."""
    at: datetime


@dataclass(frozen=True, slots=True)
class LookupStep:
    flow: str
    node: str
    action: str
    status: str
    error: str
    elapsed_ms: float
    at: datetime


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One per call, however it ends."""

    call_id: str
    flow: str
    flow_version: str
    caller: str
    dialled: str
    language: str
    started_at: datetime
    ended_at: datetime
    outcome: Outcome
    path: Sequence[PathStep] = ()
    inputs: Sequence[InputStep] = ()
    lookups: Sequence[LookupStep] = ()
    case_id: str | None = None
    transfer_queue: str | None = None
    transfer_status: str | None = None
    ivr_seconds: float = 0.0
    """Time from answer until the transfer started (or the call ended)."""
    queue_seconds: float = 0.0
    error: str = ""
    channel: str = ""
    """Which kind of channel carried the call: fastagi, agi, softphone, simulator."""
    synthetic: bool = False
    """A load-test call (``ivr loadtest``): kept, but left out of every report."""

    @property
    def total_seconds(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class NodeCounts:
    """What the call records of a period say about one node of a flow (the flow graph's
    figures: ``Store.node_traffic``, ``ivr.flows.graph``)."""

    reached: int = 0
    """Calls whose path passed through the node (once per call, however often)."""
    hung_up: int = 0
    """Abandoned calls whose path ended at the node: the caller hung up there."""
    to_agent: int = 0
    """Calls handed to an agent queue from the node (a transfer node, or ``0`` pressed)."""
    failed_lookups: int = 0
    """Lookups the node asked that ended in ``error`` or ``timeout``."""

    @property
    def drop_off(self) -> float | None:
        """Hung up there / reached (None when no call reached it)."""
        return self.hung_up / self.reached if self.reached else None


@dataclass(frozen=True, slots=True)
class NodeTraffic:
    """Per-node figures of one flow over calls that started at or after ``since``."""

    flow: str
    since: datetime
    calls: int
    """Calls whose path entered the flow."""
    nodes: Mapping[str, NodeCounts]
    limited: bool = False
    """Only the newest calls of the period were read (the store's row bound)."""


@dataclass(frozen=True, slots=True)
class CaseDraft:
    """Everything an agent needs on screen, gathered by the IVR before a transfer."""

    call_id: str
    caller: str
    dialled: str
    language: str
    intent: str
    """What the caller came for, from the flow (``reason:``) or the path (``billing``)."""
    queue: str
    priority: int = 0
    account: str | None = None
    """Customer code, when the IVR identified one."""
    corporation: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
    """What lookups found, e.g. ``{"balance": {...}, "outage": {...}}``."""
    path: Sequence[PathStep] = ()
    inputs: Sequence[InputStep] = ()
    lookups: Sequence[LookupStep] = ()
    seconds_in_ivr: float = 0.0
    flow: str = ""
    flow_version: str = ""
    note: str = ""
    """Why the IVR handed over, e.g. ``lookup balance failed: timeout``."""
    synthetic: bool = False
    """Opened by a load-test call: agents' lists and reports leave it out."""


class CallStore(Protocol):
    """The part of the store the engine writes to. Every method commits before returning."""

    async def save_call(self, record: CallRecord) -> None: ...

    async def open_case(self, draft: CaseDraft) -> str:
        """Store the case and return its id (committed: the caller may be told it)."""
        ...

    async def finish_transfer(self, case_id: str, result: TransferResult) -> None:
        """Record how the transfer ended (agent, timeout, full, caller gone)."""
        ...


def jsonable(value: Any) -> Any:
    """Lookup values, records, dataclasses and enums as plain JSON types.

    Datetimes and dates become ISO strings, so a case read back from the database is
    the same dict whatever the backend. A Decimal becomes its text: exact, as money must
    be (``"12.50"`` stays ``"12.50"``).
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)


def record_from_json(data: Mapping[str, Any]) -> CallRecord:
    """Rebuild a record the engine spilled to disk as JSON (database down at the time)."""

    def at(value: Any) -> datetime:
        return datetime.fromisoformat(str(value))

    return CallRecord(
        call_id=str(data["call_id"]),
        flow=str(data["flow"]),
        flow_version=str(data["flow_version"]),
        caller=str(data["caller"]),
        dialled=str(data["dialled"]),
        language=str(data["language"]),
        started_at=at(data["started_at"]),
        ended_at=at(data["ended_at"]),
        outcome=Outcome(data["outcome"]),
        path=tuple(PathStep(s["flow"], s["node"], at(s["at"])) for s in data.get("path", ())),
        inputs=tuple(
            InputStep(s["flow"], s["node"], s["digits"], s["result"], at(s["at"]))
            for s in data.get("inputs", ())
        ),
        lookups=tuple(
            LookupStep(s["flow"], s["node"], s["action"], s["status"], s["error"],
                       float(s["elapsed_ms"]), at(s["at"]))
            for s in data.get("lookups", ())
        ),
        case_id=data.get("case_id"),
        transfer_queue=data.get("transfer_queue"),
        transfer_status=data.get("transfer_status"),
        ivr_seconds=float(data.get("ivr_seconds", 0.0)),
        queue_seconds=float(data.get("queue_seconds", 0.0)),
        error=str(data.get("error", "")),
        channel=str(data.get("channel", "")),
        synthetic=data.get("synthetic") is True,
    )
