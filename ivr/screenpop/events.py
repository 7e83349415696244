"""The one shape a screen pop has, and how an AMI queue event becomes it.

A pop says *this agent interface* is now *in this state* for *this case*. Asterisk's
``app_queue`` events (Login event class ``agent``) and the built-in queue
(:mod:`ivr.screenpop.builtin_queue`) both produce :class:`PopEvent`; nothing downstream
knows which one it came from.

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

import enum
from dataclasses import dataclass, field
from typing import Final

from ivr import channel_vars
from ivr.ami.protocol import Event


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
    """The offer rang out unanswered and went to the next agent."""


@dataclass(frozen=True, slots=True)
class PopEvent:
    """A queue event reduced to what the dispatcher reads."""

    state: PopState
    case_id: str
    """``IVR_CASE_ID``; empty when the call carries none (nothing to show)."""
    interface: str
    """Queue member interface as in queues.conf (``Local/1001@agents``); empty when the
    event names no member (``QueueCallerAbandon``: the case's last agent is meant)."""
    reason: str = ""
    """Why it ended, for the case's history: ``AgentComplete``'s ``Reason`` (caller,
    agent, transfer, unknown) or ``no answer``."""
    uniqueid: str = field(default="", compare=False)
    """The caller channel's ``Uniqueid`` (AMI only): after a reconnect the re-sync finds
    the caller among ``QueueStatus``'s ``QueueEntry`` events by it."""
    queue: str = field(default="", compare=False)
    """The queue the event is from (AMI only)."""


#: ``AgentComplete`` with ``Reason: caller`` and at most this much talk time means the
#: caller hung up as the agent answered (Asterisk can still send ``AgentConnect`` ~13 ms
#: after the caller left): the card must say the caller is gone, not "call ended".
CALLER_GONE_TALK_SECONDS = 1
#: ``AgentComplete`` ``Reason`` values app_queue sends; anything else is ``unknown``.
COMPLETE_REASONS: Final = frozenset({"caller", "agent", "transfer"})
#: AMI event name -> the state it pops (``AgentComplete`` decides between two).
AGENT_EVENTS: Final = {
    "AgentCalled": PopState.RINGING,
    "AgentConnect": PopState.CONNECTED,
    "AgentRingNoAnswer": PopState.MISSED,
    "AgentComplete": PopState.COMPLETED,
}


def pop_from_ami(event: Event) -> PopEvent | None:
    """The pop an AMI event stands for, or None for events that pop nothing
    (``QueueCallerLeave`` among them: the caller left the queue because someone answered,
    or gave up, and those have events of their own)."""
    case_id = case_id_of(event) or ""
    # The first channel of a queue event is the caller's (see the module docstring).
    where = {"uniqueid": event.get("Uniqueid") or "", "queue": event.get("Queue") or ""}
    if event.name == "QueueCallerAbandon":
        # It names no member: the dispatcher finds who was ringing from the case.
        return PopEvent(PopState.CALLER_GONE, case_id, "", "caller", **where)
    state = AGENT_EVENTS.get(event.name)
    if state is None:
        return None
    interface = event.get("Interface") or ""
    if state is PopState.MISSED:
        return PopEvent(state, case_id, interface, "no answer", **where)
    if state is PopState.COMPLETED:
        reason = (event.get("Reason") or "").strip().lower()
        reason = reason if reason in COMPLETE_REASONS else "unknown"
        if reason == "caller" and (_int(event, "TalkTime") or 0) <= CALLER_GONE_TALK_SECONDS:
            state = PopState.CALLER_GONE
        return PopEvent(state, case_id, interface, reason, **where)
    return PopEvent(state, case_id, interface, **where)


def case_id_of(event: Event) -> str | None:
    """``IVR_CASE_ID`` of the agent leg (``DestChanVariable``), else of the caller."""
    for variables in (event.dest_chan_vars, event.chan_vars):
        value = variables.get(channel_vars.CASE_ID, "").strip()
        if value:
            return value
    return None


def _int(event: Event, name: str) -> int | None:
    raw = event.get(name)
    if raw is None:
        return None
    try:
        return int(raw.strip())
    except ValueError:
        return None
