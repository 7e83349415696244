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


# ---- the queues' state, as QueueStatus / QueueSummary report it --------------------

#: ``ast_device_state`` values QueueMember's ``Status`` carries (include/asterisk/devicestate.h).
DEVICE_NOT_INUSE = 1
DEVICE_INUSE = 2
DEVICE_RINGING = 6


@dataclass(slots=True)
class MemberState:
    """One queue member as ``app_queue`` keeps it (``struct member``)."""

    interface: str
    name: str
    status: int = DEVICE_NOT_INUSE
    in_call: bool = False
    """``mem->starttime`` set: the member answered and is talking (``InCall: 1``)."""
    calls: int = 0
    last_call: int = 0
    paused: bool = False
    login_time: int = 0


@dataclass(slots=True)
class EntryState:
    """One caller waiting in a queue (``struct queue_ent``)."""

    channel: str
    uniqueid: str
    callerid: str
    calleridname: str
    start: float


@dataclass(slots=True)
class QueueState:
    """One queue's members, callers waiting and counters, moved along by the queue events
    the fake server sends (so QueueStatus answers what the events said happened)."""

    name: str
    members: list[MemberState]
    strategy: str = "ringall"
    entries: list[EntryState] = field(default_factory=list)
    completed: int = 0
    abandoned: int = 0

    def member(self, interface: str) -> MemberState | None:
        wanted = interface.lower()
        return next((m for m in self.members if m.interface.lower() == wanted), None)

    def apply(self, event: str, fields: Mapping[str, str], now: float) -> None:
        """Move the state along one ``agent``-class queue event (app_queue's own order)."""
        uniqueid = fields.get("Uniqueid", "")
        member = self.member(fields.get("Interface", ""))
        if event == "QueueCallerJoin":
            self.entries.append(EntryState(fields.get("Channel", ""), uniqueid,
                                           fields.get("CallerIDNum", ""),
                                           fields.get("CallerIDName", ""), now))
        elif event in ("QueueCallerLeave", "QueueCallerAbandon"):
            self.entries = [e for e in self.entries if e.uniqueid != uniqueid]
            if event == "QueueCallerAbandon":
                self.abandoned += 1
                for m in self.members:  # the ring of that caller stops
                    if m.status == DEVICE_RINGING and not m.in_call:
                        m.status = DEVICE_NOT_INUSE
        elif member is None:
            return
        elif event == "AgentCalled":
            member.status = DEVICE_RINGING
        elif event == "AgentRingNoAnswer":
            member.status = DEVICE_NOT_INUSE
        elif event == "AgentConnect":
            member.status, member.in_call = DEVICE_INUSE, True
        elif event == "AgentComplete":
            member.status, member.in_call = DEVICE_NOT_INUSE, False
            member.calls += 1
            member.last_call = int(now)
            self.completed += 1

    def status_events(self, aid: Sequence[str], now: float,
                      member_filter: str = "") -> list[list[str]]:
        """``manager_queues_status``: QueueParams, its QueueMember and QueueEntry events."""
        blocks = [[
            "Event: QueueParams", f"Queue: {self.name}", "Max: 0",
            f"Strategy: {self.strategy}", f"Calls: {len(self.entries)}", "Holdtime: 0",
            "TalkTime: 0", f"Completed: {self.completed}", f"Abandoned: {self.abandoned}",
            "ServiceLevel: 0", "ServicelevelPerf: 0.0", "ServicelevelPerf2: 0.0",
            "Weight: 0", *aid,
        ]]
        for m in self.members:
            if member_filter and member_filter not in (m.interface, m.name):
                continue
            blocks.append([
                "Event: QueueMember", f"Queue: {self.name}", f"Name: {m.name}",
                f"Location: {m.interface}", f"StateInterface: {m.interface}",
                "Membership: static", "Penalty: 0", f"CallsTaken: {m.calls}",
                f"LastCall: {m.last_call}", "LastPause: 0", f"LoginTime: {m.login_time}",
                f"InCall: {int(m.in_call)}", f"Status: {m.status}", f"Paused: {int(m.paused)}",
                "PausedReason: ", "Wrapuptime: 0", *aid,
            ])
        for position, e in enumerate(self.entries, 1):
            blocks.append([
                "Event: QueueEntry", f"Queue: {self.name}", f"Position: {position}",
                f"Channel: {e.channel}", f"Uniqueid: {e.uniqueid}",
                f"CallerIDNum: {e.callerid or 'unknown'}",
                f"CallerIDName: {e.calleridname or 'unknown'}",
                # Queue sets the connected line to the caller only when a member answers.
                "ConnectedLineNum: unknown", "ConnectedLineName: unknown",
                f"Wait: {int(now - e.start)}", "Priority: 0", *aid,
            ])
        return blocks

    def summary_event(self, aid: Sequence[str], now: float) -> list[str]:
        """``manager_queues_summary``: members not unavailable, free and unpaused ones,
        callers waiting and the longest wait."""
        available = [m for m in self.members
                     if m.status == DEVICE_NOT_INUSE and not m.paused and not m.in_call]
        longest = max((int(now - e.start) for e in self.entries), default=0)
        return [
            "Event: QueueSummary", f"Queue: {self.name}", f"LoggedIn: {len(self.members)}",
            f"Available: {len(available)}", f"Callers: {len(self.entries)}", "HoldTime: 0",
            "TalkTime: 0", f"LongestHoldTime: {longest}", *aid,
        ]
