"""The AMI ``agent``-class events of one queue call, in Asterisk 22's field order.

Every block is built as ami-during-queue-to-agent-continue.txt shows it: the caller's
channel snapshot (``Channel`` ... ``Linkedid`` and one ``ChanVariable`` per manager.conf
``channelvars`` entry, empty when unset), for member events the agent channel's snapshot
with the ``Dest`` prefix (``DestChanVariable`` carries only what the agent's channel
*inherited*), then the event's own fields. ``tests/test_ami_fake_server.py`` checks the
blocks against the recording byte for byte. ``QueueCallerAbandon`` was not recorded; its
fields are Asterisk 22's documented ones (Queue, Position, OriginalPosition, HoldTime).

:func:`queue_run_events` turns a :class:`~ivr.testing.fake_queue.QueueRun` from the fake
Asterisk into the sequence a real one sends for how that run ended.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from ivr.testing.fake_queue import QueueEnd, QueueRun

STATE_DESC = {0: "Down", 4: "Ring", 6: "Up"}
AGENT = "Privilege: agent,all"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One channel as an AMI event describes it."""

    channel: str
    uniqueid: str
    linkedid: str
    callerid: str
    calleridname: str
    context: str
    exten: str
    priority: str
    state: int = 6
    language: str = "en"
    accountcode: str = ""
    variables: Mapping[str, str] = field(default_factory=dict)

    def lines(self, channelvars: Sequence[str], prefix: str = "") -> list[str]:
        p = prefix
        return [
            f"{p}Channel: {self.channel}", f"{p}ChannelState: {self.state}",
            f"{p}ChannelStateDesc: {STATE_DESC.get(self.state, 'Unknown')}",
            f"{p}CallerIDNum: {self.callerid}", f"{p}CallerIDName: {self.calleridname}",
            # Queue sets the connected line of both legs to the caller (recording).
            f"{p}ConnectedLineNum: {self.callerid}",
            f"{p}ConnectedLineName: {self.calleridname}",
            f"{p}Language: {self.language}", f"{p}AccountCode: {self.accountcode}",
            f"{p}Context: {self.context}", f"{p}Exten: {self.exten}",
            f"{p}Priority: {self.priority}", f"{p}Uniqueid: {self.uniqueid}",
            f"{p}Linkedid: {self.linkedid}",
            *(f"{p}ChanVariable: {v}={self.variables.get(v, '')}" for v in channelvars),
        ]


@dataclass(frozen=True, slots=True)
class Member:
    """The queue member being rung: interface, name, and its channel."""

    interface: str
    name: str
    channel: Snapshot


def caller_join(caller: Snapshot, queue: str, channelvars: Sequence[str]) -> list[str]:
    return ["Event: QueueCallerJoin", AGENT, *caller.lines(channelvars),
            f"Queue: {queue}", "Position: 1", "Count: 1"]


def caller_leave(caller: Snapshot, queue: str, channelvars: Sequence[str]) -> list[str]:
    return ["Event: QueueCallerLeave", AGENT, *caller.lines(channelvars),
            f"Queue: {queue}", "Position: 1", "Count: 0"]


def caller_abandon(caller: Snapshot, queue: str, channelvars: Sequence[str],
                   hold_time: int = 0) -> list[str]:
    return ["Event: QueueCallerAbandon", AGENT, *caller.lines(channelvars),
            f"Queue: {queue}", "Position: 1", "OriginalPosition: 1", f"HoldTime: {hold_time}"]


def _member_event(name: str, caller: Snapshot, member: Member, queue: str,
                  channelvars: Sequence[str]) -> list[str]:
    return [f"Event: {name}", AGENT, *caller.lines(channelvars),
            *member.channel.lines(channelvars, "Dest"), f"Queue: {queue}",
            f"Interface: {member.interface}", f"MemberName: {member.name}"]


def agent_called(caller: Snapshot, member: Member, queue: str,
                 channelvars: Sequence[str]) -> list[str]:
    return _member_event("AgentCalled", caller, member, queue, channelvars)


def agent_connect(caller: Snapshot, member: Member, queue: str, channelvars: Sequence[str],
                  hold_time: int = 0, ring_time: int = 0) -> list[str]:
    return [*_member_event("AgentConnect", caller, member, queue, channelvars),
            f"HoldTime: {hold_time}", f"RingTime: {ring_time}"]


def agent_complete(caller: Snapshot, member: Member, queue: str, channelvars: Sequence[str],
                   talk_time: int, reason: str, hold_time: int = 0) -> list[str]:
    return [*_member_event("AgentComplete", caller, member, queue, channelvars),
            f"HoldTime: {hold_time}", f"TalkTime: {talk_time}", f"Reason: {reason}"]


def member_name(interface: str) -> str:
    """``Local/1001@agents`` -> ``Agent 1001`` (the recording's queues.conf names)."""
    return f"Agent {interface.partition('/')[2].partition('@')[0]}"


def agent_channel_name(interface: str, sequence: int) -> str:
    """The channel Queue creates for a member: ``Local/1001@agents-0000000b;1``."""
    local = interface.startswith("Local/")
    return f"{interface}-{sequence:08x}" + (";1" if local else "")


def queue_run_events(run: QueueRun, channelvars: Sequence[str], *, sequence: int,
                     agent_uniqueid: str) -> list[list[str]]:
    """The agent-class events a real Asterisk 22 sends for ``run``, in order."""
    caller = Snapshot(run.caller_channel, run.caller_uniqueid, run.caller_uniqueid,
                      run.callerid, run.calleridname, run.context, run.exten, run.priority,
                      variables=run.caller_vars)
    context = run.member.partition("@")[2] or "default"
    ringing = Snapshot(agent_channel_name(run.member, sequence), agent_uniqueid,
                       run.caller_uniqueid, run.callerid, run.calleridname, context, "s",
                       "1", state=0, variables=run.agent_vars)
    rung = Member(run.member, member_name(run.member), ringing)
    up = replace(rung, channel=replace(ringing, state=6))
    q, cv = run.queue, channelvars
    if not run.joined:
        return []
    events = [caller_join(caller, q, cv)]
    if run.agent_rang:
        events.append(agent_called(caller, rung, q, cv))
    if run.end is QueueEnd.ABANDONED:
        return [*events, caller_abandon(caller, q, cv)]
    events.append(caller_leave(caller, q, cv))
    if run.end is QueueEnd.UNANSWERED:
        return events
    reason = "agent" if run.end is QueueEnd.ANSWERED else "caller"
    return [*events, agent_connect(caller, up, q, cv),
            agent_complete(caller, up, q, cv, run.talk_seconds, reason)]
