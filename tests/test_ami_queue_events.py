"""Typed queue events from the AMI events recorded during real queue calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.ami.protocol import AmiConnection, Event
from ivr.screenpop.queue_events import (
    AgentCompleted,
    AgentConnected,
    AgentRinging,
    AgentRingNoAnswer,
    CallerAbandoned,
    CallerLeft,
    CompleteReason,
    QueueEvent,
    case_id_of,
    queue_event_from,
)
from ivr.testing.ami_transcripts import recorded_events, transcript_bytes, with_case_id

CASES = {
    # transcript: (caller's IVR_CASE_ID, caller uniqueid, linkedid, agent uniqueid, talk time)
    "ami-during-queue-to-agent-continue.txt": (
        "C-2026-0042", "1795848894.21", "1795848894.20", "1795848895.22", 3,
    ),
    "ami-during-queue-to-agent-no-continue.txt": (
        "C-2026-0043", "1795848900.25", "1795848900.24", "1795848900.26", 4,
    ),
}


def events_of(path: Path) -> list[Event]:
    conn = AmiConnection()
    conn.receive_data(b"Asterisk Call Manager/11.0.0\r\n" + transcript_bytes(path))
    conn.receive_data(b"")
    return [m for m in conn.events() if isinstance(m, Event)]


def event_from_lines(lines: list[str]) -> Event:
    conn = AmiConnection()
    conn.receive_data(b"Asterisk Call Manager/11.0.0\r\n")
    conn.receive_data(("\r\n".join(lines) + "\r\n\r\n").encode())
    messages = [m for m in conn.events() if isinstance(m, Event)]
    return messages[0]


@pytest.mark.parametrize("name", sorted(CASES))
def test_recorded_queue_call_gives_typed_events(transcripts_dir: Path, name: str) -> None:
    case_id, caller_uid, linkedid, agent_uid, talk = CASES[name]
    typed = [q for e in events_of(transcripts_dir / name) if (q := queue_event_from(e))]
    assert [type(q) for q in typed] == [AgentRinging, CallerLeft, AgentConnected, AgentCompleted]
    ringing, left, connected, completed = typed
    assert isinstance(ringing, AgentRinging)
    assert isinstance(connected, AgentConnected)
    assert isinstance(completed, AgentCompleted)
    assert isinstance(left, CallerLeft)
    for q in typed:
        # the agent leg has no IVR_CASE_ID (set without "__"): fall back to the caller's
        assert q.case_id == case_id
        assert q.queue == "hotline"
        assert q.caller_uniqueid == caller_uid == q.uniqueid
        assert q.linkedid == linkedid
        assert q.caller_number == "0901234567"
        assert q.caller_channel.startswith("Local/s@hotline-") and q.caller_channel.endswith(";2")
    for a in (ringing, connected, completed):
        assert a.interface == "Local/1001@agents"
        assert a.member_name == "Agent 1001"
        assert a.agent_uniqueid == agent_uid
        assert a.agent_channel.startswith("Local/1001@agents-")
    assert (connected.hold_time, connected.ring_time) == (0, 0)
    assert (completed.hold_time, completed.talk_time) == (0, talk)
    assert completed.reason is CompleteReason.AGENT
    assert (left.position, left.count) == (1, 0)


def test_agent_leg_case_id_wins_when_inherited(transcripts_dir: Path) -> None:
    # With __IVR_CASE_ID the agent leg carries it (DestChanVariable); it takes precedence.
    [lines] = recorded_events(
        transcripts_dir / "ami-during-queue-to-agent-continue.txt", ["AgentConnect"]
    )
    event = event_from_lines(with_case_id(lines, "C-AGENT-7"))
    assert event.dest_chan_vars == {"IVR_CASE_ID": "C-AGENT-7"}
    connected = queue_event_from(event)
    assert isinstance(connected, AgentConnected) and connected.case_id == "C-AGENT-7"
    only_agent = [
        "ChanVariable: IVR_CASE_ID=" if line.startswith("ChanVariable:") else line
        for line in with_case_id(lines, "C-AGENT-8")
    ]
    assert case_id_of(event_from_lines(only_agent)) == "C-AGENT-8"


def test_no_case_id_anywhere_is_none(transcripts_dir: Path) -> None:
    [lines] = recorded_events(
        transcripts_dir / "ami-during-queue-to-agent-continue.txt", ["AgentCalled"]
    )
    ringing = queue_event_from(event_from_lines(with_case_id(lines, "")))
    assert isinstance(ringing, AgentRinging) and ringing.case_id is None


def test_caller_gone_just_as_the_queue_starts(transcripts_dir: Path) -> None:
    # Asterisk can still send AgentConnect ~13 ms after the caller hung up, then
    # AgentComplete with Reason: caller. Both map, so the pop can say "caller gone".
    path = transcripts_dir / "ami-during-queue-to-agent-continue.txt"
    [complete] = recorded_events(path, ["AgentComplete"])
    lines = ["Reason: caller" if line.startswith("Reason:") else line for line in complete]
    completed = queue_event_from(event_from_lines(with_case_id(lines, "C-9")))
    assert isinstance(completed, AgentCompleted)
    assert completed.reason is CompleteReason.CALLER and completed.case_id == "C-9"
    odd = ["Reason: martians" if line.startswith("Reason:") else line for line in complete]
    weird = queue_event_from(event_from_lines(odd))
    assert isinstance(weird, AgentCompleted) and weird.reason is CompleteReason.UNKNOWN


def test_abandon_and_ring_no_answer() -> None:
    abandon = event_from_lines([
        "Event: QueueCallerAbandon", "Privilege: agent,all", "Channel: Local/s@hotline-1;2",
        "Uniqueid: 1.1", "Linkedid: 1.0", "ChanVariable: IVR_CASE_ID=C-5", "Queue: safety",
        "Position: 2", "OriginalPosition: 3", "HoldTime: 41",
    ])
    q = queue_event_from(abandon)
    assert q == CallerAbandoned(
        case_id="C-5", queue="safety", caller_uniqueid="1.1", linkedid="1.0",
        caller_channel="Local/s@hotline-1;2", caller_number="", position=2,
        original_position=3, hold_time=41,
    )
    rna = event_from_lines([
        "Event: AgentRingNoAnswer", "Privilege: agent,all", "Uniqueid: 1.1",
        "ChanVariable: IVR_CASE_ID=", "DestChanVariable: IVR_CASE_ID=C-6", "Queue: hotline",
        "Interface: Local/1002@agents", "MemberName: Agent 1002", "RingTime: 15",
    ])
    r = queue_event_from(rna)
    assert isinstance(r, AgentRingNoAnswer)
    assert (r.case_id, r.interface, r.ring_time) == ("C-6", "Local/1002@agents", 15)


def test_other_events_are_not_queue_events(transcripts_dir: Path) -> None:
    events = events_of(transcripts_dir / "ami-during-queue-to-agent-no-continue.txt")
    others = [e for e in events if e.name not in {
        "AgentCalled", "AgentConnect", "AgentComplete", "QueueCallerLeave",
    }]
    assert others and all(queue_event_from(e) is None for e in others)


def test_queue_events_are_frozen() -> None:
    q: QueueEvent = CallerLeft("C", "hotline", "1", "1", "ch", "", 1, 0)
    with pytest.raises(AttributeError):
        q.queue = "other"  # type: ignore[misc]
