"""What a screen pop says happened, and how queue events map onto it."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ivr.screenpop.queue_events import (
    AgentCompleted,
    AgentConnected,
    AgentEvent,
    AgentRinging,
    AgentRingNoAnswer,
    CallerAbandoned,
    CompleteReason,
)


class PopState(enum.Enum):
    """The state a pop card shows."""

    RINGING = "ringing"
    """The agent's phone (or console) is being offered the call."""
    CONNECTED = "connected"
    """The agent answered; the caller is on the line."""
    CALLER_GONE = "caller_gone"
    """The caller hung up before (or just as) the agent answered."""
    COMPLETED = "completed"
    """The conversation ended."""
    MISSED = "missed"
    """The offer rang out unanswered and went to the next agent (built-in queue)."""


@dataclass(frozen=True, slots=True)
class PopEvent:
    """A queue event reduced to what the dispatcher needs."""

    state: PopState
    case_id: str
    interface: str
    queue: str = ""
    uniqueid: str = ""
    reason: str = ""


#: ``AgentComplete`` with ``Reason: caller`` and at most this much talk time means the
#: caller hung up as the agent answered (Asterisk can still send ``AgentConnect`` ~13 ms
#: after the caller left): the card must say the caller is gone, not "call ended".
CALLER_GONE_TALK_SECONDS = 1


def pop_event_from(event: object) -> PopEvent | None:
    """The pop a typed AMI queue event stands for, or None for events that pop nothing."""
    if isinstance(event, AgentRinging):
        return _agent_pop(PopState.RINGING, event)
    if isinstance(event, AgentConnected):
        return _agent_pop(PopState.CONNECTED, event)
    if isinstance(event, AgentRingNoAnswer):
        return _agent_pop(PopState.MISSED, event, "no answer")
    if isinstance(event, AgentCompleted):
        reason = event.reason.value
        gone = (event.reason is CompleteReason.CALLER
                and (event.talk_time or 0) <= CALLER_GONE_TALK_SECONDS)
        return _agent_pop(PopState.CALLER_GONE if gone else PopState.COMPLETED, event, reason)
    if isinstance(event, CallerAbandoned):
        # QueueCallerAbandon names no member: the dispatcher finds who was ringing.
        return PopEvent(PopState.CALLER_GONE, event.case_id or "", "", event.queue,
                        event.caller_uniqueid, "caller")
    return None


def _agent_pop(state: PopState, event: AgentEvent, reason: str = "") -> PopEvent:
    return PopEvent(state, event.case_id or "", event.interface, event.queue,
                    event.caller_uniqueid, reason)
