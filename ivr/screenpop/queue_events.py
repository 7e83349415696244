"""Typed queue events for screen-pops, from raw AMI ``app_queue`` events.

In the queue events recorded from Asterisk 22 (``ami-during-queue-to-agent-*.txt``) the
first channel (``Channel``, ``Uniqueid``, ``ChanVariable``) is the caller waiting in the
queue and the second (``DestChannel``, ``DestUniqueid``, ``DestChanVariable``) is the
member (agent) leg being rung. The case id is the channel variable ``IVR_CASE_ID``:
the agent leg has it only when the IVR set ``__IVR_CASE_ID`` (inherited) and never a
plain ``IVR_CASE_ID`` after it (that drops the inheritance), so we read it there first
and fall back to the caller's. An empty value means unset: Asterisk lists every
``channelvars`` entry on every channel event, ``ChanVariable: IVR_CASE_ID=``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypedDict

from ivr import channel_vars
from ivr.ami.protocol import Event

#: The channel variable the transfer sets (``__IVR_CASE_ID``) and manager.conf lists
#: in ``channelvars`` so it rides on every channel event (:mod:`ivr.channel_vars`).
CASE_ID_VARIABLE: Final = channel_vars.CASE_ID


class CompleteReason(StrEnum):
    """Who ended a connected queue call (``AgentComplete`` ``Reason``)."""

    CALLER = "caller"
    AGENT = "agent"
    TRANSFER = "transfer"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class QueueEvent:
    """What every queue event says about the call."""

    case_id: str | None
    """``IVR_CASE_ID`` of the agent leg, else of the caller; None when unset."""
    queue: str
    caller_uniqueid: str
    linkedid: str
    caller_channel: str
    caller_number: str

    @property
    def uniqueid(self) -> str:
        """The caller channel's Uniqueid (the name the architecture contract uses)."""
        return self.caller_uniqueid


@dataclass(frozen=True, slots=True)
class AgentEvent(QueueEvent):
    """A queue event about one member (agent) leg."""

    interface: str
    """Queue member interface as in queues.conf, e.g. ``Local/1001@agents``."""
    member_name: str
    agent_channel: str
    agent_uniqueid: str


@dataclass(frozen=True, slots=True)
class AgentRinging(AgentEvent):
    """``AgentCalled``: the member's phone is ringing for this caller."""


@dataclass(frozen=True, slots=True)
class AgentConnected(AgentEvent):
    """``AgentConnect``: the member answered and is bridged with the caller.

    It can arrive ~13 ms after the caller already hung up (then an ``AgentComplete``
    with reason ``caller`` follows at once): a pop must be ready to say the caller is gone.
    """

    hold_time: int | None
    ring_time: int | None


@dataclass(frozen=True, slots=True)
class AgentCompleted(AgentEvent):
    """``AgentComplete``: the bridged call ended."""

    hold_time: int | None
    talk_time: int | None
    reason: CompleteReason


@dataclass(frozen=True, slots=True)
class AgentRingNoAnswer(AgentEvent):
    """``AgentRingNoAnswer``: the member did not answer in the queue's ring timeout."""

    ring_time: int | None


@dataclass(frozen=True, slots=True)
class CallerAbandoned(QueueEvent):
    """``QueueCallerAbandon``: the caller hung up while waiting in the queue."""

    position: int | None
    original_position: int | None
    hold_time: int | None


@dataclass(frozen=True, slots=True)
class CallerLeft(QueueEvent):
    """``QueueCallerLeave``: the caller left the queue (answered, timed out or gone)."""

    position: int | None
    count: int | None


def _int(event: Event, name: str) -> int | None:
    raw = event.get(name)
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        return None


def case_id_of(event: Event) -> str | None:
    """``IVR_CASE_ID`` of the agent leg (``DestChanVariable``), else of the caller."""
    for variables in (event.dest_chan_vars, event.chan_vars):
        value = variables.get(CASE_ID_VARIABLE, "").strip()
        if value:
            return value
    return None


class _CommonFields(TypedDict):
    case_id: str | None
    queue: str
    caller_uniqueid: str
    linkedid: str
    caller_channel: str
    caller_number: str


class _AgentFields(_CommonFields):
    interface: str
    member_name: str
    agent_channel: str
    agent_uniqueid: str


def _common(event: Event) -> _CommonFields:
    return {
        "case_id": case_id_of(event),
        "queue": event.get("Queue") or "",
        "caller_uniqueid": event.get("Uniqueid") or "",
        "linkedid": event.get("Linkedid") or "",
        "caller_channel": event.get("Channel") or "",
        "caller_number": event.get("CallerIDNum") or "",
    }


def _agent(event: Event) -> _AgentFields:
    return {
        **_common(event),
        "interface": event.get("Interface") or "",
        "member_name": event.get("MemberName") or "",
        "agent_channel": event.get("DestChannel") or "",
        "agent_uniqueid": event.get("DestUniqueid") or "",
    }


def _reason(event: Event) -> CompleteReason:
    try:
        return CompleteReason((event.get("Reason") or "").strip().lower())
    except ValueError:
        return CompleteReason.UNKNOWN


#: AMI event names we turn into typed events (all of Login event class ``agent``).
QUEUE_EVENT_NAMES: Final = frozenset(
    {
        "AgentCalled",
        "AgentConnect",
        "AgentComplete",
        "AgentRingNoAnswer",
        "QueueCallerAbandon",
        "QueueCallerLeave",
    }
)


def queue_event_from(event: Event) -> QueueEvent | None:
    """The typed queue event for a raw AMI event, or None if it is not one of ours."""
    name = event.name
    if name == "AgentCalled":
        return AgentRinging(**_agent(event))
    if name == "AgentConnect":
        return AgentConnected(
            **_agent(event),
            hold_time=_int(event, "HoldTime"),
            ring_time=_int(event, "RingTime"),
        )
    if name == "AgentComplete":
        return AgentCompleted(
            **_agent(event),
            hold_time=_int(event, "HoldTime"),
            talk_time=_int(event, "TalkTime"),
            reason=_reason(event),
        )
    if name == "AgentRingNoAnswer":
        return AgentRingNoAnswer(
            **_agent(event),
            ring_time=_int(event, "RingTime"),
        )
    if name == "QueueCallerAbandon":
        return CallerAbandoned(
            **_common(event),
            position=_int(event, "Position"),
            original_position=_int(event, "OriginalPosition"),
            hold_time=_int(event, "HoldTime"),
        )
    if name == "QueueCallerLeave":
        return CallerLeft(
            **_common(event),
            position=_int(event, "Position"),
            count=_int(event, "Count"),
        )
    return None
